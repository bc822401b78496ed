"""Orders: create by client id, list and read one's own, and move through states."""

from typing import Any

from django.db.models import QuerySet, prefetch_related_objects
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.parsers import JSONParser
from core.responses import create_response
from orders.models import Order, history_prefetch
from orders.serializers import (
    OrderBatchResultSerializer,
    OrderBatchSerializer,
    OrderCreateSerializer,
    OrderSerializer,
)
from orders.services import ImportItem, order_transition, orders_import

_TRANSITION_SCHEMA = extend_schema(
    request=None,
    responses={
        200: OrderSerializer,
        409: OpenApiResponse(
            description="Not allowed from the current status (`invalid_transition`)."
        ),
    },
)


@extend_schema_view(
    list=extend_schema(summary="List the caller's orders, newest first"),
    retrieve=extend_schema(summary="Read one of the caller's orders"),
)
class OrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The caller's orders; a retried create or transition changes nothing."""

    # For schema generation only; every request goes through get_queryset().
    queryset = Order.objects.none()

    def get_queryset(self) -> QuerySet[Order]:
        return (
            Order.objects.filter(owner=self.request.user)
            .prefetch_related(history_prefetch(self.request.user.pk))
            .order_by("-created_at", "-id")
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return OrderCreateSerializer
        if self.action == "batch":
            return OrderBatchSerializer
        return OrderSerializer

    @extend_schema(
        summary="Create an order once per client_id",
        request=OrderCreateSerializer,
        responses={
            201: OrderSerializer,
            200: OpenApiResponse(
                OrderSerializer, description="A retry: the existing order."
            ),
            422: OpenApiResponse(
                description="The client_id was used with another product or "
                "quantity (`client_id_mismatch`)."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        params = OrderCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        order, created = Order.objects.get_or_create_by_client_id(
            owner=request.user, **params.validated_data
        )
        return create_response(
            request,
            body=_shown(order),
            created=created,
            detail_url="order-detail",
            pk=order.pk,
        )

    @extend_schema(
        summary="Re-import up to 1,000 orders, each created once per client_id",
        request=OrderBatchSerializer,
        responses={
            200: OpenApiResponse(
                OrderBatchResultSerializer,
                description="One result an item, in the order sent: `created`, "
                "`existing` (same product and quantity) or `mismatch` (another "
                "product or quantity; nothing changed).",
            ),
        },
    )
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def batch(self, request: Request) -> Response:
        params = OrderBatchSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        results = orders_import(
            owner=request.user,
            items=[ImportItem(**item) for item in params.validated_data["orders"]],
        )
        return Response(OrderBatchResultSerializer({"results": results}).data)

    @_TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def process(self, request: Request, pk: str) -> Response:
        return self._transition(to=Order.Status.PROCESSING)

    @_TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        return self._transition(to=Order.Status.COMPLETED)

    @_TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._transition(to=Order.Status.CANCELLED)

    def _transition(self, *, to: str) -> Response:
        # get_object() scopes to the caller and answers 404 for any other order.
        order, _ = order_transition(
            order_id=self.get_object().pk, to=to, owner_id=self.request.user.pk
        )
        return Response(_shown(order), status=status.HTTP_200_OK)


def _shown(order: Order) -> dict[str, Any]:
    """Return the order as the API shows it, its events read on its owner's shard."""
    prefetch_related_objects([order], history_prefetch(order.owner_id))
    return OrderSerializer(order).data
