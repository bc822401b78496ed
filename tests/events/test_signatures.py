import time

from django.test import SimpleTestCase

from events.signatures import signature_header, verify_signature

SECRET = "whsec_test"
BODY = b'{"id":"e-1","type":"order.completed"}'


class VerifySignatureTests(SimpleTestCase):
    def header(self, at):
        return signature_header(body=BODY, secret=SECRET, timestamp=int(at))

    def test_a_fresh_signature_of_the_body_verifies(self):
        self.assertTrue(verify_signature(BODY, self.header(time.time()), SECRET))

    def test_another_body_or_secret_fails(self):
        header = self.header(time.time())
        self.assertFalse(verify_signature(BODY + b" ", header, SECRET))
        self.assertFalse(verify_signature(BODY, header, "whsec_other"))

    def test_a_timestamp_older_than_five_minutes_fails(self):
        now = time.time()
        self.assertTrue(verify_signature(BODY, self.header(now - 299), SECRET, now=now))
        self.assertFalse(
            verify_signature(BODY, self.header(now - 301), SECRET, now=now)
        )

    def test_a_malformed_header_fails(self):
        for header in ("", "t=abc,v1=00", "v1=00", "t=1"):
            with self.subTest(header=header):
                self.assertFalse(verify_signature(BODY, header, SECRET))


class DocumentedVerifierTests(SimpleTestCase):
    """The function in docs/events.md, run as a receiver would run it."""

    def documented(self):
        from pathlib import Path

        from django.conf import settings

        text = (Path(settings.BASE_DIR) / "docs" / "events.md").read_text()
        code = text.split("```python\n", 1)[1].split("```", 1)[0]
        namespace = {}
        exec(code, namespace)  # noqa: S102  the project's own documentation
        return namespace["verify_signature"]

    def test_it_accepts_a_fresh_signature_and_refuses_an_old_or_wrong_one(self):
        verify = self.documented()
        now = int(time.time())
        self.assertTrue(
            verify(
                BODY, signature_header(body=BODY, secret=SECRET, timestamp=now), SECRET
            )
        )
        self.assertFalse(
            verify(
                BODY,
                signature_header(body=BODY, secret=SECRET, timestamp=now - 301),
                SECRET,
            )
        )
        self.assertFalse(
            verify(
                BODY + b"x",
                signature_header(body=BODY, secret=SECRET, timestamp=now),
                SECRET,
            )
        )
