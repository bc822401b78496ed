"""Sign-up: one user per identity, and the welcome e-mail exactly once."""

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from accounts.exceptions import ClientIdMismatch, EmailTaken
from accounts.models import User
from accounts.serializers import UserSerializer
from events.records import user_created_record
from outbox.services import mail_publish


def user_sign_up(
    *, email: str, name: str, password: str, client_id: str | None = None
) -> tuple[User, bool]:
    """Create the user once and return ``(user, created)``.

    With a ``client_id`` a retry returns the existing user. Raise ClientIdMismatch
    when that ``client_id`` was used with another e-mail or name, and EmailTaken
    when another user already has the e-mail.
    """
    email = User.objects.normalize_email(email)
    fields = {"email": email, "name": name, "password": make_password(password)}
    try:
        with transaction.atomic():
            if client_id is None:
                user, created = User.objects.create(**fields), True
            else:
                user, created = User.objects.get_or_create(
                    client_id=client_id, defaults=fields
                )
            if created:
                welcome_email_publish(user=user)
                user_created_record(user=user, data=UserSerializer(user).data)
    except IntegrityError as exc:
        # The savepoint above is gone; the only other unique key is the e-mail.
        raise EmailTaken from exc
    if not created and (user.email.lower() != email.lower() or user.name != name):
        raise ClientIdMismatch
    return user, created


def welcome_email_publish(*, user: User) -> None:
    """Write the welcome e-mail to the outbox in the caller's transaction.

    The worker sends it after the commit; its dedupe key makes it one per user.
    """
    mail_publish(
        topic="mail.welcome",
        dedupe_key=f"welcome:{user.pk}",
        owner=user.pk,
        to=[user.email],
        subject="Welcome to Idem",
        body=f"Hello {user.name or user.email},\n\nyour Idem account is ready.\n",
    )
