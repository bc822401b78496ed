"""The uploads app."""
