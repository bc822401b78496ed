"""The idempotency app."""
