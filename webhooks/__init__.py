"""The webhooks app."""
