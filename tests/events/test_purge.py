"""Retention: delivered events go after OUTBOX_RETENTION_DAYS; undelivered ones stay."""

from datetime import timedelta

from django.test import TestCase, override_settings
from django.utils import timezone

from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.services import events_purge
from idem_project.celery import app
from tests.factories import make_user


def make_event(owner, resource_id, *, published_at):
    return Event.objects.create(
        owner=owner,
        type=Event.Type.ORDER_CREATED,
        resource="order",
        resource_id=resource_id,
        sequence=1,
        published_at=published_at,
    )


def deliver(event, endpoint, state):
    delivery = WebhookDelivery.of(event, endpoint, state=state)
    delivery.save()
    return delivery


@override_settings(OUTBOX={"RETENTION_DAYS": 7, "PURGE_BATCH_SIZE": 2})
class EventRetentionTests(TestCase):
    def test_old_delivered_events_go_with_their_deliveries_the_rest_stay(self):
        owner = make_user()
        first, second = (
            WebhookEndpoint.objects.create(url=f"https://{n}.example/", events=["*"])
            for n in ("a", "b")
        )
        now = timezone.now()
        old, recent = now - timedelta(days=8), now - timedelta(days=6)
        gone = [make_event(owner, n, published_at=old) for n in range(5)]
        for event in gone[:3]:
            deliver(event, first, "delivered")
            deliver(event, second, "delivered")
        kept = {
            "recent": make_event(owner, 10, published_at=recent),
            "unpublished": make_event(owner, 11, published_at=None),
            "failed": make_event(owner, 12, published_at=old),
            "pending": make_event(owner, 13, published_at=old),
        }
        deliver(kept["recent"], first, "delivered")
        deliver(kept["failed"], first, "delivered")
        deliver(kept["failed"], second, "failed")
        deliver(kept["pending"], first, "pending")

        self.assertEqual(events_purge(dry_run=True), 5)
        self.assertEqual(Event.objects.count(), 9)
        self.assertEqual(events_purge(), 5)

        self.assertEqual(
            set(Event.objects.values_list("pk", flat=True)),
            {event.pk for event in kept.values()},
        )
        self.assertFalse(
            WebhookDelivery.objects.filter(event_id__in=[e.pk for e in gone]).exists()
        )
        self.assertEqual(WebhookDelivery.objects.count(), 4)

    def test_the_scheduler_runs_the_purge_every_hour(self):
        entry = app.conf.beat_schedule["events-purge"]
        self.assertEqual(entry["task"], "events.purge")
        self.assertEqual(entry["schedule"].minute, {50})
