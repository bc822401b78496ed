"""The consumers app: the worker's message consumers and what they processed."""
