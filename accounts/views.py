"""Sign-up, the user list and the token endpoint."""

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.lockout import login_refusal
from accounts.models import User
from accounts.serializers import (
    TokenCreateSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSerializer,
)
from accounts.services import user_sign_up
from core.responses import create_response


class UserViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Sign up (anyone); list and read users (staff: all, others: themselves)."""

    serializer_class = UserSerializer

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "create":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_serializer_class(self) -> type:
        return UserCreateSerializer if self.action == "create" else UserSerializer

    def get_queryset(self) -> QuerySet[User]:
        users = User.objects.order_by("id")
        if self.request.user.is_staff:
            return users
        return users.filter(pk=self.request.user.pk)

    @extend_schema(
        request=UserCreateSerializer,
        responses={
            201: UserSerializer,
            200: UserSerializer,
            422: OpenApiResponse(
                description="The client_id was used with another e-mail or name "
                "(`client_id_mismatch`)."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        params = UserCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user, created = user_sign_up(**params.validated_data)
        return create_response(
            request,
            body=UserSerializer(user).data,
            created=created,
            detail_url="user-detail",
            pk=user.pk,
        )


class TokenView(APIView):
    """Exchange an e-mail and password for an API token.

    The reply is a credential: the view opts out of idempotency records.
    django-axes counts failed attempts per client address (429 with Retry-After).
    """

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    idempotency_exempt = True
    answers_throttled = True  # the lockout, which is not a DRF throttle
    serializer_class = TokenCreateSerializer

    @extend_schema(
        request=TokenCreateSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                description="Wrong e-mail or password (`invalid_credentials`)."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        params = TokenCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = authenticate(request=request, **params.validated_data)
        if user is None:
            raise login_refusal(request)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_200_OK)
