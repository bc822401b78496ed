"""core.W001: more connections than the database allows."""

import unittest

from django.db import connection
from django.test import TestCase, override_settings

from core.checks import check_connection_limit, connections_allowed
from tests.project.test_startup import manage
from tests.servers import free_port

needs_postgresql = unittest.skipIf(
    connection.vendor != "postgresql",
    "needs PostgreSQL: the check reads its connection limits",
)


@needs_postgresql
class ConnectionLimitCheckTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.allowed = connections_allowed()
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_connections")
            cls.maximum = int(cursor.fetchone()[0])

    def test_the_limit_is_the_servers_less_the_reserved_slots_for_a_plain_role(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            superuser = cursor.fetchone()[0]
        self.assertEqual(self.allowed < self.maximum, not superuser)

    def test_within_the_limit_no_warning(self):
        with override_settings(DATABASE_MAX_PROCESSES=1, DATABASE_POOL_SIZE=1):
            self.assertEqual(check_connection_limit(databases=["default"]), [])

    def test_past_the_limit_a_warning_names_both_numbers(self):
        pool = self.allowed // 4 + 1
        with override_settings(DATABASE_MAX_PROCESSES=4, DATABASE_POOL_SIZE=pool):
            (warning,) = check_connection_limit(databases=["default"])
        self.assertEqual(warning.id, "core.W001")
        self.assertIn(f"may open {4 * pool} connections", warning.msg)
        self.assertIn(f"allows this role {self.allowed}", warning.msg)

    def test_a_database_connection_limit_lowers_the_limit(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                self.skipTest("a superuser ignores connection limits")
            # Inside the test's transaction: rolled back at its end.
            name = connection.settings_dict["NAME"]
            cursor.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT 7')
        self.assertEqual(connections_allowed(), 7)
        with override_settings(DATABASE_MAX_PROCESSES=2, DATABASE_POOL_SIZE=4):
            self.assertEqual(len(check_connection_limit(databases=["default"])), 1)

    def test_no_check_without_the_database_or_behind_a_transaction_pooler(self):
        with override_settings(DATABASE_MAX_PROCESSES=10**6):
            self.assertEqual(check_connection_limit(databases=None), [])
            with override_settings(DATABASE_TRANSACTION_POOLING=True):
                self.assertEqual(check_connection_limit(databases=["default"]), [])


class ConnectionLimitCheckSilenceTests(TestCase):
    def test_on_sqlite_nothing_is_read(self):
        if connection.vendor != "sqlite":
            self.skipTest("SQLite only")
        self.assertIsNone(connections_allowed())
        with override_settings(DATABASE_MAX_PROCESSES=10**6):
            self.assertEqual(check_connection_limit(databases=["default"]), [])

    def test_a_database_that_does_not_answer_is_skipped_silently(self):
        result = manage(
            "check",
            "--database",
            "default",
            DATABASE_URL=f"postgres://idem@127.0.0.1:{free_port()}/idem",
            DATABASE_MAX_PROCESSES="1000",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("core.W001", result.stdout + result.stderr)
