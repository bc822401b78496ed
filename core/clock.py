"""The database's clock, the one every host compares leases and ages by."""

from datetime import timedelta

from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.expressions import Combinable
from django.db.models.functions import Now


def db_now(*, plus: float = 0.0) -> Combinable:
    """Return the database's current time, ``plus`` seconds later when given."""
    if not plus:
        return Now()
    return ExpressionWrapper(
        Now() + timedelta(seconds=plus), output_field=DateTimeField()
    )
