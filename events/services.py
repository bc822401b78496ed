"""Webhook endpoints and the attempts of their deliveries."""

import logging
import random

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from core.clock import db_now
from events.broker import event_json
from events.conf import events_settings
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.relay import deliveries_dispatch, events_render
from events.sending import Answer, webhook_post
from outbox.conf import outbox_settings
from outbox.services import rows_purge_in_batches

logger = logging.getLogger(__name__)

#: Seconds before the second attempt; each later one may wait twice as long.
RETRY_BASE_SECONDS = 1.0


def endpoint_create(*, url: str, events: list[str]) -> WebhookEndpoint:
    """Create an enabled endpoint with a new secret; the caller shows the secret once."""
    return WebhookEndpoint.objects.create(url=url, events=events)


def endpoint_update(*, endpoint: WebhookEndpoint, **fields: object) -> WebhookEndpoint:
    """Change any of the endpoint's ``url``, ``events`` and ``enabled``; return it."""
    if fields.get("enabled"):
        fields["disabled_reason"] = ""
    if fields:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        endpoint.refresh_from_db()
    return endpoint


def retry_delay(attempts: int) -> float:
    """Return the seconds to wait after ``attempts`` failed attempts: full jitter.

    A random time between 0 and ``1 s * 2**(attempts - 1)``, capped at
    WEBHOOK_RETRY_MAX_INTERVAL, so failing deliveries spread out.
    """
    ceiling = min(
        float(events_settings.WEBHOOK_RETRY_MAX_INTERVAL),
        RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return random.uniform(0, ceiling)  # noqa: S311  spreading retries, not a secret


def delivery_attempt(*, delivery_id: int, dispatch_next: bool = True) -> str:
    """Make one attempt of the delivery if it is due and first in its queue; return the outcome.

    Outcomes: ``skipped`` (not due, held by another worker, not first of its
    resource at its endpoint, or done), ``deferred`` (the endpoint has
    WEBHOOK_ENDPOINT_CONCURRENCY attempts held already), ``delivered``, ``retried``,
    ``failed`` (the retry window is over) and ``disabled`` (the endpoint
    answered 410 Gone and no longer receives anything). The claim is a short
    transaction and the record one statement; no transaction is open while
    the endpoint is called. Once it is recorded, its slot goes on at once
    (unless not ``dispatch_next``): to the next event of its resource when
    it was delivered or failed, or else to the oldest due delivery with
    room, instead of waiting for a relay's next look. Raise
    TransactionManagementError inside a transaction.
    """
    if connection.in_atomic_block:
        raise TransactionManagementError(
            "A delivery attempt must not hold a transaction open during the call."
        )
    claimed = _claim_within_concurrency(delivery_id)
    if claimed != "claimed":
        return claimed
    # The event by its owner too: on Citus a join on the event id alone
    # would span shards.
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    delivery.event = Event.objects.get(owner_id=delivery.owner_id, pk=delivery.event_id)
    events_render([delivery.event])
    answer = webhook_post(
        url=delivery.endpoint.url,
        event_id=str(delivery.event_id),
        body=event_json(delivery.event),
        secret=delivery.endpoint.secret,
        timeout=float(events_settings.WEBHOOK_TIMEOUT),
        allow_private=events_settings.WEBHOOK_ALLOW_PRIVATE,
    )
    outcome = _record(delivery, answer)
    logger.info(
        "Webhook delivery %s of event %s to endpoint %s, attempt %d: %s (%s).",
        delivery.pk,
        delivery.event_id,
        delivery.endpoint_id,
        delivery.attempts,
        outcome,
        answer.error or answer.status,
    )
    if dispatch_next and (
        outcome == "retried"
        or not deliveries_dispatch(extra=_same_queue(delivery), limit=1)
    ):
        # The slot goes on at once, not at a relay's next look: to the oldest
        # due delivery with room. Not filtered on this endpoint alone, which
        # PostgreSQL plans as a scan per row before the table's first ANALYZE.
        deliveries_dispatch(limit=1)
    return outcome


def _same_queue(delivery: WebhookDelivery) -> Q:
    return Q(
        endpoint_id=delivery.endpoint_id,
        resource=delivery.resource,
        resource_id=delivery.resource_id,
        owner_id=delivery.owner_id,
    )


def _claim_within_concurrency(delivery_id: int) -> str:
    """Claim the delivery unless its endpoint holds its most attempts already.

    Return ``claimed``, ``skipped`` (see ``WebhookDeliveryQuerySet.claim``)
    or ``deferred``: the endpoint has WEBHOOK_ENDPOINT_CONCURRENCY attempts
    held, and the relay hands the delivery over again once it has room.
    Claims at one endpoint take turns on its row for the count and the
    claim, a transaction that ends before any endpoint is called.
    """
    endpoint = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .values_list("endpoint_id", flat=True)
        .first()
    )
    if endpoint is None:
        return "skipped"
    with transaction.atomic():
        list(WebhookEndpoint.objects.select_for_update().filter(pk=endpoint))
        held = WebhookDelivery.objects.pending().filter(
            endpoint_id=endpoint, leased_until__isnull=False, leased_until__gt=db_now()
        )
        if held.count() >= events_settings.WEBHOOK_ENDPOINT_CONCURRENCY:
            WebhookDelivery.objects.filter(pk=delivery_id).update(dispatched_at=None)
            return "deferred"
        if not WebhookDelivery.objects.claim(
            delivery_id, lease_seconds=events_settings.lease_seconds
        ):
            # Not due, held or done: the hand-over no longer takes a slot of
            # the endpoint; the relay hands it over again once it is due.
            WebhookDelivery.objects.filter(pk=delivery_id).update(dispatched_at=None)
            return "skipped"
    return "claimed"


