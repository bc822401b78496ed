"""The Celery application: ``celery -A idem_project worker`` and ``... beat``.

Delivery is at least once: a task is acknowledged after it ran, a task whose
worker died is handed to another, and each worker process takes one message
at a time. Every consumer is idempotent, so a message delivered twice has one
effect.
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
)
app.autodiscover_tasks()
# The payment-events queue's consumer, inside every worker.
app.steps["consumer"].add("consumers.steps:PaymentEventsStep")
