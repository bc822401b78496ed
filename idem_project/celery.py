"""The Celery application: ``celery -A idem_project worker`` and ``... beat``.

Delivery is at least once: a task is acknowledged after it ran, a task whose
worker died is handed to another, and each worker process takes one message
at a time. Every consumer is idempotent, so a message delivered twice has one
effect.

An outbox message that fails (a mail server that refuses, a database that
is down) is retried with exponential backoff and full jitter: 1, 2, 4, ...
seconds, capped at 20, so with EMAIL_TIMEOUT's 10 seconds per attempt a
failing server is tried at least every 30 seconds. The outbox, not Celery,
limits the retries by the failure's class (docs/outbox.md#failures).

On RabbitMQ every publish of these processes (hand-overs, the relay's tasks,
retries) waits for the broker's confirm: a message the broker did not take
raises instead of being dropped without a trace.
"""

import click
from celery import Celery
from celery.schedules import crontab

from idem_project.startup import settings_or_exit

# Every entry point (manage.py, gunicorn, uvicorn, the worker, the scheduler)
# imports this package, and so this module, first: a wrong environment value
# stops each of them here with one line naming the variable. 4 is what
# gunicorn reads as "the application failed to load": its master stops
# instead of starting workers again and again.
settings_or_exit(exit_code=4)

app = Celery("idem_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_annotations={
        "outbox.deliver": {
            "max_retries": None,
            "retry_backoff": 1,
            "retry_backoff_max": 20,
            "retry_jitter": True,
        },
    },
)
if app.conf.broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "confirm_publish": True,
    }
# The purges: expired keys daily; processed-message records and delivered
# events past OUTBOX_RETENTION_DAYS every hour; each in small batches
# (idempotency.store.purge_expired, outbox.services.records_purge,
# events.services.events_purge).
app.conf.beat_schedule = {
    **app.conf.beat_schedule,
    "idempotency-purge": {
        "task": "idempotency.purge_expired_keys",
        "schedule": crontab(hour=3, minute=30),
    },
    "outbox-purge": {"task": "outbox.purge", "schedule": crontab(minute=45)},
    "events-purge": {"task": "events.purge", "schedule": crontab(minute=50)},
}
app.autodiscover_tasks()
# The payment-events queue's consumer, inside every worker.
app.steps["consumer"].add("consumers.steps:PaymentEventsStep")
# The events relay, inside every worker unless told otherwise
# (docs/events.md#on-the-broker).
app.steps["worker"].add("events.steps:EventsRelayStep")
app.user_options["worker"].add(
    click.Option(
        ["--without-events-relay"],
        is_flag=True,
        default=False,
        help="Do not run the events relay in this worker.",
    )
)
