from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext

from outbox.models import OutboxMessage
from outbox.services import mail_publish, publish


def publish_mail(key="k-1", subject="Hi"):
    mail_publish(
        topic="mail.test",
        dedupe_key=key,
        to=["a@example.com"],
        subject=subject,
        body="B",
    )


class PublishTests(TestCase):
    def test_writes_one_pending_message_and_hands_it_over_after_the_commit(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            publish_mail()
        message = OutboxMessage.objects.get()
        self.assertEqual(message.state, "pending")
        self.assertEqual(message.topic, "mail.test")
        self.assertEqual(message.payload["subject"], "Hi")
        self.assertEqual(message.attempts, 0)
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(
            callbacks[0].keywords, {"dedupe_key": "k-1", "topic": "mail.test"}
        )

    def test_is_one_statement(self):
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            publish_mail()
        self.assertEqual(len(queries), 1, [q["sql"] for q in queries])
        self.assertTrue(queries[0]["sql"].startswith("INSERT"))

    def test_same_dedupe_key_again_adds_nothing_and_keeps_the_first_message(self):
        publish_mail(subject="first")
        publish_mail(subject="second")
        self.assertEqual(OutboxMessage.objects.get().payload["subject"], "first")

    def test_rolled_back_transaction_leaves_no_message_and_no_hand_over(self):
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    publish_mail()
                    raise LookupError("the business change failed")
            except LookupError:
                pass
        self.assertEqual(callbacks, [])
        self.assertFalse(OutboxMessage.objects.exists())

    def test_topic_no_worker_carries_out_is_refused(self):
        with self.assertRaises(ValueError):
            publish("sms.welcome", {}, dedupe_key="k")
        self.assertFalse(OutboxMessage.objects.exists())


class PublishOutsideTransactionTests(TransactionTestCase):
    def test_outside_a_transaction_is_an_error_and_writes_nothing(self):
        with self.assertRaises(TransactionManagementError):
            publish_mail()
        self.assertFalse(OutboxMessage.objects.exists())
