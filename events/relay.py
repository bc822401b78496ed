"""The relay: publishes new events, fans them out to endpoints, hands deliveries over.

It polls the events table (an indexed read of the unpublished rows) instead
of LISTENing: a LISTEN needs a session of its own, which PgBouncer in
transaction mode does not give, and a NOTIFY would add a statement or a
trigger to every change. An idle relay sends one small query per
RELAY_POLL_INTERVAL.
"""

import logging
import threading

from celery import current_app
from django.db import (
    DatabaseError,
    close_old_connections,
    connections,
    router,
    transaction,
)
from django.db.models import Count, Q
from kombu.exceptions import OperationalError as KombuOperationalError

from core.clock import db_now
from core.distribute import citus_installed
from events.broker import EventNotConfirmed, EventPublisher
from events.conf import events_settings
from events.models import Event, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

#: The Celery task that attempts one delivery, named in events/tasks.py.
DELIVER_TASK = "events.deliver"


def events_relay_once(*, publisher: EventPublisher) -> int:
    """Publish a batch of unpublished events and create their deliveries; return how many.

    In one transaction: the oldest unpublished events are locked (other
    relays skip them), rendered (events_render), published with confirms, marked published,
    and one delivery is created per enabled endpoint that wants each. A
    relay that dies before the commit leaves them unpublished: they are
    published again (the consumer's de-duplication by ``message_id`` covers
    that window). Raise what ``publisher.publish`` raises.

    Several relays (one in every worker) keep each resource's events in
    ``sequence`` order on the broker: an event whose resource has an earlier
    event locked by another relay is left for a later batch (events_unblocked).
    """
    with transaction.atomic():
        events = events_unblocked()
        if not events:
            return 0
        events_render(events)
        publisher.publish(events)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(
            published_at=db_now()
        )
        endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery.of(event, endpoint)
            for event in events
            for endpoint in endpoints
            if endpoint.wants(event.type)
        )
    return len(events)


def events_unblocked() -> list[Event]:
    """Lock and return the oldest unpublished events no other relay holds an earlier one of.

    The oldest unpublished events are locked with ``SKIP LOCKED``; those
    another relay locked are its batch. When older unpublished events than
    the newest of ours exist that are not ours (one ``count`` tells), an
    event of ours whose resource has an earlier one among them stays
    unpublished (it is taken once that batch is committed), so a resource's
    events are published in ``sequence`` order whatever the number of
    relays. Call it inside a transaction.

    On Citus, which cannot lock rows across shards, relays take turns
    instead: the one that holds the relay's turn (relay_turn_take) reads the
    oldest unpublished events, and the others publish nothing meanwhile.
    """
    unpublished = Event.objects.filter(published_at__isnull=True).order_by("created_at")
    if _events_span_shards():
        if not relay_turn_take():
            return []
        return list(unpublished[: events_settings.RELAY_BATCH_SIZE])
    events = list(
        unpublished.select_for_update(skip_locked=True)[
            : events_settings.RELAY_BATCH_SIZE
        ]
    )
    if not events:
        return []
    older = Event.objects.filter(
        published_at__isnull=True, created_at__lte=events[-1].created_at
    )
    if older.count() == len(events):
        return events
    mine = {event.pk for event in events}
    held: dict[tuple[int, str, int], int] = {}
    for pk, owner_id, resource, resource_id, sequence in older.values_list(
        "pk", "owner_id", "resource", "resource_id", "sequence"
    ):
        if pk not in mine:
            key = (owner_id, resource, resource_id)
            held[key] = min(sequence, held.get(key, sequence))
    return [
        event
        for event in events
        if held.get((event.owner_id, event.resource, event.resource_id), event.sequence)
        >= event.sequence
    ]


#: Whether each database alias is Citus, asked once per process.
_SPANS_SHARDS: dict[str, bool] = {}
#: The transaction-scoped advisory lock of the relay's turn on Citus.
RELAY_TURN_LOCK = 0x6964656D5F72656C  # "idem_rel"


def _events_span_shards() -> bool:
    alias = router.db_for_write(Event)
    if alias not in _SPANS_SHARDS:
        _SPANS_SHARDS[alias] = citus_installed(connections[alias])
    return _SPANS_SHARDS[alias]


def relay_turn_take() -> bool:
    """Take the relay's turn for this transaction, without waiting; return whether it was free.

    An advisory lock on the coordinator, released at commit or rollback.
    """
    with connections[router.db_for_write(Event)].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_TURN_LOCK])
        return bool(cursor.fetchone()[0])


