"""A real SMTP server (aiosmtpd) in a thread, which can refuse or hold mail."""

import asyncio
import threading
from email import message_from_bytes

from aiosmtpd.controller import Controller

from tests.servers import free_port


class SmtpServer:
    """Accept mail on a free port; refuse the first ``refuse_first`` with ``reply``.

    Every DATA is an attempt (its Message-ID is kept); only a 250 answer makes
    an accepted mail. With ``hold_first`` the first attempt is held until
    ``release()`` and then refused, as a connection whose client died would be;
    with ``hold_all`` every attempt is, and ``holding`` is set at each.
    """

    def __init__(
        self,
        *,
        refuse_first=0,
        refuse_all=False,
        hold_first=False,
        hold_all=False,
        reply="451 4.3.0 Try again later",
    ):
        self.port = free_port()
        self.refuse_first = refuse_first
        self.refuse_all = refuse_all
        self.hold_first = hold_first
        self.hold_all = hold_all
        self.reply = reply
        self.attempts = []
        self.accepted = []
        self.holding = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        with self._lock:
            self.attempts.append(message["Message-ID"])
            number = len(self.attempts)
        if self.hold_all:
            # Never answers: the client waits until it dies or times out.
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Dropped"
        if self.hold_first and number == 1:
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Dropped"
        if self.refuse_all or number <= self.refuse_first:
            return self.reply
        with self._lock:
            self.accepted.append(message)
        return "250 2.0.0 OK"

    def release(self):
        self._released.set()

    def env(self):
        """Django's SMTP settings pointing at this server, as environment variables."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_TIMEOUT": "5",
        }

    def settings(self):
        """The same, for override_settings."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_TIMEOUT": 5,
        }

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.controller.stop()
