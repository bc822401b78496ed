"""The custom user: the e-mail is the login, unique whatever its case."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.citus import Reference


class UserQuerySet(models.QuerySet["User"]):
    """Queries on users."""

    def with_email(self, email: str) -> "UserQuerySet":
        """Return the users whose e-mail equals ``email``, ignoring case (uses the unique index)."""
        return self.alias(email_lower=Lower("email")).filter(email_lower=email.lower())


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    """Create users and superusers keyed by e-mail."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        """Return the user with this e-mail, ignoring case, for authentication."""
        return self.with_email(username or "").get()

    def create_user(
        self, email: str, password: str | None = None, **extra: Any
    ) -> "User":
        """Create and return a user with this e-mail and password."""
        if not email:
            raise ValueError("users must have an e-mail address")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(
        self, email: str, password: str | None = None, **extra: Any
    ) -> "User":
        """Create and return a staff superuser."""
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail and a password.

    Read by every request and referenced by every user-owned table: a copy on
    every node.
    """

    distribution = Reference()

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=150, blank=True, default="")
    client_id = models.CharField(max_length=128, unique=True, null=True, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="accounts_user_email_lower_uniq"
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email
