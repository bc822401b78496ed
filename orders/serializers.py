"""Input and output shapes of the orders API."""

from typing import Any
from uuid import uuid4

from rest_framework import serializers

from core.fields import StringField
from orders.models import Order, OrderEvent
from orders.services import IMPORT_BATCH_MAX, ImportOutcome

# The largest value the PostgreSQL integer columns hold.
MAX_INT = 2147483647


def _fresh_client_id() -> str:
    """Return a new UUID4, offered afresh each time the browsable API form renders."""
    return str(uuid4())


class OrderCreateSerializer(serializers.Serializer):
    """An order to create; a retry sends the same client_id and payload."""

    client_id = StringField(
        min_length=1,
        max_length=128,
        trim_whitespace=False,
        initial=_fresh_client_id,
        help_text="Chosen by the client, unique per owner; a retry sends the same one.",
    )
    product_id = serializers.IntegerField(min_value=1, max_value=MAX_INT)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_INT)


class _BatchItemsField(serializers.ListField):
    """A list of orders that refuses too many items before validating any of them."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if (
            self.max_length is not None
            and isinstance(data, list)
            and len(data) > self.max_length
        ):
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class OrderBatchSerializer(serializers.Serializer):
    """A batch to re-import: 1 to 1,000 orders, each as a single create sends it.

    Field errors of the items are keyed by the item's index in the list, e.g.
    ``{"orders": {"3": {"quantity": ["..."]}}}``.
    """

    orders = _BatchItemsField(
        child=OrderCreateSerializer(),
        allow_empty=False,
        min_length=1,
        max_length=IMPORT_BATCH_MAX,
    )


class OrderBatchItemResultSerializer(serializers.Serializer):
    """What the batch did for one item; ``id`` is the order's with this client_id."""

    client_id = serializers.CharField(read_only=True)
    id = serializers.IntegerField(read_only=True)
    outcome = serializers.ChoiceField(
        choices=[outcome.value for outcome in ImportOutcome], read_only=True
    )


class OrderBatchResultSerializer(serializers.Serializer):
    """The outcome of every item of a batch, in the order sent."""

    results = OrderBatchItemResultSerializer(many=True, read_only=True)


class OrderEventSerializer(serializers.ModelSerializer):
    """One applied transition of an order."""

    class Meta:
        model = OrderEvent
        fields = ["status", "at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    """An order as the API shows it, with its history oldest first."""

    events = OrderEventSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "client_id",
            "product_id",
            "quantity",
            "status",
            "created_at",
            "events",
        ]
        read_only_fields = fields
