import json

from django.conf import settings
from django.core import checks
from django.test import SimpleTestCase, override_settings

from idempotency.checks import (
    check_database,
    check_installation,
    check_settings,
    check_views,
    needs_immediate_mode,
)
from idempotency.conf import DEFAULTS, AppSettings, idempotency_settings
from tests.project.test_settings import load_settings


class SettingsTests(SimpleTestCase):
    def test_defaults(self):
        with self.settings(IDEMPOTENCY={}):
            self.assertEqual(idempotency_settings.TTL_SECONDS, 86400)
            self.assertEqual(idempotency_settings.HEADER, "Idempotency-Key")
            self.assertEqual(idempotency_settings.ALIAS_HEADER, "X-Idempotency-Key")
            self.assertEqual(
                tuple(idempotency_settings.METHODS), ("POST", "PUT", "PATCH", "DELETE")
            )
            self.assertEqual(
                tuple(idempotency_settings.PATH_PREFIXES), ("/api/", "/upload")
            )
            self.assertEqual(idempotency_settings.IN_FLIGHT_WAIT_SECONDS, 2.0)
            self.assertEqual(idempotency_settings.RETRY_AFTER_SECONDS, 1)
            self.assertEqual(idempotency_settings.PURGE_BATCH_SIZE, 1000)
            self.assertEqual(tuple(idempotency_settings.REQUIRED_PATH_PREFIXES), ())

    def test_override_settings_is_seen_and_undone(self):
        before = idempotency_settings.TTL_SECONDS
        with self.settings(IDEMPOTENCY={"TTL_SECONDS": 60}):
            self.assertEqual(idempotency_settings.TTL_SECONDS, 60)
        self.assertEqual(idempotency_settings.TTL_SECONDS, before)

    @override_settings(DEBUG=False)
    def test_override_is_seen_with_debug_off(self):
        # The reload receiver is a module-level function, kept alive whatever DEBUG.
        with self.settings(IDEMPOTENCY={"RETRY_AFTER_SECONDS": 7}):
            self.assertEqual(idempotency_settings.RETRY_AFTER_SECONDS, 7)
        self.assertEqual(idempotency_settings.RETRY_AFTER_SECONDS, 1)

    def test_the_project_reads_the_ttl_from_the_settings(self):
        self.assertEqual(idempotency_settings.TTL_SECONDS, 86400)

    def test_an_unknown_name_is_an_attribute_error(self):
        with self.assertRaises(AttributeError):
            idempotency_settings.TTL  # noqa: B018

    def test_another_apps_settings_object_reloads_only_on_its_own_setting(self):
        other = AppSettings("OTHER_APP", {"LIMIT": 3})
        self.assertEqual(other.LIMIT, 3)
        with self.settings(OTHER_APP={"LIMIT": 5}, IDEMPOTENCY={"TTL_SECONDS": 9}):
            self.assertEqual((other.LIMIT, idempotency_settings.TTL_SECONDS), (5, 9))
        self.assertEqual((other.LIMIT, idempotency_settings.TTL_SECONDS), (3, 86400))
        with self.assertRaisesMessage(AttributeError, "no OTHER_APP setting"):
            other.SIZE  # noqa: B018

    def test_every_default_is_documented_in_the_docs(self):
        text = (settings.BASE_DIR / "docs" / "idempotency.md").read_text("utf-8")
        for name in DEFAULTS:
            with self.subTest(name=name):
                self.assertIn(f"`{name}`", text)


