"""Input and output shapes of the orders API."""

from uuid import uuid4

from rest_framework import serializers

from orders.models import Order, OrderEvent

# The largest value the PostgreSQL integer columns hold.
MAX_INT = 2147483647


def _fresh_client_id() -> str:
    """Return a new UUID4, offered afresh each time the browsable API form renders."""
    return str(uuid4())


class OrderCreateSerializer(serializers.Serializer):
    """An order to create; a retry sends the same client_id and payload."""

    client_id = serializers.CharField(
        min_length=1,
        max_length=128,
        trim_whitespace=False,
        initial=_fresh_client_id,
        help_text="Chosen by the client, unique per owner; a retry sends the same one.",
    )
    product_id = serializers.IntegerField(min_value=1, max_value=MAX_INT)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_INT)


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
