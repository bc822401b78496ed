"""Mail carried by the outbox: its payload, its stable Message-ID and its sending."""

import hashlib
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.utils import DNS_NAME


def mail_payload(*, to: list[str], subject: str, body: str) -> dict[str, Any]:
    """Return the outbox payload of a plain-text mail to ``to``."""
    return {"to": list(to), "subject": subject, "body": body}


def mail_message_id(*, pk: int, dedupe_key: str) -> str:
    """Return the Message-ID of an outbox mail: the same on every attempt.

    It is derived from the message row, so a mail sent twice (the one window
    in docs/outbox.md) carries one Message-ID and a reader can tell.
    """
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    return f"<outbox.{pk}.{digest}@{domain or DNS_NAME}>"


def mail_send(*, pk: int, dedupe_key: str, payload: dict[str, Any]) -> None:
    """Send the mail in ``payload``; return once the server accepted it.

    Raise smtplib.SMTPException or OSError when the server refuses, fails or
    does not answer within ``EMAIL_TIMEOUT`` seconds.
    """
    message = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        to=payload["to"],
        headers={"Message-ID": mail_message_id(pk=pk, dedupe_key=dedupe_key)},
        connection=get_connection(fail_silently=False),
    )
    message.send(fail_silently=False)
