"""Sign-up: one user per identity, and the welcome e-mail exactly once."""

from functools import partial

from django.contrib.auth.hashers import make_password
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from accounts.exceptions import ClientIdMismatch, EmailTaken
from accounts.models import User


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
                transaction.on_commit(partial(welcome_email_send, user_id=user.pk))
    except IntegrityError as exc:
        # The savepoint above is gone; the only other unique key is the e-mail.
        raise EmailTaken from exc
    if not created and (user.email.lower() != email.lower() or user.name != name):
        raise ClientIdMismatch
    return user, created


def welcome_email_send(*, user_id: int) -> bool:
    """Send the welcome e-mail unless it was sent already; return whether it was sent.

    The conditional UPDATE is the guard: of any number of callers, one wins.
    """
    if not User.objects.claim_welcome_email(user_id):
        return False
    user = User.objects.get(pk=user_id)
    send_mail(
        subject="Welcome to Idem",
        message=f"Hello {user.name or user.email},\n\nyour Idem account is ready.\n",
        from_email=None,
        recipient_list=[user.email],
    )
    return True
