"""The migrations that key tables by owner move every existing row, both ways."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase
from django.utils import timezone

from idempotency.models import IdempotencyKey
from orders.models import Order, OrderEvent
from outbox.models import OutboxMessage
from uploads.models import Photo
from webhooks.models import WebhookEvent

BEFORE = [
    ("accounts", "0002_remove_welcome_email_sent_at"),
    ("orders", "0001_initial"),
    ("uploads", "0001_photo"),
    ("idempotency", "0002_hmac_fingerprints"),
    ("outbox", "0001_outbox_message"),
    ("webhooks", "0002_webhookevent_source"),
]


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


class OwnerMigrationTests(TransactionTestCase):
    def tearDown(self):
        migrate_to_latest()

    def populate(self, apps):
        """Write rows the way the project did before the owner keys."""
        User = apps.get_model("accounts", "User")
        ada = User.objects.create(email="ada@example.com")
        bob = User.objects.create(email="bob@example.com")
        Order = apps.get_model("orders", "Order")
        order = Order.objects.create(
            owner=ada, client_id="c-1", product_id=1, quantity=2
        )
        other = Order.objects.create(
            owner=bob, client_id="c-1", product_id=3, quantity=4
        )
        for status in ("pending", "processing"):
            order.events.create(status=status)
        other.events.create(status="pending")
        apps.get_model("uploads", "Photo").objects.create(owner=bob, filename="a.jpg")
        expires = timezone.now() + timezone.timedelta(hours=1)
        Key = apps.get_model("idempotency", "IdempotencyKey")
        for principal in (f"user:{ada.pk}", "anonymous", "function:notes"):
            Key.objects.create(
                principal=principal,
                key="k-1",
                method="POST",
                path="/api/orders/",
                fingerprint="f" * 64,
                state="completed",
                status_code=201,
                response_body=b'{"id": 1}',
                expires_at=expires,
            )
        Message = apps.get_model("outbox", "OutboxMessage")
        for dedupe_key in (f"welcome:{bob.pk}", f"receipt:{order.pk}", "note:1"):
            Message.objects.create(topic="mail.x", payload={}, dedupe_key=dedupe_key)
        apps.get_model("webhooks", "WebhookEvent").objects.create(
            event_id="evt-1", type="payment.succeeded", payload={"id": "evt-1"}
        )
        return ada, bob, order, other

    def test_every_row_is_kept_and_gets_its_owner(self):
        ada, bob, order, other = self.populate(migrate(BEFORE))
        migrate_to_latest()

        self.assertEqual(
            set(Order.objects.values_list("pk", "owner_id")),
            {(order.pk, ada.pk), (other.pk, bob.pk)},
        )
        self.assertEqual(
            sorted(OrderEvent.objects.values_list("order_id", "owner_id", "status")),
            sorted(
                [
                    (order.pk, ada.pk, "pending"),
                    (order.pk, ada.pk, "processing"),
                    (other.pk, bob.pk, "pending"),
                ]
            ),
        )
        self.assertEqual(
            list(Photo.objects.values_list("owner_id", "filename")), [(bob.pk, "a.jpg")]
        )
        self.assertEqual(
            {
                (k.owner_id, k.scope, k.key, k.principal)
                for k in IdempotencyKey.objects.all()
            },
            {
                (ada.pk, "", "k-1", f"user:{ada.pk}"),
                (0, "", "k-1", "anonymous"),
                (0, "function:notes", "k-1", "function:notes"),
            },
        )
        self.assertEqual(
            set(OutboxMessage.objects.values_list("dedupe_key", "owner_id")),
            {
                (f"welcome:{bob.pk}", bob.pk),
                (f"receipt:{order.pk}", ada.pk),
                ("note:1", 0),
            },
        )
        self.assertEqual(WebhookEvent.objects.get().event_id, "evt-1")
        if connection.vendor == "postgresql":
            expected = {
                "orders_order": ["id", "owner_id"],
                "orders_orderevent": ["id", "owner_id"],
                "uploads_photo": ["id", "owner_id"],
                "idempotency_idempotencykey": ["id", "owner_id"],
                "outbox_outboxmessage": ["id", "owner_id"],
                "webhooks_webhookevent": ["event_id", "id"],
            }
            for table, columns in expected.items():
                with self.subTest(table=table):
                    self.assertEqual(primary_key(table), columns)

    def test_going_back_restores_the_principals_and_the_keys(self):
        ada, *_ = self.populate(migrate(BEFORE))
        migrate_to_latest()
        apps = migrate(BEFORE)
        Key = apps.get_model("idempotency", "IdempotencyKey")
        self.assertEqual(
            set(Key.objects.values_list("principal", "key")),
            {
                (f"user:{ada.pk}", "k-1"),
                ("anonymous", "k-1"),
                ("function:notes", "k-1"),
            },
        )
        self.assertEqual(apps.get_model("orders", "OrderEvent").objects.count(), 3)
        if connection.vendor == "postgresql":
            for table in (
                "orders_order",
                "idempotency_idempotencykey",
                "uploads_photo",
            ):
                with self.subTest(table=table):
                    self.assertEqual(primary_key(table), ["id"])
