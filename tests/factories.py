"""Small functions that make test data."""

from itertools import count
from typing import Any

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User

_serial = count(1)


def make_user(**overrides: Any) -> User:
    """Create a user with a unique e-mail; ``password`` defaults to ``pw-<n>-secret``."""
    n = next(_serial)
    fields: dict[str, Any] = {
        "email": f"user{n}@example.com",
        "name": f"User {n}",
        "password": f"pw-{n}-secret",
    }
    fields.update(overrides)
    return User.objects.create_user(**fields)


def make_staff(**overrides: Any) -> User:
    """Create a staff user."""
    overrides.setdefault("is_staff", True)
    return make_user(**overrides)


def token_client(user: User) -> APIClient:
    """Return an API client that authenticates as ``user`` with a real token header."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
