"""DATABASE_TRANSACTION_POOLING: the settings it changes, and the timeouts per transaction."""

import json
import sys
import time
import unittest
from uuid import uuid4

from django.db import DataError, OperationalError, connection, transaction
from django.test import SimpleTestCase, TransactionTestCase, override_settings
from psycopg.pq import TransactionStatus

from core.database import database_unavailable
from core.pooling import transaction_timeouts
from tests.project.test_database_failures import LockedTable
from tests.project.test_startup import manage, run

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "options": db["OPTIONS"].get("options"),
    "prepare_threshold": db["OPTIONS"].get("prepare_threshold", "absent"),
    "server_side_binding": db["OPTIONS"].get("server_side_binding"),
    "server_side_cursors_off": db.get("DISABLE_SERVER_SIDE_CURSORS", False),
}))
"""
needs_postgresql = unittest.skipIf(
    connection.vendor != "postgresql",
    "needs PostgreSQL: statement_timeout and lock_timeout are its settings",
)
URL = "postgres://someone@db.example:6432/idem"


def read_settings(**env):
    return run(
        [sys.executable, "-c", PROBE],
        DJANGO_SETTINGS_MODULE="idem_project.settings",
        **env,
    )


class PoolingSettingsTests(SimpleTestCase):
    def read(self, **env):
        result = read_settings(**env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def test_off_every_connection_carries_its_timeouts_in_its_start_up_options(self):
        values = self.read(DATABASE_URL=URL, DATABASE_STATEMENT_TIMEOUT="4")
        self.assertEqual(
            values["options"], "-c statement_timeout=4000 -c lock_timeout=4000"
        )
        self.assertEqual(values["prepare_threshold"], 5)
        self.assertFalse(values["server_side_cursors_off"])

    def test_off_parameters_are_bound_by_the_server_unless_turned_off(self):
        self.assertTrue(self.read(DATABASE_URL=URL)["server_side_binding"])
        values = self.read(DATABASE_URL=URL, DATABASE_SERVER_SIDE_BINDING="0")
        self.assertFalse(values["server_side_binding"])

    def test_on_no_start_up_options_nothing_prepared_no_server_side_cursor(self):
        values = self.read(DATABASE_URL=URL, DATABASE_TRANSACTION_POOLING="1")
        self.assertIsNone(values["options"])
        self.assertIsNone(values["prepare_threshold"])
        self.assertFalse(values["server_side_binding"])
        self.assertTrue(values["server_side_cursors_off"])

    def test_server_side_binding_with_pooling_stops_start_up_with_one_line(self):
        result = manage(
            "check",
            DATABASE_URL=URL,
            DATABASE_TRANSACTION_POOLING="1",
            DATABASE_SERVER_SIDE_BINDING="1",
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(
            result.stderr.strip(),
            "DATABASE_SERVER_SIDE_BINDING: expected 0 with "
            "DATABASE_TRANSACTION_POOLING=1, got '1'",
        )


def current_timeouts():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        return cursor.fetchone()


def session_timeouts():
    """Read the timeouts on the psycopg connection, past Django's wrappers."""
    return connection.connection.execute(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
    ).fetchone()


def status():
    return connection.connection.info.transaction_status


@needs_postgresql
@override_settings(DATABASE_STATEMENT_TIMEOUT=0.3)
class TransactionTimeoutsTests(TransactionTestCase):
    """The wrapper on the test's own connection, straight to PostgreSQL."""

    def setUp(self):
        connection.ensure_connection()
        self.session = session_timeouts()  # the start-up options' values
        wrapper = connection.execute_wrapper(transaction_timeouts)
        wrapper.__enter__()
        self.addCleanup(wrapper.__exit__, None, None, None)

    def test_a_statement_in_autocommit_gets_a_transaction_with_the_timeouts(self):
        self.assertEqual(current_timeouts(), ("300ms", "300ms"))
        self.assertEqual(status(), TransactionStatus.IDLE)
        # The session keeps its own values: SET LOCAL ended with the transaction.
        self.assertEqual(session_timeouts(), self.session)

    def test_a_transaction_sets_them_before_its_first_statement(self):
        with transaction.atomic():
            self.assertEqual(current_timeouts(), ("300ms", "300ms"))
            with transaction.atomic():
                self.assertEqual(current_timeouts(), ("300ms", "300ms"))

    def test_a_long_statement_is_cut_in_autocommit_and_the_connection_stays_usable(
        self,
    ):
        started = time.monotonic()
        with self.assertRaises(OperationalError) as caught, connection.cursor() as c:
            c.execute("SELECT pg_sleep(5)")
        self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(caught.exception.__cause__.sqlstate, "57014")
        self.assertTrue(database_unavailable(caught.exception))
        self.assertEqual(status(), TransactionStatus.IDLE)
        self.assertEqual(current_timeouts(), ("300ms", "300ms"))

    def test_a_lock_wait_in_a_transaction_is_cut(self):
        with (
            LockedTable("orders_order"),
            self.assertRaises(OperationalError) as caught,
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT count(*) FROM orders_order")
        # Both timeouts are equal: whichever PostgreSQL checks first cuts it.
        self.assertIn(caught.exception.__cause__.sqlstate, {"55P03", "57014"})
        self.assertTrue(database_unavailable(caught.exception))

    def test_a_failing_statement_in_autocommit_is_rolled_back(self):
        with self.assertRaises(DataError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        self.assertEqual(status(), TransactionStatus.IDLE)
        self.assertEqual(current_timeouts(), ("300ms", "300ms"))

    def test_a_statement_postgresql_runs_only_outside_a_transaction_runs_alone(self):
        name = f"idem_pooling_{uuid4().hex[:8]}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
            cursor.execute(f'DROP DATABASE "{name}"')
        self.assertEqual(status(), TransactionStatus.IDLE)
