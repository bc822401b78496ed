"""The plans against the rules Citus enforces, checked in the catalog of plain PostgreSQL."""

import unittest
from io import StringIO

from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase

from core.citus import (
    CoordinatorLocal,
    Distributed,
    PlanError,
    Reference,
    model_plan,
    plan_parse,
    table_plans,
)
from idempotency.models import IdempotencyKey
from orders.models import Order

#: Django's own bookkeeping stays a plain table on the coordinator.
UNPLANNED = {"django_migrations"}


def catalog(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class PlanTests(TestCase):
    def test_every_model_has_a_plan_and_distributed_ones_name_a_field(self):
        plans = {p.table: p for p in table_plans()}
        self.assertEqual(plans["orders_order"].column, "owner_id")
        self.assertEqual(plans["idempotency_idempotencykey"].column, "owner_id")
        self.assertIsInstance(plans["accounts_user"].plan, Reference)
        self.assertIsInstance(plans["idem_cache"].plan, CoordinatorLocal)
        self.assertEqual(plans["events_event"].column, "owner_id")
        self.assertEqual(plans["events_webhookdelivery"].column, "owner_id")
        self.assertIsInstance(plans["events_webhookendpoint"].plan, Reference)

    def test_plain_data_reads_as_the_same_plan(self):
        self.assertEqual(model_plan(IdempotencyKey), Distributed(by="owner_id"))
        self.assertEqual(model_plan(Order), Distributed(by="owner"))
        self.assertEqual(plan_parse({"kind": "reference"}, label="x"), Reference())
        for bad in ({"kind": "sharded"}, {"kind": "distributed"}, "reference"):
            with self.subTest(bad=bad), self.assertRaises(PlanError):
                plan_parse(bad, label="x")


@unittest.skipUnless(connection.vendor == "postgresql", "reads PostgreSQL's catalog")
class CatalogTests(TestCase):
    """What ``create_distributed_table`` and foreign keys on Citus would refuse."""

    @classmethod
    def setUpTestData(cls):
        cls.plans = {p.table: p for p in table_plans()}
        cls.distributed = {
            t: p.column for t, p in cls.plans.items() if isinstance(p.plan, Distributed)
        }

    def kind(self, table):
        return self.plans[table].plan.kind

    def test_every_table_has_a_plan_and_every_plan_a_table(self):
        tables = {
            name
            for (name,) in catalog(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        self.assertEqual(tables - UNPLANNED, set(self.plans))

    def test_every_unique_index_of_a_distributed_table_has_its_column(self):
        rows = catalog(
            "SELECT t.relname, i.relname, array_agg(a.attname::text)"
            " FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey)"
            " WHERE x.indisunique AND t.relname = ANY(%s) GROUP BY 1, 2",
            [list(self.distributed)],
        )
        self.assertTrue(rows)
        for table, index, columns in rows:
            with self.subTest(table=table, index=index):
                self.assertIn(self.distributed[table], columns)

    def test_foreign_keys_are_ones_citus_accepts(self):
        rows = catalog(
            "SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,"
            " (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.conkey)"
            "  WITH ORDINALITY k(attnum, n) JOIN pg_attribute a"
            "  ON a.attrelid = c.conrelid AND a.attnum = k.attnum),"
            " (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.confkey)"
            "  WITH ORDINALITY k(attnum, n) JOIN pg_attribute a"
            "  ON a.attrelid = c.confrelid AND a.attnum = k.attnum)"
            " FROM pg_constraint c WHERE c.contype = 'f'"
            " AND c.connamespace = current_schema()::regnamespace"
        )
        self.assertTrue(rows)
        for name, table, referenced, columns, referenced_columns in rows:
            with self.subTest(foreign_key=name):
                source, target = self.kind(table), self.kind(referenced)
                if source != "distributed":
                    # Reference and coordinator-local tables point at
                    # reference tables (or local ones, from local ones).
                    self.assertIn(target, {"reference", source})
                elif target == "coordinator_local":
                    self.fail(f"{table} references the coordinator-local {referenced}")
                elif target == "distributed":
                    column = self.distributed[table]
                    self.assertEqual(column, self.distributed[referenced])
                    self.assertIn(column, columns)
                    self.assertEqual(
                        columns.index(column), referenced_columns.index(column)
                    )

    def test_distributed_tables_have_no_int_identity(self):
        rows = catalog(
            "SELECT c.relname, a.attname, format_type(a.atttypid, NULL)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE a.attidentity <> '' AND c.relname = ANY(%s)",
            [list(self.distributed)],
        )
        self.assertTrue(rows)
        for table, column, kind in rows:
            with self.subTest(table=table, column=column):
                self.assertEqual(kind, "bigint")


class CommandRefusalTests(TestCase):
    def test_without_citus_the_command_refuses_in_one_line(self):
        with self.assertRaises(CommandError) as raised:
            call_command("citus_distribute", stdout=StringIO())
        message = str(raised.exception)
        self.assertIn("no citus extension", message)
        self.assertNotIn("\n", message)