class SettingsCheckTests(SimpleTestCase):
    def ids(self):
        return [message.id for message in checks.run_checks()]

    def test_the_project_passes(self):
        self.assertEqual(check_settings(), [])
        self.assertEqual(check_installation(), [])
        self.assertEqual(check_database(), [])
        self.assertFalse([i for i in self.ids() if i.startswith("idempotency.")])

    def test_unknown_names_are_e001(self):
        with self.settings(IDEMPOTENCY={"TTL": 5, "HEADERS": "x"}):
            errors = check_settings()
            self.assertIn("idempotency.E001", self.ids())
        self.assertEqual([e.id for e in errors], ["idempotency.E001"] * 2)
        self.assertIn("'TTL'", errors[0].msg)

    def test_bad_values_are_e002(self):
        bad = {
            "TTL_SECONDS": [0, -1, "86400", 1.5, True],
            "HEADER": ["", "Idempotency Key", None, "Clé"],
            "ALIAS_HEADER": ["X Key", 5],
            "METHODS": [[], ["GET"], "POST", ["post"]],
            "PATH_PREFIXES": ["/api/", ["api/"], [None]],
            "REQUIRED_PATH_PREFIXES": ["/api/", ["api/"], None],
            "IN_FLIGHT_WAIT_SECONDS": [-1, "2", None],
            "RETRY_AFTER_SECONDS": [0, 1.5, "1"],
            "PURGE_BATCH_SIZE": [0, None, "10"],
            "PURGE_PAUSE_FACTOR": [-0.5, "1", None, float("inf"), False],
        }
        for name, values in bad.items():
            for value in values:
                with self.subTest(name=name, value=value):
                    with self.settings(IDEMPOTENCY={name: value}):
                        errors = check_settings()
                        self.assertIn("idempotency.E002", self.ids())
                    self.assertEqual([e.id for e in errors], ["idempotency.E002"])
                    self.assertIn(name, errors[0].msg)

    def test_good_values_pass(self):
        good = {
            "TTL_SECONDS": 60,
            "HEADER": "Request-Key",
            "ALIAS_HEADER": "",
            "METHODS": ["POST"],
            "PATH_PREFIXES": [],
            "REQUIRED_PATH_PREFIXES": ["/api/orders/"],
            "IN_FLIGHT_WAIT_SECONDS": 0,
            "RETRY_AFTER_SECONDS": 5,
            "PURGE_BATCH_SIZE": 10,
            "PURGE_PAUSE_FACTOR": 0.25,
        }
        with self.settings(IDEMPOTENCY=good):
            self.assertEqual(check_settings(), [])

    def test_a_setting_that_is_not_a_dict_is_e002(self):
        with self.settings(IDEMPOTENCY=[("TTL_SECONDS", 5)]):
            self.assertEqual([e.id for e in check_settings()], ["idempotency.E002"])

    def test_a_middleware_with_process_view_after_ours_is_a_warning(self):
        ours = "idempotency.drf.IdempotencyMiddleware"
        csrf = "django.middleware.csrf.CsrfViewMiddleware"
        with self.settings(MIDDLEWARE=[*settings.MIDDLEWARE, csrf]):
            self.assertIn(csrf, settings.MIDDLEWARE[settings.MIDDLEWARE.index(ours) :])
        middleware = [m for m in settings.MIDDLEWARE if m != csrf]
        with self.settings(MIDDLEWARE=[*middleware[:1], ours, csrf]):
            warnings = check_installation()
        self.assertEqual([w.id for w in warnings], ["idempotency.W003"])
        self.assertIn(csrf, warnings[0].msg)

    def test_a_view_whose_throttle_classes_leave_the_gate_out_is_w004(self):
        self.assertEqual(check_views(), [])
        with self.settings(ROOT_URLCONF="tests.idempotency.urls"):
            warnings = check_views()
        self.assertEqual([w.id for w in warnings], ["idempotency.W004"])
        self.assertIn("NoGateThingView (at api/no-gate/)", warnings[0].msg)

    def test_a_missing_middleware_or_gate_is_an_error(self):
        with self.settings(MIDDLEWARE=[], REST_FRAMEWORK={}):
            self.assertEqual(
                [w.id for w in check_installation()],
                ["idempotency.E003", "idempotency.E004"],
            )


class DatabaseCheckTests(SimpleTestCase):
    def test_sqlite_without_immediate_mode_is_w005(self):
        for vendor, options, expected in [
            ("sqlite", {}, True),
            ("sqlite", {"transaction_mode": "DEFERRED"}, True),
            ("sqlite", {"transaction_mode": "IMMEDIATE"}, False),
            ("sqlite", {"transaction_mode": "immediate"}, False),
            ("postgresql", {}, False),
        ]:
            with self.subTest(vendor=vendor, options=options):
                self.assertEqual(needs_immediate_mode(vendor, options), expected)


class RequiredFromEnvironmentTests(SimpleTestCase):
    def test_the_project_reads_required_prefixes_from_the_environment(self):
        done = load_settings(IDEMPOTENCY_KEY_REQUIRED=" /api/orders/ ,/upload")
        self.assertEqual(done.returncode, 0, done.stderr)
        values = json.loads(done.stdout)["IDEMPOTENCY"]
        self.assertEqual(values["REQUIRED_PATH_PREFIXES"], ["/api/orders/", "/upload"])
        default = json.loads(load_settings().stdout)["IDEMPOTENCY"]
        self.assertEqual(default["REQUIRED_PATH_PREFIXES"], [])
