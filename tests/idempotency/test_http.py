import hashlib
import json

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.functions import Now
from django.test import TestCase, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from idempotency.models import IdempotencyKey
from tests.factories import make_user, token_client
from tests.idempotency.helpers import TEST_URLS, counts, keyed, row_texts


@override_settings(ROOT_URLCONF=TEST_URLS)
class KeyHeaderTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def post(self, headers, body=None, path="/api/things/"):
        return self.client.post(
            path, body or {"name": "a"}, format="json", headers=headers
        )

    def test_quoted_key_is_the_same_key_as_the_bare_one(self):
        first = self.post(keyed("abc"))
        again = self.post(keyed('"abc"'))
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(IdempotencyKey.objects.get().key, "abc")

    def test_alias_header_is_the_same_key(self):
        first = self.post({"X-Idempotency-Key": "k-1"})
        again = self.post(keyed("k-1"))
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.content, first.content)
        self.assertEqual(counts(), (1, 1))

    def test_both_headers_with_the_same_key_are_accepted(self):
        response = self.post(keyed("k-1", **{"X-Idempotency-Key": '"k-1"'}))
        self.assertEqual(response.status_code, 201)

    def test_both_headers_with_different_keys_are_400_and_nothing_is_created(self):
        response = self.post(keyed("k-1", **{"X-Idempotency-Key": "k-2"}))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["code"], "idempotency_key_invalid")
        self.assertEqual(counts(), (0, 0))

    def test_invalid_keys_are_400_and_nothing_is_created(self):
        values = {
            "empty": "",
            "empty quotes": '""',
            "256 characters": "k" * 256,
            "non-ASCII": "clé",
            "space": "a b",
            "control character": "a\x01b",
            "tab": "a\tb",
            "unbalanced quote": '"abc',
        }
        for name, value in values.items():
            for header in ["Idempotency-Key", "X-Idempotency-Key"]:
                with self.subTest(name, header=header):
                    response = self.post({header: value})
                    self.assertEqual(response.status_code, 400)
                    self.assertEqual(
                        response.json(),
                        {
                            "detail": "The Idempotency-Key header must be 1 to 255 "
                            "visible ASCII characters.",
                            "code": "idempotency_key_invalid",
                        },
                    )
                    self.assertEqual(counts(), (0, 0))

    def test_255_visible_characters_are_a_valid_key(self):
        key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3
        response = self.post(keyed(key[:255]))
        self.assertEqual(response.status_code, 201)
        self.assertEqual(IdempotencyKey.objects.get().key, key[:255])

    def test_the_upload_path_honours_the_header(self):
        first = self.post(keyed("k-up"), path="/upload")
        again = self.post(keyed("k-up"), path="/upload")
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(counts(), (1, 1))

    def test_paths_outside_the_prefixes_ignore_the_header(self):
        for _ in range(2):
            response = self.client.post("/elsewhere/", headers=keyed("bad key"))
            self.assertEqual(response.status_code, 201)
        self.assertEqual(counts(), (2, 0))

    def test_safe_methods_ignore_the_header(self):
        with self.settings(ROOT_URLCONF="idem_project.urls"):
            response = self.client.get("/api/", headers=keyed("bad key"))
        self.assertEqual(response.status_code, 200)


