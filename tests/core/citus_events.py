"""Relay, deliver and purge events on Citus; print what happened as JSON.

Run in a process of its own whose DATABASE_URL names a Citus coordinator
(tests/core/test_citus.py does): two orders make two events, the relay
publishes them (kombu's in-memory broker) and creates their deliveries to a
receiver in this process, which are handed over and attempted (the claim
that keeps an endpoint within WEBHOOK_ENDPOINT_CONCURRENCY takes the
endpoint's row lock on the reference table); the admin shows them to staff,
and the purge deletes them once they are old. Last, the user and the
endpoint are deleted with what cascades from them (reference rows after
rows on the shards, which needs sequential multi-shard modifications).
"""

import json
import os
import sys
import uuid


def main():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")
    django.setup()
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from events.models import Event, WebhookDelivery, WebhookEndpoint
    from events.relay import deliveries_dispatch
    from events.services import delivery_attempt, events_purge
    from orders.models import Order
    from tests.events.helpers import relay
    from tests.events.receiver import Receiver

    receiver = Receiver()
    try:
        endpoint = WebhookEndpoint.objects.create(
            url=receiver.url, events=["order.created"]
        )
        user = User.objects.create_user(f"{uuid.uuid4()}@example.com", "pw")
        for _ in range(2):
            Order.objects.get_or_create_by_client_id(
                owner=user, client_id=str(uuid.uuid4()), product_id=1, quantity=1
            )
        relay()
        dispatched = deliveries_dispatch()
        deliveries = list(WebhookDelivery.objects.filter(owner=user))
        outcomes = [delivery_attempt(delivery_id=d.pk) for d in deliveries]
        staff = Client()
        staff.force_login(
            User.objects.create_superuser(f"{uuid.uuid4()}@example.com", "pw")
        )
        pages = [
            staff.get(url).status_code
            for url in (
                f"/admin/events/webhookendpoint/{endpoint.pk}/change/",
                "/admin/events/webhookdelivery/",
            )
        ]
        Event.objects.filter(owner=user).update(
            published_at=timezone.now() - timedelta(days=30)
        )
        purged = events_purge()
        left = Event.objects.filter(owner=user).count()
        Order.objects.get_or_create_by_client_id(
            owner=user, client_id=str(uuid.uuid4()), product_id=1, quantity=1
        )
        relay()
        user.delete()
        endpoint.delete()
        report = {
            "dispatched": dispatched,
            "outcomes": outcomes,
            "admin": pages,
            "received": len(receiver.delivered()),
            "purged": purged,
            "left": left,
            "deleted": not WebhookDelivery.objects.filter(owner_id=user.pk).exists(),
        }
    finally:
        receiver.stop()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
