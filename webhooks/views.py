"""The payment provider's webhook endpoint."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser
from webhooks.models import WebhookEvent
from webhooks.serializers import PaymentEventSerializer, WebhookEventResultSerializer
from webhooks.services import payment_event_accept


class PaymentWebhookView(APIView):
    """Payment provider events, signed with the shared secret, processed once each."""

    # The signature is the credential; no user is involved.
    authentication_classes = []
    permission_classes = [AllowAny]
    # Only for the schema: the body is parsed from the signed bytes, never by DRF
    # (so no 415 either).
    parser_classes = [JSONParser]
    parses_request_body = False

    @extend_schema(
        operation_id="webhooks_payments_create",
        request=PaymentEventSerializer,
        parameters=[
            OpenApiParameter(
                "X-Signature",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="sha256=<hex HMAC-SHA256 of the raw body with the shared secret>",
            )
        ],
        responses={
            200: WebhookEventResultSerializer,
            400: OpenApiResponse(description="The signed body is not a valid event."),
            401: OpenApiResponse(description="The signature is missing or wrong."),
        },
    )
    def post(self, request: Request) -> Response:
        # The exact bytes the signature covers; over 2 MiB the project's exception
        # handler turns Django's RequestDataTooBig into 413.
        event, created = payment_event_accept(
            body=request.body,
            signature=request.headers.get("X-Signature"),
            source=WebhookEvent.Source.WEBHOOK,
        )
        context = {"duplicate": not created}
        return Response(WebhookEventResultSerializer(event, context=context).data)
