"""Publishing events to the durable topic exchange, confirmed by the broker."""

import json
import logging
from collections.abc import Sequence
from typing import Any

import kombu
from celery import current_app

from events.conf import events_settings
from events.models import Event

logger = logging.getLogger(__name__)


class EventNotConfirmed(Exception):
    """The broker refused (nacked) an event, or did not confirm it in time."""


def event_json(event: Event) -> bytes:
    """Return the event's body, the same bytes on every publish and delivery."""
    return json.dumps(event.body(), separators=(",", ":"), sort_keys=True).encode()


class EventPublisher:
    """One connection and channel that publish events to ``idem.events``.

    On RabbitMQ the channel is in confirm mode: a batch is published, then the
    broker's acknowledgements of all its messages are awaited together, so a
    batch costs one round trip instead of one a message. Kombu's virtual
    transports (the embedded filesystem one) write each message before
    ``publish`` returns, which is their confirmation.
    """

    def __init__(self, url: str | None = None) -> None:
        # Without the app's confirm_publish, which would wait for each message
        # in turn: a batch's confirms are awaited together (publish()).
        self.connection: kombu.Connection = current_app.connection_for_write(
            url, transport_options={"confirm_publish": False}
        )
        self.connection.ensure_connection(max_retries=1, timeout=5)
        self.exchange = kombu.Exchange(
            events_settings.EXCHANGE, type="topic", durable=True
        )
        self.channel: Any = self.connection.channel()
        self.exchange.declare(channel=self.channel)
        self.confirms = self.connection.transport.driver_type == "amqp"
        self._outstanding: set[int] = set()
        self._nacked = 0
        self._tag = 0
        if self.confirms:
            self.channel.confirm_select()
            self.channel.events["basic_ack"].add(self._on_ack)
            self.channel.events["basic_nack"].add(self._on_nack)
        else:
            self.producer = kombu.Producer(self.channel, exchange=self.exchange)

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """Return the exceptions that mean the connection is no longer usable."""
        return (
            EventNotConfirmed,
            OSError,
            *self.connection.connection_errors,
            *self.connection.channel_errors,
        )

    def publish(self, events: Sequence[Event]) -> None:
        """Publish ``events`` persistently; return once the broker has them all.

        Raise EventNotConfirmed when the broker nacks one or does not confirm
        them within CONFIRM_TIMEOUT seconds, or a broker error from ``errors``.
        """
        properties = {"delivery_mode": 2}
        if not self.confirms:
            for event in events:
                self.producer.publish(
                    event_json(event),
                    routing_key=event.type,
                    content_type="application/json",
                    content_encoding="utf-8",
                    message_id=str(event.id),
                    **properties,
                )
            return
        for event in events:
            message = self.channel.prepare_message(
                event_json(event),
                content_type="application/json",
                content_encoding="utf-8",
                properties={**properties, "message_id": str(event.id)},
            )
            self._tag += 1
            self._outstanding.add(self._tag)
            self.channel.basic_publish(
                message, exchange=self.exchange.name, routing_key=event.type
            )
        self._await_confirms()

    def _await_confirms(self) -> None:
        timeout = events_settings.CONFIRM_TIMEOUT
        try:
            while self._outstanding and not self._nacked:
                self.connection.drain_events(timeout=timeout)
        except TimeoutError as exc:
            raise EventNotConfirmed(
                f"{len(self._outstanding)} event(s) not confirmed in {timeout} s"
            ) from exc
        if self._nacked:
            raise EventNotConfirmed(f"the broker refused {self._nacked} event(s)")

    def _on_ack(self, tag: int, multiple: bool) -> None:
        if multiple:
            self._outstanding = {t for t in self._outstanding if t > tag}
        else:
            self._outstanding.discard(tag)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        before = len(self._outstanding)
        self._on_ack(tag, multiple)
        self._nacked += before - len(self._outstanding)

    def close(self) -> None:
        """Close the connection; errors of one already broken are ignored."""
        try:
            self.connection.release()
        except self.errors:
            logger.debug("The broker connection was already broken.")
