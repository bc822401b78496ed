"""Input and output shapes of the accounts API."""

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import User
from core.fields import StringField


class UserCreateSerializer(serializers.Serializer):
    """Sign-up input; uniqueness is the database's job, not a validator's."""

    email = serializers.EmailField(max_length=254)
    name = StringField(max_length=150, allow_blank=True, trim_whitespace=False)
    password = StringField(
        max_length=128,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )
    client_id = StringField(
        max_length=128, required=False, allow_null=True, trim_whitespace=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Apply AUTH_PASSWORD_VALIDATORS; their messages are errors on ``password``."""
        user = User(email=attrs["email"], name=attrs["name"])
        try:
            validate_password(attrs["password"], user=user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from exc
        return attrs


class UserSerializer(serializers.ModelSerializer):
    """A user as the API shows it; never the password."""

    class Meta:
        model = User
        fields = ["id", "email", "name", "client_id"]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    """E-mail and password in exchange for a token."""

    email = StringField(max_length=254)
    password = StringField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    """The token a client sends as ``Authorization: Token <token>``."""

    token = serializers.CharField(read_only=True)
