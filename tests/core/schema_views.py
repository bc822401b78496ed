"""Tiny views whose schema the schema tests read; they are never requested."""

from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView


class ItemSerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=128)
    quantity = serializers.IntegerField(min_value=1)


class BatchSerializer(serializers.Serializer):
    orders = ItemSerializer(many=True, allow_empty=False, max_length=1000)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    notes = serializers.JSONField(required=False)


class KeyRequiredView(APIView):
    permission_classes = [permissions.AllowAny]
    idempotency_key_required = True
    idempotency_ttl_seconds = 600
    idempotency_in_flight_wait_seconds = 0.5

    @extend_schema(request=ItemSerializer, responses={201: ItemSerializer})
    def post(self, request):
        return Response(status=201)


class BatchView(APIView):
    @extend_schema(request=BatchSerializer, responses={200: BatchSerializer})
    def post(self, request):
        return Response()


class ThrottledView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(request=ItemSerializer, responses={200: ItemSerializer})
    def post(self, request):
        return Response()


class ExemptView(ThrottledView):
    idempotency_exempt = True


urlpatterns = [
    path("api/required/", KeyRequiredView.as_view()),
    path("api/batch/", BatchView.as_view()),
    path("api/throttled/", ThrottledView.as_view()),
    path("api/exempt/", ExemptView.as_view()),
    path("elsewhere/", BatchView.as_view()),
]


def schema():
    """Return the OpenAPI schema of these views."""
    return SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)
