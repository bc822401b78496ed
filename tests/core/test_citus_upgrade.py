"""Migrations after ``citus_distribute``: a distributed schema takes the later key changes.

Runs when CITUS_DATABASE_URL names a Citus coordinator, on a database of its
own (see tests/core/test_citus.py).
"""

import os
import unittest

from django.test import SimpleTestCase

from tests.core.test_citus import CITUS_DATABASE_URL, CitusDatabase, manage

# The last migration of each app before the primary keys put ``id`` first.
OWNER_FIRST = (
    ("events", "0003"),
    ("idempotency", "0003"),
    ("orders", "0003"),
    ("outbox", "0003"),
    ("uploads", "0002"),
)
ID_FIRST = (
    "events_event",
    "events_webhookdelivery",
    "idempotency_idempotencykey",
    "orders_order",
    "orders_orderevent",
    "outbox_outboxmessage",
    "uploads_photo",
)


@unittest.skipUnless(
    CITUS_DATABASE_URL, "needs CITUS_DATABASE_URL naming a Citus coordinator"
)
class CitusUpgradeTests(SimpleTestCase):
    def test_distributed_tables_take_the_id_first_primary_keys(self):
        db = CitusDatabase(CITUS_DATABASE_URL, f"test_idem_upgrade_{os.getpid()}")
        self.addCleanup(db.drop)
        for args in (
            ("migrate", "--noinput", "-v", "0"),
            *(("migrate", app, name, "-v", "0") for app, name in OWNER_FIRST),
            ("citus_distribute",),
        ):
            done = manage(db.url, *args)
            self.assertEqual(done.returncode, 0, done.stderr)
        user = db.query(
            "INSERT INTO accounts_user (password, is_superuser, email, name,"
            " client_id, is_staff, is_active, date_joined)"
            " VALUES ('', false, 'ada@example.com', 'Ada', gen_random_uuid()::text,"
            " false, true, now()) RETURNING id"
        )[0][0]
        db.query(
            "INSERT INTO orders_order (owner_id, client_id, product_id, quantity,"
            " status, created_at, updated_at)"
            " VALUES (%s, 'c-1', 7, 2, 'pending', now(), now()) RETURNING id",
            [user],
        )

        done = manage(db.url, "migrate", "--noinput")
        self.assertEqual(done.returncode, 0, done.stderr)

        keys = dict(
            db.query(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE contype = 'p'"
            )
        )
        for table in ID_FIRST:
            with self.subTest(table=table):
                self.assertEqual(keys[table], "PRIMARY KEY (id, owner_id)")
        distributed = {
            row[0]
            for row in db.query(
                "SELECT logicalrelid::regclass::text FROM pg_dist_partition"
                " WHERE partmethod = 'h'"
            )
        }
        self.assertLessEqual(set(ID_FIRST), distributed)
        self.assertEqual(
            db.query("SELECT owner_id, client_id FROM orders_order"), [(user, "c-1")]
        )
        again = manage(db.url, "citus_distribute")
        self.assertEqual(again.returncode, 0, again.stderr)
