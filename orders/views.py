"""Orders: create by client id, list and read one's own, and move through states."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.responses import create_response
from orders.models import Order
from orders.serializers import OrderCreateSerializer, OrderSerializer
from orders.services import order_transition

_TRANSITION_SCHEMA = extend_schema(
    request=None,
    responses={
        200: OrderSerializer,
        404: OpenApiResponse(description="No such order of the caller's."),
        409: OpenApiResponse(
            description="Not allowed from the current status (`invalid_transition`)."
        ),
    },
)


@extend_schema_view(
    list=extend_schema(summary="List the caller's orders, newest first"),
    retrieve=extend_schema(
        summary="Read one of the caller's orders",
        responses={
            200: OrderSerializer,
            404: OpenApiResponse(description="No such order of the caller's."),
        },
    ),
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
            .prefetch_related("events")
            .order_by("-created_at", "-id")
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return OrderCreateSerializer
        return OrderSerializer

    @extend_schema(
        summary="Create an order once per client_id",
        request=OrderCreateSerializer,
        responses={
            201: OrderSerializer,
            200: OpenApiResponse(
                OrderSerializer, description="A retry: the existing order."
            ),
            400: OpenApiResponse(description="Invalid input, with field errors."),
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
            body=OrderSerializer(order).data,
            created=created,
            detail_url="order-detail",
            pk=order.pk,
        )

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
        order, _ = order_transition(order_id=self.get_object().pk, to=to)
        return Response(OrderSerializer(order).data, status=status.HTTP_200_OK)
