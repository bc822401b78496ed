from datetime import timedelta

from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outbox.conf import outbox_settings
from outbox.delivery import message_deliver
from outbox.mail import mail_message_id
from outbox.models import OutboxMessage
from outbox.services import messages_retry
from tests.outbox.smtp import SmtpServer


def make_message(key="welcome:1", **fields):
    payload = {"to": ["ada@example.com"], "subject": "Welcome", "body": "Hello"}
    return OutboxMessage.objects.create(
        topic="mail.welcome", payload=payload, dedupe_key=key, **fields
    )


class DeliverTests(TestCase):
    def test_sends_once_with_a_message_id_derived_from_the_message_then_records_it(
        self,
    ):
        message = make_message()
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "sent")
        self.assertEqual(len(mail.outbox), 1)
        sent = mail.outbox[0]
        self.assertEqual(sent.to, ["ada@example.com"])
        self.assertEqual(
            sent.extra_headers["Message-ID"],
            mail_message_id(pk=message.pk, dedupe_key="welcome:1"),
        )
        message.refresh_from_db()
        self.assertEqual((message.state, message.attempts), ("done", 1))
        self.assertIsNotNone(message.done_at)
        self.assertIsNone(message.leased_until)

    def test_message_id_is_stable_and_names_the_sender_domain(self):
        first = mail_message_id(pk=7, dedupe_key="receipt:7")
        self.assertEqual(first, mail_message_id(pk=7, dedupe_key="receipt:7"))
        self.assertNotEqual(first, mail_message_id(pk=8, dedupe_key="receipt:8"))
        self.assertRegex(first, r"^<outbox\.7\.[0-9a-f]{16}@idem\.invalid>$")

    def test_a_second_delivery_of_a_sent_message_sends_nothing(self):
        make_message()
        message_deliver(dedupe_key="welcome:1")
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "duplicate")
        self.assertEqual(len(mail.outbox), 1)

    def test_message_held_by_another_worker_is_left_alone_until_its_lease_ends(self):
        until = timezone.now() + timedelta(seconds=30)
        make_message(state="handed_over", leased_until=until, attempts=1)
        delivery = message_deliver(dedupe_key="welcome:1")
        self.assertEqual(delivery.outcome, "busy")
        self.assertGreater(delivery.retry_in, 25)
        self.assertEqual(len(mail.outbox), 0)

    def test_message_whose_lease_ended_is_sent_by_the_next_worker(self):
        until = timezone.now() - timedelta(seconds=1)
        make_message(state="handed_over", leased_until=until, attempts=1)
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "sent")
        self.assertEqual(OutboxMessage.objects.get().attempts, 2)

    def test_failed_or_missing_message_is_not_sent(self):
        make_message(state="failed")
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "failed")
        self.assertEqual(message_deliver(dedupe_key="nope").outcome, "missing")
        self.assertEqual(len(mail.outbox), 0)


class DeliverOverSmtpTests(TestCase):
    def test_refused_attempt_keeps_the_error_releases_the_lease_and_asks_for_backoff(
        self,
    ):
        make_message()
        with SmtpServer(refuse_first=1) as smtp, override_settings(**smtp.settings()):
            refused = message_deliver(dedupe_key="welcome:1")
            message = OutboxMessage.objects.get()
            self.assertEqual((refused.outcome, refused.backoff), ("retried", True))
            self.assertEqual((message.state, message.attempts), ("handed_over", 1))
            self.assertIn("451", message.last_error)
            self.assertIsNone(message.leased_until)
            self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "sent")
        self.assertEqual(len(smtp.accepted), 1)
        self.assertEqual(len(set(smtp.attempts)), 1, "one Message-ID on every attempt")
        self.assertEqual(smtp.accepted[0]["Message-ID"], smtp.attempts[0])
        self.assertEqual(OutboxMessage.objects.get().last_error, "")

    def test_still_failing_after_the_give_up_time_is_marked_failed(self):
        first = timezone.now() - timedelta(hours=25)
        make_message(
            state="handed_over",
            attempts=3000,
            finished_attempts=3000,
            first_attempt_at=first,
        )
        with SmtpServer(refuse_all=True) as smtp, override_settings(**smtp.settings()):
            delivery = message_deliver(dedupe_key="welcome:1")
        self.assertEqual((delivery.outcome, delivery.backoff), ("failed", False))
        message = OutboxMessage.objects.get()
        self.assertEqual(message.state, "failed")
        self.assertIn("451", message.last_error)

    def test_within_a_day_of_the_first_attempt_a_failure_is_retried(self):
        first = timezone.now() - timedelta(hours=23)
        make_message(
            state="handed_over",
            attempts=2000,
            finished_attempts=2000,
            first_attempt_at=first,
        )
        with SmtpServer(refuse_all=True) as smtp, override_settings(**smtp.settings()):
            self.assertTrue(message_deliver(dedupe_key="welcome:1").backoff)
        self.assertEqual(OutboxMessage.objects.get().state, "handed_over")

    def test_unreachable_mail_server_is_a_failed_attempt_not_a_crash(self):
        make_message()
        with SmtpServer() as smtp:
            port = smtp.port
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
        ):
            self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "retried")
        self.assertIn("ConnectionRefusedError", OutboxMessage.objects.get().last_error)


class RetryFailedTests(TestCase):
    def test_failed_messages_go_back_to_pending_and_are_handed_over(self):
        failed = make_message(state="failed", attempts=9, last_error="451 no")
        done = make_message(key="welcome:2", state="done")
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.assertEqual(messages_retry([failed.pk, done.pk]), 1)
        failed.refresh_from_db()
        done.refresh_from_db()
        self.assertEqual((failed.state, failed.attempts), ("pending", 9))
        self.assertIsNone(failed.first_attempt_at)
        self.assertEqual(done.state, "done")
        self.assertEqual([c.keywords["dedupe_key"] for c in callbacks], ["welcome:1"])


