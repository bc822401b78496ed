"""Outbox messages: written in the caller's transaction, carried out by a worker.

Every time is taken and compared on the database's clock (``Now()``), so
workers on hosts whose clocks differ agree on leases and ages.
"""

from django.db import connections, models, router
from django.db.models import F, Q
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, Least, Now
from django.utils import timezone

from core.citus import Distributed
from core.clock import db_now

#: Attempts started without finishing after which a message is ``failed``.
CRASH_LIMIT = 5
#: Errors of no known class after which a message is ``failed``.
ERROR_LIMIT = 10
#: The reason a message that kept killing its worker fails with.
CRASHED = "crashed"


def _earliest(field: str, now: Combinable, *, using: str) -> Combinable:
    """Return ``field``, or ``now`` when it is NULL, as the database can say it.

    On PostgreSQL ``LEAST``, which skips NULLs: Citus refuses a function of
    the time inside ``COALESCE`` in an update of a distributed table.
    Elsewhere ``LEAST`` would return NULL, so ``COALESCE``.
    """
    if connections[using].vendor == "postgresql":
        return Least(field, now)
    return Coalesce(field, now)


class OutboxMessageQuerySet(models.QuerySet["OutboxMessage"]):
    """Queries on outbox messages, and the conditional writes that keep one sender."""

    def relayable(
        self, *, relay_after: float, rehand_after: float
    ) -> "OutboxMessageQuerySet":
        """Return the messages the relay should hand (again) to the broker.

        Pending messages older than ``relay_after`` seconds (the hand-over after
        the commit failed or never ran), and taken messages whose lease ended
        and whose last attempt started ``rehand_after`` seconds ago (their task
        was lost); in both cases only when the relay did not hand them over in
        the last ``rehand_after`` seconds.
        """
        rehand_before = db_now(plus=-rehand_after)
        waiting = Q(
            state=OutboxMessage.State.PENDING,
            created_at__lt=db_now(plus=-relay_after),
        ) | Q(
            Q(leased_until__isnull=True) | Q(leased_until__lt=Now()),
            state=OutboxMessage.State.HANDED_OVER,
            attempted_at__lt=rehand_before,
        )
        not_just_relayed = Q(relayed_at__isnull=True) | Q(relayed_at__lt=rehand_before)
        return self.filter(waiting, not_just_relayed).order_by("created_at")

    def fail_crashed(self, pk: int) -> bool:
        """Mark the message failed when CRASH_LIMIT attempts never finished.

        Return whether it was. Only a message no worker holds is judged.
        """
        free = Q(leased_until__isnull=True) | Q(leased_until__lte=Now())
        unfinished = F("attempts") - F("finished_attempts")
        return bool(
            self.alias(unfinished=unfinished)
            .filter(
                free,
                pk=pk,
                state__in=OutboxMessage.OPEN_STATES,
                unfinished__gte=CRASH_LIMIT,
            )
            .update(
                state=OutboxMessage.State.FAILED, leased_until=None, last_error=CRASHED
            )
        )

    def tried_for(self, pk: int, *, seconds: float) -> bool:
        """Return whether the message's first attempt is ``seconds`` ago or more."""
        return self.filter(pk=pk, first_attempt_at__lte=db_now(plus=-seconds)).exists()

    def claim(self, pk: int, *, lease_seconds: float) -> bool:
        """Take the message for one attempt; return False when it is not to be sent.

        One conditional UPDATE, committed before the attempt starts: of any
        number of concurrent deliveries, one takes the message until its lease
        ends, and the attempt is counted even if the worker dies during it. A
        message already sent or failed, or held by another worker, is not taken.
        """
        free = Q(leased_until__isnull=True) | Q(leased_until__lte=Now())
        return bool(
            self.filter(free, pk=pk, state__in=OutboxMessage.OPEN_STATES).update(
                state=OutboxMessage.State.HANDED_OVER,
                leased_until=db_now(plus=lease_seconds),
                attempts=F("attempts") + 1,
                attempted_at=Now(),
                first_attempt_at=_earliest(
                    "first_attempt_at", Now(), using=router.db_for_write(self.model)
                ),
            )
        )

    def mark_done(self, pk: int) -> bool:
        """Record that the message was carried out; return False if it already was."""
        return bool(
            self.filter(pk=pk)
            .exclude(state=OutboxMessage.State.DONE)
            .update(
                state=OutboxMessage.State.DONE,
                done_at=Now(),
                leased_until=None,
                last_error="",
                finished_attempts=F("finished_attempts") + 1,
            )
        )

    def release(
        self, pk: int, *, error: str, give_up: bool, counted: bool = False
    ) -> None:
        """End a failed attempt: keep the error, and mark the message failed on ``give_up``.

        ``counted`` adds one to the errors of no known class.
        """
        fields: dict[str, object] = {
            "leased_until": None,
            "last_error": error[:2000],
            "finished_attempts": F("finished_attempts") + 1,
        }
        if counted:
            fields["other_errors"] = F("other_errors") + 1
        if give_up:
            fields["state"] = OutboxMessage.State.FAILED
        self.filter(pk=pk, state=OutboxMessage.State.HANDED_OVER).update(**fields)


class OutboxMessage(models.Model):
    """One effect outside the database (a mail), to be carried out once.

    It carries the owner of the change that caused it (0 for none), on whose
    shard it is written; its primary key in PostgreSQL is ``(id, owner_id)``
    and its dedupe key is unique per owner (migrations 0002 and 0004).
    """

    distribution = Distributed(by="owner_id")

    #: The owner of messages that belong to no user.
    NO_OWNER = 0

    class State(models.TextChoices):
        PENDING = "pending"
        HANDED_OVER = "handed_over", "handed over"
        DONE = "done"
        FAILED = "failed"

    OPEN_STATES = (State.PENDING, State.HANDED_OVER)

    owner_id = models.BigIntegerField(default=NO_OWNER)
    topic = models.CharField(max_length=100)
    payload = models.JSONField()
    dedupe_key = models.CharField(max_length=255)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    # Attempts started (counted before the work), attempts that ended with a
    # result, and errors of no known class (outbox/delivery.py).
    attempts = models.PositiveIntegerField(default=0)
    finished_attempts = models.PositiveIntegerField(default=0)
    other_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    relayed_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner_id", "dedupe_key"],
                name="outbox_outboxmessage_owner_dedupe_key_uniq",
            ),
        ]
        indexes = [
            # The relay reads only the open messages, a small part of the table.
            models.Index(
                fields=["created_at"],
                condition=Q(state__in=["pending", "handed_over"]),
                name="outbox_msg_open_created_idx",
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.topic} {self.dedupe_key} ({self.state})"
