"""The orders app."""
