from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient


class SignUpStatementTests(TestCase):
    def test_the_welcome_mail_adds_one_statement_to_a_sign_up(self):
        body = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
        with CaptureQueriesContext(connection) as queries:
            response = APIClient().post("/api/users/", body, format="json")
        self.assertEqual(response.status_code, 201)
        statements = [q["sql"] for q in queries]
        outbox = [sql for sql in statements if "outbox_outboxmessage" in sql]
        self.assertEqual(len(outbox), 1, statements)
        self.assertTrue(outbox[0].startswith("INSERT"))
        # Besides savepoints, the only other statement is the user's INSERT
        # (and the user.created event's, tests/events).
        others = [
            sql.split()[0]
            for sql in statements
            if sql not in outbox
            and "events_event" not in sql
            and not sql.startswith(("SAVEPOINT", "RELEASE"))
        ]
        self.assertEqual(others, ["INSERT"])
