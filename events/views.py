"""/api/webhook-endpoints/: staff register the URLs that receive events."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from events.models import WebhookEndpoint
from events.serializers import (
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)
from events.services import endpoint_create, endpoint_update


@extend_schema_view(
    list=extend_schema(summary="List the webhook endpoints (staff)"),
    retrieve=extend_schema(summary="Read one webhook endpoint (staff)"),
    destroy=extend_schema(summary="Remove a webhook endpoint (staff)"),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Endpoints that receive signed events; staff tokens only.

    The create answer holds the secret, which no stored reply may hold: the
    view is outside the key layer, like the token endpoint.
    """

    permission_classes = [permissions.IsAuthenticated, permissions.IsAdminUser]
    serializer_class = WebhookEndpointSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    idempotency_exempt = True

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.order_by("id")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return WebhookEndpointCreateSerializer
        if self.action == "partial_update":
            return WebhookEndpointUpdateSerializer
        return WebhookEndpointSerializer

    @extend_schema(
        summary="Register a webhook endpoint (staff); the answer shows its secret once",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        params = WebhookEndpointCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        endpoint = endpoint_create(**params.validated_data)
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Change a webhook endpoint's url, events or enabled flag (staff)",
        request=WebhookEndpointUpdateSerializer,
        responses={
            200: WebhookEndpointSerializer,
            404: OpenApiResponse(description="No such endpoint (`not_found`)."),
        },
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        params = WebhookEndpointUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=endpoint, **params.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)
