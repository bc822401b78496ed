"""Publishing payment events to the broker the way the provider does, and reading them."""

import unittest

import kombu
from django.db import connection

from consumers.payment_events import dead_queue, payment_events_queue
from tests.webhooks.deliveries import encode, signature
from tests.workers import rabbitmq_available

QUEUE = "payment-events"
DEAD = "payment-events.dead"

needs_rabbitmq_and_postgresql = unittest.skipUnless(
    rabbitmq_available() and connection.vendor == "postgresql",
    "needs RabbitMQ on 127.0.0.1:5672 and PostgreSQL: the worker is another "
    "process and shares the test database",
)


def queue(name=QUEUE):
    """Return the queue ``name`` as the worker declares it on RabbitMQ."""
    if name == QUEUE:
        return payment_events_queue()
    if name == DEAD:
        return dead_queue()
    return kombu.Queue(name, routing_key=name, durable=True)


def publish(conn, body, *, sig="sign", headers=None, times=1, to=QUEUE):
    """Publish ``body`` to queue ``to``; ``sig`` "sign" signs it, None sends none."""
    if not isinstance(body, bytes):
        body = encode(body)
    headers = dict(headers or {})
    if sig == "sign":
        headers["x-signature"] = signature(body)
    elif sig is not None:
        headers["x-signature"] = sig
    producer = conn.Producer()
    for _ in range(times):
        producer.publish(
            body,
            routing_key=to,
            headers=headers,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode="persistent",
            declare=[queue(to)],
        )


def drain(conn, name):
    """Return every message waiting on queue ``name``, acknowledged, in order."""
    bound = queue(name)(conn.default_channel)
    messages = []
    while (message := bound.get()) is not None:
        message.ack()
        messages.append(message)
    return messages


def body_of(message):
    """Return a message's body as bytes (the client decodes one with an encoding)."""
    body = message.body
    return body.encode(message.content_encoding) if isinstance(body, str) else body


def ready_count(conn, name):
    """Return how many messages wait on queue ``name`` (declaring it if needed)."""
    _, count, _ = queue(name)(conn.default_channel).queue_declare()
    return count


def lock_waits():
    """Return how many sessions of the test database wait for a lock."""
    with connection.cursor() as cursor:
        # Inside a transaction the view is a snapshot taken at its first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def backends():
    """Return the backend pids of the other sessions on the test database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}
