"""The idempotency app's Celery task: the purge of expired keys, off the request path.

Imported by Celery's task discovery and by the admin's purge action, never by
the key layer: a project without Celery can use the layer.
"""

import logging

from celery import shared_task

from idempotency import store

logger = logging.getLogger(__name__)


@shared_task(name="idempotency.purge_expired_keys")
def purge_expired_keys_task() -> int:
    """Delete the expired keys in short paced batches; return how many."""
    deleted = store.purge_expired()
    logger.info("Deleted %d expired idempotency key(s).", deleted)
    return deleted
