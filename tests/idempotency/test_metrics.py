from django.test import TestCase, override_settings
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from tests.idempotency.helpers import TEST_URLS, CounterDelta, keyed

KEY = "very-secret-key-4f1c9a"


@override_settings(ROOT_URLCONF=TEST_URLS)
class OutcomeCounterTests(TestCase):
    def post(self, body=None, headers=None, path="/api/things/"):
        return APIClient().post(
            path, body or {"name": "a"}, format="json", headers=headers
        )

    def test_every_outcome_is_exposed_before_it_happens(self):
        for outcome in CounterDelta.outcomes:
            with self.subTest(outcome=outcome):
                self.assertIsNotNone(
                    REGISTRY.get_sample_value(
                        "idempotency_requests_total", {"outcome": outcome}
                    )
                )
        self.assertIsNotNone(
            REGISTRY.get_sample_value("idempotency_wait_seconds_count")
        )

    def test_a_recorded_reply_counts_as_created(self):
        with CounterDelta() as delta:
            self.assertEqual(self.post(headers=keyed(KEY)).status_code, 201)
        self.assertEqual(delta.moved, {"created": 1})

    def test_a_request_without_a_key_counts_nothing(self):
        with CounterDelta() as delta:
            self.assertEqual(self.post().status_code, 201)
        self.assertEqual(delta.moved, {})

    def test_replay_and_mismatch_count_and_log_one_line_without_the_key(self):
        self.post(headers=keyed(KEY))
        with (
            CounterDelta() as delta,
            self.assertLogs("idempotency", level="INFO") as logs,
        ):
            self.assertEqual(self.post(headers=keyed(KEY)).status_code, 200)
            self.assertEqual(
                self.post({"name": "b"}, headers=keyed(KEY)).status_code, 422
            )
        self.assertEqual(delta.moved, {"replayed": 1, "mismatch": 1})
        self.assertEqual(len(logs.records), 2)
        for record, outcome in zip(logs.records, ["replayed", "mismatch"], strict=True):
            with self.subTest(outcome=outcome):
                line = record.getMessage()
                self.assertIn(f"idempotency {outcome} ", line)
                self.assertIn("principal=anonymous", line)
                self.assertIn("method=POST path=/api/things/", line)
                self.assertRegex(line, r"key=[0-9a-f]{12} ")
                self.assertNotIn(KEY, line)
                self.assertNotIn(KEY, str(record.__dict__))

    def test_an_invalid_or_missing_required_key_counts(self):
        with CounterDelta() as delta:
            self.assertEqual(self.post(headers=keyed("bad key")).status_code, 400)
            self.assertEqual(self.post(path="/api/required/").status_code, 400)
        self.assertEqual(delta.moved, {"invalid": 1, "required": 1})

    def test_a_reply_that_is_not_2xx_releases_the_key(self):
        with CounterDelta() as delta:
            response = self.post({"fail": True}, headers=keyed(KEY))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(delta.moved, {"released": 1})
