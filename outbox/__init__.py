"""The transactional outbox: effects written with the change, carried out by a worker."""
