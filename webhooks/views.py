"""Views of the webhooks app."""

from rest_framework.views import APIView


class PaymentWebhookView(APIView):
    """Payment provider events."""
