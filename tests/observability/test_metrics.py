from django.core import checks
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from prometheus_client.parser import text_string_to_metric_families

from observability.metrics import CONSUMED_MESSAGES, OUTBOX_MESSAGES
from observability.views import MetricsView
from tests.factories import make_user, token_client
from tests.idempotency.helpers import OUTCOMES
from tests.observability.helpers import sample_value


def metrics_from(address):
    request = RequestFactory().get("/metrics", REMOTE_ADDR=address)
    return MetricsView.as_view()(request)


class MetricsAccessTests(SimpleTestCase):
    # /metrics reads gauges from the database at scrape time.
    databases = {"default"}

    def test_loopback_addresses_may_read_the_metrics_by_default(self):
        for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            with self.subTest(address=address):
                self.assertEqual(metrics_from(address).status_code, 200)

    def test_any_other_address_is_403(self):
        for address in ("10.0.0.1", "127.0.0.2", "192.168.1.1", "::2", "", "bogus"):
            with self.subTest(address=address):
                response = metrics_from(address)
                self.assertEqual(response.status_code, 403)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertEqual(
                    response.content,
                    b'{"detail": "You do not have permission to read the metrics.", '
                    b'"code": "permission_denied"}',
                )

    @override_settings(METRICS_ALLOWED_IPS=["10.0.0.0/8", "2001:db8::1"])
    def test_the_allowed_addresses_and_networks_come_from_the_setting(self):
        for address, status in [
            ("10.1.2.3", 200),
            ("2001:db8::1", 200),
            ("127.0.0.1", 403),
            ("11.0.0.1", 403),
        ]:
            with self.subTest(address=address):
                self.assertEqual(metrics_from(address).status_code, status)

    @override_settings(METRICS_ALLOWED_IPS=["not-an-address", "127.0.0.1"])
    def test_a_bad_entry_is_a_system_check_error_and_the_others_still_apply(self):
        errors = [e for e in checks.run_checks() if e.id == "observability.E001"]
        self.assertEqual(len(errors), 1)
        self.assertIn("'not-an-address'", errors[0].msg)
        self.assertEqual(metrics_from("127.0.0.1").status_code, 200)

    def test_only_get_and_head_are_allowed(self):
        request = RequestFactory().post("/metrics", REMOTE_ADDR="127.0.0.1")
        self.assertEqual(MetricsView.as_view()(request).status_code, 405)
        request = RequestFactory().head("/metrics", REMOTE_ADDR="127.0.0.1")
        self.assertEqual(MetricsView.as_view()(request).status_code, 200)


class MetricsFormatTests(TestCase):
    def scrape(self):
        response = self.client.get("/metrics")
        self.assertEqual(response.status_code, 200)
        return response

    def test_the_prometheus_text_format(self):
        response = self.scrape()
        self.assertEqual(
            response["Content-Type"], "text/plain; version=0.0.4; charset=utf-8"
        )
        families = {
            f.name: f for f in text_string_to_metric_families(response.content.decode())
        }
        self.assertEqual(families["idempotency_requests"].type, "counter")
        self.assertEqual(families["idempotency_wait_seconds"].type, "histogram")
        self.assertEqual(families["outbox_messages"].type, "counter")
        self.assertEqual(families["consumed_messages"].type, "counter")
        self.assertEqual(families["http_responses"].type, "counter")

    def test_every_outcome_of_the_key_layer_and_the_wait_histogram_are_exposed(self):
        text = self.scrape().content.decode()
        for outcome in OUTCOMES:
            with self.subTest(outcome=outcome):
                self.assertIsNotNone(
                    sample_value(text, "idempotency_requests_total", outcome=outcome)
                )
        self.assertIsNotNone(
            sample_value(text, "idempotency_wait_seconds_bucket", le="+Inf")
        )
        self.assertIsNotNone(sample_value(text, "idempotency_wait_seconds_count"))
        self.assertIn("# TYPE outbox_messages_total counter", text)
        self.assertIn("# TYPE consumed_messages_total counter", text)

    def test_the_counters_show_what_was_counted(self):
        def values():
            text = self.scrape().content.decode()
            return (
                sample_value(text, "outbox_messages_total", topic="t", outcome="sent")
                or 0,
                sample_value(
                    text, "consumed_messages_total", consumer="c", outcome="applied"
                )
                or 0,
            )

        before = values()
        OUTBOX_MESSAGES.labels(topic="t", outcome="sent").inc()
        CONSUMED_MESSAGES.labels(consumer="c", outcome="applied").inc(2)
        after = values()
        self.assertEqual((after[0] - before[0], after[1] - before[1]), (1, 2))

    def test_responses_are_counted_by_method_and_status(self):
        client = token_client(make_user())

        def created():
            text = self.scrape().content.decode()
            return (
                sample_value(text, "http_responses_total", method="POST", status="201")
                or 0
            )

        before = created()
        for n in range(3):
            body = {"client_id": f"c-{n}", "product_id": 7, "quantity": 1}
            self.assertEqual(
                client.post("/api/orders/", body, format="json").status_code, 201
            )
        self.assertEqual(created() - before, 3)

    def test_metrics_and_health_are_not_in_the_api_schema(self):
        schema = self.client.get(
            "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
        ).json()
        self.assertFalse(
            [path for path in schema["paths"] if "metrics" in path or "healthz" in path]
        )
