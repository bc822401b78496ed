"""The Idem test suite; it runs under both pytest and ``manage.py test``."""
