"""Input and output shapes of the accounts API."""

from django.contrib.auth import authenticate
from rest_framework import serializers

from accounts.exceptions import BadCredentials
from accounts.models import User


class UserCreateSerializer(serializers.Serializer):
    """Sign-up input; uniqueness is the database's job, not a validator's."""

    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(
        max_length=150, allow_blank=True, trim_whitespace=False
    )
    password = serializers.CharField(
        max_length=128,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )
    client_id = serializers.CharField(
        max_length=128, required=False, allow_null=True, trim_whitespace=False
    )


class UserSerializer(serializers.ModelSerializer):
    """A user as the API shows it; never the password."""

    class Meta:
        model = User
        fields = ["id", "email", "name", "client_id"]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    """E-mail and password in exchange for a token."""

    email = serializers.CharField(max_length=254)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )

    def validate(self, attrs: dict) -> dict:
        """Authenticate the credentials; raise BadCredentials when they do not match."""
        user = authenticate(
            request=self.context.get("request"),
            email=attrs["email"],
            password=attrs["password"],
        )
        if user is None:
            raise BadCredentials
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    """The token a client sends as ``Authorization: Token <token>``."""

    token = serializers.CharField(read_only=True)
