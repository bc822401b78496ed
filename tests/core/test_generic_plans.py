"""Plans cached while the owner-keyed tables are empty find one row by its whole key.

psycopg prepares a statement once a connection has run it 5 times, and
PostgreSQL may then keep one generic plan for it. Made while a table is
small and has no statistics, such a plan must still look a row up by every
column the statement gives: on an index that led with the owner alone it
would read every row of the owner, for as long as the connection lives.
"""

import unittest
import uuid

from django.db import connection
from django.test import TestCase
from psycopg import ClientCursor

from events.models import Event, WebhookDelivery
from idempotency.models import IdempotencyKey
from idempotency.statements import statements
from orders.models import Order, OrderEvent
from outbox.models import OutboxMessage
from uploads.models import Photo


def generic_plan(sql, params):
    """Return the plan PostgreSQL caches for ``sql`` once it stops planning per call."""
    numbered = sql
    for number in range(1, len(params) + 1):
        numbered = numbered.replace("%s", f"${number}", 1)
    connection.ensure_connection()
    # A client-side cursor sends PREPARE as it is: on a server-side binding
    # connection its $1 would be taken for a parameter of the PREPARE itself.
    with ClientCursor(connection.connection) as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE probe AS {numbered}")
        try:
            values = ", ".join(["%s"] * len(params))
            cursor.execute(f"EXPLAIN EXECUTE probe({values})", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE probe")


def queryset_plan(queryset):
    return generic_plan(*queryset.query.sql_with_params())


@unittest.skipUnless(
    connection.vendor == "postgresql", "needs PostgreSQL: generic plans are its own"
)
class GenericPlanTests(TestCase):
    def assert_index(self, plan, index, *columns):
        self.assertRegex(plan, rf"Index Scan (using|on) {index}\b")
        condition = next(
            line for line in plan.splitlines() if "Index Cond" in line
        ).strip()
        for column in columns:
            self.assertIn(column, condition)

    def test_the_key_layer_finds_and_records_a_key_by_owner_scope_and_key(self):
        found = statements(connection.alias)
        unique = "idempotency_idempotencykey_owner_scope_key_uniq"
        params = [1, "", "k", "in_flight"]
        for name, sql, values in (
            ("find", found.find, [7, *params[:3]]),
            ("complete", found.complete, ["completed", 201, b"{}", "", "", *params]),
        ):
            with self.subTest(statement=name):
                plan = generic_plan(sql, values)
                self.assert_index(plan, unique, "owner_id", "scope", "key")

    def test_a_users_row_is_found_by_its_unique_key_not_by_the_owner(self):
        cases = (
            (
                Order.objects.filter(owner_id=1, client_id="c"),
                "orders_order_owner_client_id_uniq",
                ("owner_id", "client_id"),
            ),
            (
                Photo.objects.filter(owner_id=1, filename="a.jpg"),
                "uploads_photo_owner_filename_uniq",
                ("owner_id", "filename"),
            ),
            (
                OrderEvent.objects.filter(owner_id=1, order_id__in=[2]),
                "orders_orderevent_owner_order",
                ("owner_id", "order_id"),
            ),
        )
        for queryset, index, columns in cases:
            with self.subTest(table=queryset.model._meta.db_table):
                self.assert_index(queryset_plan(queryset), index, *columns)

    def test_a_row_is_found_by_its_id_alone(self):
        for model, pk in (
            (Order, 1),
            (OrderEvent, 1),
            (Photo, 1),
            (IdempotencyKey, 1),
            (OutboxMessage, 1),
            (Event, uuid.uuid4()),
            (WebhookDelivery, 1),
        ):
            table = model._meta.db_table
            with self.subTest(table=table):
                plan = queryset_plan(model.objects.filter(pk=pk))
                self.assert_index(plan, f"{table}_pkey", "(id = ")
