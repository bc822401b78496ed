"""The Celery application: ``celery -A idem_project worker`` and ``... beat``.

Delivery is at least once: a task is acknowledged after it ran, a task whose
worker died is handed to another, and each worker process takes one message
at a time. Every consumer is idempotent, so a message delivered twice has one
effect.

An outbox message that fails (a mail server that refuses) is retried with
exponential backoff and full jitter: 1, 2, 4, ... seconds, capped at 20, so
with EMAIL_TIMEOUT's 10 seconds per attempt a failing server is tried at least
every 30 seconds. No count limits the retries: the outbox marks the message
failed a day after its first attempt (OUTBOX_GIVE_UP_AFTER).
"""

from celery import Celery

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
app.autodiscover_tasks()
# The payment-events queue's consumer, inside every worker.
app.steps["consumer"].add("consumers.steps:PaymentEventsStep")