def events_render(events: list[Event]) -> None:
    """Set the data of order events: the order as the API showed it after the event.

    An order's history only grows and its other fields never change, so the
    order after its event number ``sequence`` is the order today with the
    first ``sequence`` entries of its history and the status of the last:
    the same on every rendering. Two queries for any number of events.
    """
    # Imported here: orders imports events to record them.
    from orders.models import Order
    from orders.serializers import OrderSerializer

    todo = [e for e in events if e.data is None and e.resource == "order"]
    if not todo:
        return
    orders = Order.objects.prefetch_related("events").in_bulk(
        {e.resource_id for e in todo}
    )
    found = list(orders.values())
    shown = dict(
        zip(
            [o.pk for o in found],
            OrderSerializer(found, many=True).data,
            strict=True,
        )
    )
    for event in todo:
        data = shown.get(event.resource_id)
        if data is None:  # the order was deleted since: what the event knows
            event.data = {"id": event.resource_id}
            continue
        history = data["events"][: event.sequence]
        event.data = {**data, "events": history, "status": history[-1]["status"]}


def deliveries_dispatch(*, extra: Q | None = None, limit: int = 500) -> int:
    """Hand the due deliveries nobody holds to the workers; return how many.

    A delivery handed over and not taken within REDISPATCH_AFTER seconds
    (a lost task) is handed over again; one the broker refused is handed
    over at the next run; a worker ignores a task for a delivery that is
    not due, held or done, and gives back its room. An endpoint gets no more than
    WEBHOOK_ENDPOINT_CONCURRENCY attempts in flight at once, so a slow one
    holds no more than that many of the workers' slots.
    """
    lost_after = events_settings.REDISPATCH_AFTER
    room = endpoints_room(handed_over_within=lost_after)
    due = WebhookDelivery.objects.due().filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=db_now(plus=-lost_after))
    )
    full = [endpoint for endpoint, free in room.items() if free <= 0]
    if full:
        due = due.exclude(endpoint_id__in=full)
    if extra is not None:
        due = due.filter(extra)
    cap = events_settings.WEBHOOK_ENDPOINT_CONCURRENCY
    pks = []
    for pk, endpoint in due.order_by("next_attempt_at").values_list(
        "pk", "endpoint_id"
    )[:limit]:
        if room.setdefault(endpoint, cap) > 0:
            room[endpoint] -= 1
            pks.append(pk)
    if not pks:
        return 0
    WebhookDelivery.objects.filter(pk__in=pks).update(dispatched_at=db_now())
    sent = 0
    try:
        for pk in pks:
            current_app.send_task(DELIVER_TASK, args=[pk], queue="webhooks")
            sent += 1
    finally:
        if sent < len(pks):
            # The broker failed: what it did not take holds no room at its
            # endpoint, and the next run hands it over.
            WebhookDelivery.objects.filter(pk__in=pks[sent:]).update(dispatched_at=None)
    return len(pks)


def endpoints_room(*, handed_over_within: float) -> dict[int, int]:
    """Return how many more attempts each endpoint with some in flight may get now."""
    cap = events_settings.WEBHOOK_ENDPOINT_CONCURRENCY
    counts = (
        WebhookDelivery.objects.in_flight(handed_over_within=handed_over_within)
        .values("endpoint_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["endpoint_id"]: cap - row["n"] for row in counts}


def relay_run(*, stop: threading.Event, url: str | None = None) -> None:
    """Relay events and hand deliveries over until ``stop`` is set.

    A broker or database that fails is logged and tried again a second
    later; nothing is lost, since every state lives in the tables.
    """
    probe = current_app.connection_for_write(url)
    broker_errors = (
        EventNotConfirmed,
        OSError,
        KombuOperationalError,
        *probe.connection_errors,
        *probe.channel_errors,
    )
    probe.release()
    publisher: EventPublisher | None = None
    interval = events_settings.RELAY_POLL_INTERVAL
    while not stop.is_set():
        published = 0
        try:
            close_old_connections()
            if publisher is None:
                publisher = EventPublisher(url)
            published = events_relay_once(publisher=publisher)
            deliveries_dispatch()
        except DatabaseError as exc:
            logger.warning("Event relay: the database failed (%s); retrying.", exc)
            stop.wait(1.0)
        except broker_errors as exc:
            logger.warning("Event relay: the broker failed (%s); retrying.", exc)
            if publisher is not None:
                publisher.close()
            publisher = None
            stop.wait(1.0)
        if published < events_settings.RELAY_BATCH_SIZE:
            stop.wait(interval)
    if publisher is not None:
        publisher.close()
