"""Migration 0002 keys events and deliveries by owner and keeps every row, both ways."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from events.models import Event, WebhookDelivery

BEFORE = [("events", "0001_events_and_webhooks")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def primary_key(table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    [columns] = [c["columns"] for c in constraints.values() if c["primary_key"]]
    return columns


def foreign_keys(table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        tuple(c["columns"]): c["foreign_key"]
        for c in constraints.values()
        if c["foreign_key"]
    }


class OwnerKeysTests(TransactionTestCase):
    def tearDown(self):
        migrate_to_latest()

    def test_rows_are_kept_and_the_keys_span_the_owner(self):
        apps = migrate(BEFORE)
        ada = get_user_model().objects.create(email="a@example.com")
        event = apps.get_model("events", "Event").objects.create(
            owner_id=ada.pk,
            type="user.created",
            resource="user",
            resource_id=ada.pk,
            sequence=1,
        )
        endpoint = apps.get_model("events", "WebhookEndpoint").objects.create(
            url="https://example.com/hook", events=["*"]
        )
        apps.get_model("events", "WebhookDelivery").objects.create(
            owner_id=ada.pk,
            endpoint=endpoint,
            event=event,
            resource="user",
            resource_id=ada.pk,
            sequence=1,
        )
        migrate_to_latest()

        self.assertEqual(Event.objects.get().pk, event.pk)
        self.assertEqual(
            list(WebhookDelivery.objects.values_list("owner_id", "event_id")),
            [(ada.pk, event.pk)],
        )
        if connection.vendor == "postgresql":
            for table in ("events_event", "events_webhookdelivery"):
                with self.subTest(table=table):
                    self.assertEqual(primary_key(table), ["id", "owner_id"])
            keys = foreign_keys("events_webhookdelivery")
            self.assertNotIn(("event_id",), keys)
            self.assertIn(("owner_id", "event_id"), keys)

        migrate(BEFORE)
        if connection.vendor == "postgresql":
            for table in ("events_event", "events_webhookdelivery"):
                with self.subTest(table=table, direction="back"):
                    self.assertEqual(primary_key(table), ["id"])