class RelayableTests(TestCase):
    def relayable(self):
        return set(
            OutboxMessage.objects.relayable(relay_after=5, rehand_after=60).values_list(
                "dedupe_key", flat=True
            )
        )

    def test_selects_what_was_committed_but_not_carried_out_in_time(self):
        now = timezone.now()
        old, recent = now - timedelta(seconds=60), now - timedelta(seconds=1)
        long_ago = now - timedelta(minutes=10)
        make_message("pending-old", created_at=old)
        make_message("pending-new", created_at=recent)
        make_message("pending-just-relayed", created_at=old, relayed_at=recent)
        make_message("pending-relayed-long-ago", created_at=old, relayed_at=long_ago)
        make_message("taken-lost", state="handed_over", attempted_at=long_ago)
        make_message("taken-retrying", state="handed_over", attempted_at=recent)
        make_message(
            "taken-held",
            state="handed_over",
            attempted_at=long_ago,
            leased_until=now + timedelta(seconds=30),
        )
        make_message("done", state="done", created_at=old)
        make_message("failed", state="failed", created_at=old)
        self.assertEqual(
            self.relayable(),
            {"pending-old", "pending-relayed-long-ago", "taken-lost"},
        )

    def test_by_default_a_lost_task_is_handed_over_again_a_minute_after_its_attempt(
        self,
    ):
        now = timezone.now()
        make_message(
            "lost", state="handed_over", attempted_at=now - timedelta(seconds=62)
        )
        make_message(
            "late", state="handed_over", attempted_at=now - timedelta(seconds=50)
        )
        relayable = OutboxMessage.objects.relayable(
            relay_after=outbox_settings.RELAY_AFTER_SECONDS,
            rehand_after=outbox_settings.REHAND_AFTER_SECONDS,
        )
        self.assertEqual(list(relayable.values_list("dedupe_key", flat=True)), ["lost"])
        # With the scheduler's interval, well within the two minutes after a fault.
        interval = settings.CELERY_BEAT_SCHEDULE["outbox-relay"]["schedule"]
        self.assertLessEqual(outbox_settings.REHAND_AFTER_SECONDS + interval, 90)


class FailureClassTests(TestCase):
    def test_a_permanent_refusal_fails_at_once_with_the_servers_reply(self):
        make_message()
        reply = "550 5.1.1 No such user here"
        smtp = SmtpServer(refuse_all=True, reply=reply)
        with smtp, override_settings(**smtp.settings()):
            delivery = message_deliver(dedupe_key="welcome:1")
        self.assertEqual((delivery.outcome, delivery.backoff), ("failed", False))
        message = OutboxMessage.objects.get()
        self.assertEqual((message.state, message.attempts), ("failed", 1))
        self.assertEqual(message.last_error, reply)

    def test_an_error_of_no_known_class_is_retried_ten_times_then_fails(self):
        payload = {"to": ["ada@example.com"], "body": "no subject"}
        OutboxMessage.objects.create(
            topic="mail.welcome", payload=payload, dedupe_key="welcome:1"
        )
        outcomes = [message_deliver(dedupe_key="welcome:1") for _ in range(10)]
        self.assertEqual([d.outcome for d in outcomes], ["retried"] * 9 + ["failed"])
        self.assertTrue(all(d.backoff for d in outcomes[:9]))
        message = OutboxMessage.objects.get()
        self.assertEqual((message.state, message.other_errors), ("failed", 10))
        self.assertEqual(message.last_error, "KeyError: 'subject'")
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "failed")

    def test_the_reason_never_holds_the_mail_servers_password(self):
        make_message()
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="host-with-s3cret-in-its-name.invalid",
            EMAIL_HOST_PASSWORD="s3cret",
            EMAIL_TIMEOUT=1,
        ):
            message_deliver(dedupe_key="welcome:1")
        self.assertNotIn("s3cret", OutboxMessage.objects.get().last_error)

    def test_five_attempts_that_never_finished_make_the_message_failed_crashed(self):
        make_message(state="handed_over", attempts=5, finished_attempts=0)
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "failed")
        message = OutboxMessage.objects.get()
        self.assertEqual((message.state, message.last_error), ("failed", "crashed"))
        self.assertEqual(message.attempts, 5)
        self.assertEqual(len(mail.outbox), 0)

    def test_four_unfinished_attempts_leave_a_fifth_to_be_made(self):
        make_message(state="handed_over", attempts=4, finished_attempts=0)
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "sent")
        self.assertEqual(len(mail.outbox), 1)

    def test_a_retried_crashed_message_is_tried_again(self):
        crashed = make_message(state="failed", attempts=5, last_error="crashed")
        with self.captureOnCommitCallbacks(execute=False):
            messages_retry([crashed.pk])
        self.assertEqual(message_deliver(dedupe_key="welcome:1").outcome, "sent")


class DatabaseClockTests(TestCase):
    def test_the_lease_and_the_attempt_are_timed_by_the_database(self):
        make_message()
        with CaptureQueriesContext(connection) as queries:
            OutboxMessage.objects.claim(
                OutboxMessage.objects.get().pk, lease_seconds=60
            )
        (update,) = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
        self.assertRegex(update, r"CURRENT_TIMESTAMP|STATEMENT_TIMESTAMP|NOW")
        message = OutboxMessage.objects.get()
        lease = (message.leased_until - message.attempted_at).total_seconds()
        self.assertAlmostEqual(lease, 60, delta=1)
