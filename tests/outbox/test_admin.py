from django.test import TestCase

from outbox.models import OutboxMessage
from tests.factories import make_staff, make_user

URL = "/admin/outbox/outboxmessage/"


def make_message(key, **fields):
    payload = {"to": ["a@example.com"], "subject": "S", "body": "B"}
    return OutboxMessage.objects.create(
        topic="mail.welcome", payload=payload, dedupe_key=key, **fields
    )


class OutboxAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(is_superuser=True)
        cls.failed = make_message(
            "welcome:1", state="failed", attempts=4000, last_error="451 Try later"
        )
        cls.done = make_message("welcome:2", state="done", attempts=1)
        cls.pending = make_message("welcome:3")

    def setUp(self):
        self.client.force_login(self.staff)

    def test_changelist_shows_state_attempts_and_last_error_and_filters_by_state(self):
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "451 Try later")
        self.assertContains(response, "4000")
        listed = self.client.get(URL + "?state__exact=failed").context["cl"]
        self.assertEqual([m.dedupe_key for m in listed.result_list], ["welcome:1"])

    def test_detail_is_read_only(self):
        response = self.client.get(f"{URL}{self.failed.pk}/change/")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'name="_save"')
        self.assertEqual(self.client.get(URL + "add/").status_code, 403)
        post = self.client.post(f"{URL}{self.failed.pk}/change/", {"state": "done"})
        self.assertEqual(post.status_code, 403)
        self.assertEqual(
            self.client.post(
                f"{URL}{self.failed.pk}/delete/", {"post": "yes"}
            ).status_code,
            403,
        )

    def test_retry_action_puts_failed_messages_back_and_hands_them_over(self):
        selected = [self.failed.pk, self.done.pk, self.pending.pk]
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = self.client.post(
                URL, {"action": "retry", "_selected_action": selected}, follow=True
            )
        self.assertContains(response, "1 failed message(s) handed over again.")
        states = dict(OutboxMessage.objects.values_list("dedupe_key", "state"))
        self.assertEqual(
            states,
            {"welcome:1": "pending", "welcome:2": "done", "welcome:3": "pending"},
        )
        self.assertEqual([c.keywords["dedupe_key"] for c in callbacks], ["welcome:1"])

    def test_non_staff_cannot_see_the_outbox(self):
        self.client.force_login(make_user())
        self.assertEqual(self.client.get(URL).status_code, 302)