@override_settings(ROOT_URLCONF=TEST_URLS)
class ReplayTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def test_retry_replays_the_stored_reply_without_running_the_view(self):
        first = self.client.post(
            "/api/things/", {"name": "a"}, format="json", headers=keyed("k-1")
        )
        self.assertEqual(first.status_code, 201)
        self.assertNotIn("Idempotent-Replayed", first)
        for _ in range(3):
            again = self.client.post(
                "/api/things/", {"name": "a"}, format="json", headers=keyed("k-1")
            )
            self.assertEqual(again.status_code, 200)
            self.assertEqual(again["Idempotent-Replayed"], "true")
            self.assertEqual(again.content, first.content)
            self.assertEqual(again["Content-Type"], first["Content-Type"])
            self.assertEqual(again["Location"], first["Location"])
        self.assertEqual(counts(), (1, 1))
        row = IdempotencyKey.objects.get()
        self.assertEqual(
            (row.principal, row.key, row.method, row.path, row.state, row.status_code),
            ("anonymous", "k-1", "POST", "/api/things/", "completed", 201),
        )
        self.assertEqual(bytes(row.response_body), first.content)
        self.assertEqual(row.content_type, "application/json")
        self.assertEqual(row.location, first["Location"])

    def test_every_unsafe_method_is_recorded_and_replayed(self):
        for method, status in [("put", 200), ("patch", 200), ("delete", 204)]:
            with self.subTest(method=method):
                call = getattr(self.client, method)
                first = call(
                    "/api/things/", {"v": 1}, format="json", headers=keyed(method)
                )
                again = call(
                    "/api/things/", {"v": 1}, format="json", headers=keyed(method)
                )
                self.assertEqual(first.status_code, status)
                self.assertEqual(again.status_code, status)
                self.assertEqual(again["Idempotent-Replayed"], "true")
                self.assertEqual(again.content, first.content)
                self.assertEqual(again.get("Content-Type"), first.get("Content-Type"))
                row = IdempotencyKey.objects.get(key=method)
                self.assertEqual(
                    (row.method, row.status_code), (method.upper(), status)
                )
        self.assertEqual(counts(), (3, 3))

    def test_same_key_other_payload_is_422_and_changes_nothing(self):
        first = self.client.post(
            "/api/things/", {"name": "a"}, format="json", headers=keyed("k-1")
        )
        others = {
            "other body": ("post", "/api/things/", {"name": "b"}),
            "other path": ("post", "/upload", {"name": "a"}),
            "other query": ("post", "/api/things/?x=1", {"name": "a"}),
            "other method": ("put", "/api/things/", {"name": "a"}),
        }
        for name, (method, path, body) in others.items():
            with self.subTest(name):
                response = getattr(self.client, method)(
                    path, body, format="json", headers=keyed("k-1")
                )
                self.assertEqual(response.status_code, 422)
                self.assertEqual(
                    response.json(),
                    {
                        "detail": "This Idempotency-Key was already used with "
                        "another request.",
                        "code": "idempotency_key_mismatch",
                    },
                )
                self.assertEqual(counts(), (1, 1))
        self.assertEqual(
            bytes(IdempotencyKey.objects.get().response_body), first.content
        )

    def test_json_key_order_and_white_space_are_the_same_payload(self):
        first = self.client.post(
            "/api/things/",
            b'{"name": "a", "tags": [1, 2], "meta": {"x": 1, "y": null}}',
            content_type="application/json",
            headers=keyed("k-1"),
        )
        again = self.client.post(
            "/api/things/",
            b'{\n "meta":{"y":null,"x":1},\n "tags":[1,2],"name":"a"}',
            content_type="application/json; charset=utf-8",
            headers=keyed("k-1"),
        )
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(counts(), (1, 1))

    def test_form_field_order_is_the_same_payload(self):
        form = "application/x-www-form-urlencoded"
        first = self.client.post(
            "/api/things/", "name=a&tag=1&tag=2", content_type=form, headers=keyed("k")
        )
        again = self.client.post(
            "/api/things/", "tag=1&tag=2&name=a", content_type=form, headers=keyed("k")
        )
        other = self.client.post(
            "/api/things/", "tag=2&tag=1&name=a", content_type=form, headers=keyed("k")
        )
        self.assertEqual(
            (first.status_code, again.status_code, other.status_code), (201, 200, 422)
        )

    def test_multipart_compares_fields_and_file_digests(self):
        def upload(content, filename="cat.jpg", **fields):
            data = {**fields, "file": SimpleUploadedFile(filename, content)}
            return self.client.post("/api/uploads/", data, headers=keyed("k-up"))

        first = upload(b"meow", caption="c", tag="t")
        self.assertEqual(first.status_code, 201)
        self.assertEqual(
            first.json()["files"],
            {
                "file": "404cdd7bc109c432f8cc2443b45bcfe95980f5107215c645236e577929ac3e52"
            },
        )
        again = self.client.post(
            "/api/uploads/",
            {
                "file": SimpleUploadedFile("cat.jpg", b"meow"),
                "tag": "t",
                "caption": "c",
            },
            headers=keyed("k-up"),
        )
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.content, first.content)
        for name, response in {
            "other content": lambda: upload(b"purr", caption="c", tag="t"),
            "other file name": lambda: upload(b"meow", "dog.jpg", caption="c", tag="t"),
            "other field": lambda: upload(b"meow", caption="d", tag="t"),
        }.items():
            with self.subTest(name):
                self.assertEqual(response().status_code, 422)
        self.assertEqual(counts(), (1, 1))

    def test_the_view_still_reads_the_raw_body_and_parses_it(self):
        body = b'{"b": 2,  "a": 1}'
        response = self.client.post(
            "/api/raw/", body, content_type="application/json", headers=keyed("k-raw")
        )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(response.json()["data"], {"a": 1, "b": 2})

    def test_a_multipart_body_to_a_view_without_multipart_is_taken_as_bytes(self):
        # The view answers the unsupported media type itself, after the gate.
        data = {"file": SimpleUploadedFile("a.txt", b"x")}
        response = self.client.post("/api/json-only/", data, headers=keyed("k-mp"))
        self.assertEqual(response.status_code, 415)
        self.assertEqual(counts(), (0, 0))

    def test_a_body_parsed_before_the_gate_is_fingerprinted_from_its_data(self):
        # Session authentication checks CSRF, which reads request.POST and so
        # consumes the stream before the gate runs.
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(make_user())
        client.cookies["csrftoken"] = "a" * 32
        headers = keyed("k-session", **{"X-CSRFToken": "a" * 32})
        first = client.post(
            "/api/things/",
            b'{"name": "s", "n": 1}',
            content_type="application/json",
            headers=headers,
        )
        again = client.post(
            "/api/things/",
            b'{"n": 1, "name": "s"}',
            content_type="application/json",
            headers=headers,
        )
        other = client.post(
            "/api/things/",
            b'{"n": 2, "name": "s"}',
            content_type="application/json",
            headers=headers,
        )
        self.assertEqual(
            (first.status_code, again.status_code, other.status_code), (201, 200, 422)
        )
        self.assertEqual(counts(), (1, 1))

    def test_a_body_over_2_mib_is_413_and_nothing_is_stored(self):
        body = json.dumps({"name": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
        response = self.client.post(
            "/api/things/", body, content_type="application/json", headers=keyed("big")
        )
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["code"], "payload_too_large")
        self.assertEqual(counts(), (0, 0))

    def test_requests_without_a_key_run_every_time(self):
        for _ in range(2):
            response = self.client.post("/api/things/", {"name": "a"}, format="json")
            self.assertEqual(response.status_code, 201)
        self.assertEqual(counts(), (2, 0))


@override_settings(ROOT_URLCONF=TEST_URLS)
class InstallationTests(TestCase):
    def test_a_replay_works_with_debug_on(self):
        with self.settings(DEBUG=True):
            first = APIClient().post(
                "/api/things/", {}, format="json", headers=keyed("d")
            )
            again = APIClient().post(
                "/api/things/", {}, format="json", headers=keyed("d")
            )
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(again.content, first.content)

    def test_a_key_without_the_middleware_is_a_configuration_error(self):
        middleware = [
            m for m in settings.MIDDLEWARE if not m.startswith("idempotency.")
        ]
        with self.settings(MIDDLEWARE=middleware):
            unkeyed = APIClient().post("/api/things/", {}, format="json")
            self.assertEqual(unkeyed.status_code, 201)
            with self.assertRaises(ImproperlyConfigured):
                APIClient().post("/api/things/", {}, format="json", headers=keyed("m"))
        self.assertFalse(IdempotencyKey.objects.exists())


@override_settings(ROOT_URLCONF=TEST_URLS)
class FailureTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def test_a_non_2xx_reply_is_not_stored_its_work_is_undone_and_a_corrected_retry_runs(
        self,
    ):
        failed = self.client.post(
            "/api/things/",
            {"name": "a", "fail": True},
            format="json",
            headers=keyed("k-1"),
        )
        self.assertEqual(failed.status_code, 400)
        self.assertEqual(counts(), (0, 0))
        again = self.client.post(
            "/api/things/",
            {"name": "a", "fail": True},
            format="json",
            headers=keyed("k-1"),
        )
        self.assertEqual(again.status_code, 400)
        self.assertNotIn("Idempotent-Replayed", again)
        fixed = self.client.post(
            "/api/things/", {"name": "a"}, format="json", headers=keyed("k-1")
        )
        self.assertEqual(fixed.status_code, 201)
        self.assertEqual(counts(), (1, 1))

    def test_an_unkeyed_non_2xx_reply_is_rolled_back_too(self):
        response = self.client.post("/api/things/", {"fail": True}, format="json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(counts(), (0, 0))

    def test_an_unexpected_error_stores_nothing_and_undoes_the_work(self):
        client = APIClient(raise_request_exception=False)
        response = client.post("/api/broken/", {}, format="json", headers=keyed("k-1"))
        self.assertEqual(response.status_code, 500)
        self.assertEqual(counts(), (0, 0))

    def test_a_streamed_reply_keeps_its_work_but_not_the_key(self):
        for expected_groups in (1, 2):
            response = self.client.post("/api/stream/", headers=keyed("k-1"))
            self.assertEqual(response.status_code, 201)
            self.assertEqual(b"".join(response.streaming_content), b"ab")
            self.assertEqual(counts(), (expected_groups, 0))


@override_settings(ROOT_URLCONF=TEST_URLS)
class PrincipalTests(TestCase):
    def test_a_token_user_is_the_principal(self):
        user = make_user()
        response = token_client(user).post(
            "/api/private/", {"name": "a"}, format="json", headers=keyed("k-1")
        )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(IdempotencyKey.objects.get().principal, f"user:{user.pk}")

    def test_another_user_with_the_same_key_gets_its_own_outcome(self):
        alice, bob = token_client(make_user()), token_client(make_user())
        first = alice.post(
            "/api/private/", {"name": "a"}, format="json", headers=keyed("k")
        )
        theirs = bob.post(
            "/api/private/", {"name": "a"}, format="json", headers=keyed("k")
        )
        other = bob.post(
            "/api/private/", {"name": "b"}, format="json", headers=keyed("k2")
        )
        self.assertEqual((first.status_code, theirs.status_code), (201, 201))
        self.assertNotIn("Idempotent-Replayed", theirs)
        self.assertNotEqual(theirs.json()["id"], first.json()["id"])
        self.assertEqual(other.status_code, 201)
        # Bob's retry replays Bob's reply, never Alice's.
        bob_again = bob.post(
            "/api/private/", {"name": "a"}, format="json", headers=keyed("k")
        )
        self.assertEqual(bob_again.content, theirs.content)
        self.assertEqual(counts(), (3, 3))

    def test_another_user_with_the_same_key_and_another_payload_is_not_a_mismatch(self):
        alice, bob = token_client(make_user()), token_client(make_user())
        alice.post("/api/private/", {"name": "a"}, format="json", headers=keyed("k"))
        response = bob.post(
            "/api/private/", {"name": "b"}, format="json", headers=keyed("k")
        )
        self.assertEqual(response.status_code, 201)

    def test_anonymous_and_a_user_with_the_same_key_are_independent(self):
        user = make_user()
        anonymous = APIClient().post(
            "/api/things/", {"name": "a"}, format="json", headers=keyed("k")
        )
        signed_in = token_client(user).post(
            "/api/things/", {"name": "a"}, format="json", headers=keyed("k")
        )
        self.assertEqual((anonymous.status_code, signed_in.status_code), (201, 201))
        self.assertNotEqual(anonymous.json()["id"], signed_in.json()["id"])
        self.assertEqual(
            {key.principal for key in IdempotencyKey.objects.all()},
            {"anonymous", f"user:{user.pk}"},
        )

    def test_an_unauthenticated_request_is_401_and_claims_nothing(self):
        response = APIClient().post(
            "/api/private/", {"name": "a"}, format="json", headers=keyed("k")
        )
        self.assertEqual(response.status_code, 401)
        self.assertEqual(counts(), (0, 0))


@override_settings(ROOT_URLCONF=TEST_URLS)
class ExpiryTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def post(self, name="a"):
        return self.client.post(
            "/api/things/", {"name": name}, format="json", headers=keyed("k-1")
        )

    def test_an_expired_key_runs_anew(self):
        self.assertEqual(self.post().status_code, 201)
        IdempotencyKey.objects.update(expires_at=Now())
        again = self.post()
        self.assertEqual(again.status_code, 201)
        self.assertNotIn("Idempotent-Replayed", again)
        self.assertEqual(counts(), (2, 1))
        self.assertGreater(IdempotencyKey.objects.get().expires_at, timezone.now())
        self.assertEqual(self.post().status_code, 200)

    def test_an_expired_key_with_another_payload_runs_anew(self):
        self.post()
        IdempotencyKey.objects.update(expires_at=Now())
        self.assertEqual(self.post("b").status_code, 201)
        self.assertEqual(self.post("b").status_code, 200)

    def test_the_time_to_live_comes_from_the_settings(self):
        with self.settings(IDEMPOTENCY={"TTL_SECONDS": 60}):
            self.post()
        row = IdempotencyKey.objects.get()
        self.assertEqual((row.expires_at - row.created_at).total_seconds(), 60)

    def test_the_default_time_to_live_is_24_hours(self):
        with self.settings(IDEMPOTENCY={}):
            self.post()
        row = IdempotencyKey.objects.get()
        self.assertEqual((row.expires_at - row.created_at).total_seconds(), 86400)


class ExemptAndSecretTests(TestCase):
    password = "correct horse battery"

    def test_an_exempt_view_ignores_the_header_even_an_invalid_one(self):
        with self.settings(ROOT_URLCONF=TEST_URLS):
            for key in ["k-1", "k-1", "bad key", ""]:
                with self.subTest(key=key):
                    response = APIClient().post("/api/secret/", headers=keyed(key))
                    self.assertEqual(response.status_code, 200)
                    self.assertNotIn("Idempotent-Replayed", response)
        self.assertEqual(counts(), (4, 0))

    def test_the_token_endpoint_ignores_the_header_and_stores_nothing(self):
        user = make_user(password=self.password)
        for key in ["k-1", "k-1", "bad key", "k" * 300]:
            with self.subTest(key=key):
                response = APIClient().post(
                    "/api/auth/token/",
                    {"email": user.email, "password": self.password},
                    format="json",
                    headers=keyed(key, **{"X-Idempotency-Key": "other"}),
                )
                self.assertEqual(response.status_code, 200)
                self.assertIn("token", response.json())
                self.assertNotIn("Idempotent-Replayed", response)
        self.assertFalse(IdempotencyKey.objects.exists())

    def test_no_stored_row_holds_a_password_a_token_or_a_cookie(self):
        client = APIClient()
        signed_up = client.post(
            "/api/users/",
            {"email": "ada@example.com", "name": "Ada", "password": self.password},
            format="json",
            headers=keyed("sign-up"),
        )
        self.assertEqual(signed_up.status_code, 201)
        token = client.post(
            "/api/auth/token/",
            {"email": "ada@example.com", "password": self.password},
            format="json",
            headers=keyed("token"),
        ).json()["token"]
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.cookies["sessionid"] = "cookie-value-123"
        self.assertEqual(
            client.post(
                "/api/users/",
                {"email": "bob@example.com", "name": "Bob", "password": self.password},
                format="json",
                headers=keyed("sign-up-2"),
            ).status_code,
            201,
        )
        self.assertEqual(IdempotencyKey.objects.count(), 2)
        stored = row_texts()
        for secret in [self.password, token, "Authorization", "cookie-value-123"]:
            with self.subTest(secret=secret):
                self.assertNotIn(secret, stored)


class ProjectEndpointTests(TestCase):
    def test_keyed_sign_up_replays_and_creates_one_user(self):
        body = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
        client = APIClient()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            first = client.post("/api/users/", body, format="json", headers=keyed("su"))
            again = client.post("/api/users/", body, format="json", headers=keyed("su"))
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(again.content, first.content)
        self.assertEqual(again["Location"], first["Location"])
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(User.objects.filter(email="ada@example.com").count(), 1)

    def test_keyed_order_create_replays(self):
        client = token_client(make_user())
        body = {"product_id": 7, "quantity": 2, "client_id": "c-1"}
        first = client.post("/api/orders/", body, format="json", headers=keyed("o"))
        again = client.post("/api/orders/", body, format="json", headers=keyed("o"))
        other = client.post(
            "/api/orders/", {**body, "quantity": 3}, format="json", headers=keyed("o")
        )
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.content, first.content)
        self.assertEqual(other.status_code, 422)
        self.assertEqual(other.json()["code"], "idempotency_key_mismatch")


class MethodNotAllowedTests(TestCase):
    def test_a_method_the_endpoint_does_not_allow_is_405_key_or_not(self):
        client = token_client(make_user())
        body = {"product_id": 7, "quantity": 2, "client_id": "c-1"}
        created = client.post("/api/orders/", body, format="json", headers=keyed("k"))
        self.assertEqual(created.status_code, 201)
        for method in ["put", "patch", "delete"]:
            for headers in [keyed("k"), keyed("fresh"), {}]:
                with self.subTest(method=method, headers=headers):
                    response = getattr(client, method)(
                        "/api/orders/", body, format="json", headers=headers
                    )
                    self.assertEqual(response.status_code, 405)
                    self.assertNotIn("Idempotent-Replayed", response)
        self.assertEqual(
            list(IdempotencyKey.objects.values_list("key", flat=True)), ["k"]
        )