def _record(delivery: WebhookDelivery, answer: Answer) -> str:
    """Write the outcome of the attempt, unless another worker took the delivery since.

    The retry window is measured on the database's clock, like the leases.
    """
    ours = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        state=WebhookDelivery.State.PENDING,
        attempts=delivery.attempts,
    )
    fields: dict[str, object] = {
        "last_status": answer.status,
        "last_error": answer.error[:500],
        "last_duration_ms": answer.duration_ms,
        "leased_until": None,
        "dispatched_at": None,
    }
    done = {"finished_at": db_now()}
    if answer.delivered:
        outcome = "delivered"
        fields |= done | {"state": WebhookDelivery.State.DELIVERED}
    elif answer.status == 410:
        outcome = "disabled"
        fields |= done | {"state": WebhookDelivery.State.FAILED}
        fields["last_error"] = "HTTP 410: the endpoint is gone and was disabled"
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
            enabled=False,
            disabled_reason=f"answered 410 Gone at {timezone.now():%Y-%m-%d %H:%M:%S}",
        )
    else:
        window = float(events_settings.WEBHOOK_RETRY_WINDOW)
        if ours.filter(window_from__lte=db_now(plus=-window)).update(
            **fields, **done, state=WebhookDelivery.State.FAILED
        ):
            return "failed"
        outcome = "retried"
        fields["next_attempt_at"] = db_now(plus=retry_delay(delivery.attempts))
    if not ours.update(**fields):
        return "skipped"
    return outcome


def deliveries_retry(pks: list[int]) -> int:
    """Put failed deliveries back to pending, due now, with a new retry window; return how many."""
    return WebhookDelivery.objects.filter(
        pk__in=pks, state=WebhookDelivery.State.FAILED
    ).update(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at=db_now(),
        window_from=db_now(),
        finished_at=None,
        dispatched_at=None,
        leased_until=None,
    )


def events_purge(*, dry_run: bool = False) -> int:
    """Delete the events done with for OUTBOX_RETENTION_DAYS; return how many.

    An event goes, with its deliveries, once it was published more than
    OUTBOX_RETENTION_DAYS ago (on the database's clock) and every delivery
    of it was delivered. An event with a pending or failed delivery stays,
    so staff can still retry it. Paced batches, as the outbox's records
    (``outbox.services.rows_purge_in_batches``).
    """
    cutoff = db_now(plus=-outbox_settings.RETENTION_DAYS * 24 * 60 * 60)
    unfinished = WebhookDelivery.objects.filter(
        owner_id=OuterRef("owner_id"), event_id=OuterRef("pk")
    ).exclude(state=WebhookDelivery.State.DELIVERED)
    rows = Event.objects.filter(published_at__lt=cutoff).filter(~Exists(unfinished))
    if dry_run:
        return rows.count()
    return rows_purge_in_batches(rows)
