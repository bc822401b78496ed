import json
import re
import uuid

from django.test import TestCase
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent
from tests.factories import make_user, token_client

BODY = {"client_id": "c-1", "product_id": 7, "quantity": 2}


def create(client, **overrides):
    return client.post("/api/orders/", {**BODY, **overrides}, format="json")


def event_statuses(response):
    return [event["status"] for event in response.json()["events"]]


class AnonymousTests(TestCase):
    def test_every_endpoint_is_401_with_www_authenticate(self):
        order = Order.objects.get_or_create_by_client_id(
            owner=make_user(), client_id="c-1", product_id=7, quantity=2
        )[0]
        client = APIClient()
        requests = [
            ("get", "/api/orders/"),
            ("post", "/api/orders/"),
            ("get", f"/api/orders/{order.pk}/"),
            ("post", f"/api/orders/{order.pk}/process/"),
            ("post", f"/api/orders/{order.pk}/complete/"),
            ("post", f"/api/orders/{order.pk}/cancel/"),
        ]
        for method, path in requests:
            with self.subTest(method=method, path=path):
                response = getattr(client, method)(path, BODY, format="json")
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response["WWW-Authenticate"], "Token")
                self.assertEqual(response.json()["code"], "not_authenticated")
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(Order.objects.get().status, "pending")

    def test_a_wrong_token_is_401(self):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        response = create(client)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["WWW-Authenticate"], "Token")
        self.assertFalse(Order.objects.exists())


class OrderCreateTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def setUp(self):
        self.client = token_client(self.user)

    def test_new_order_is_201_with_location_and_the_order(self):
        response = create(self.client)
        self.assertEqual(response.status_code, 201)
        order = Order.objects.get()
        self.assertEqual(order.owner, self.user)
        self.assertEqual(
            response["Location"], f"http://testserver/api/orders/{order.pk}/"
        )
        body = response.json()
        self.assertEqual(
            set(body),
            {
                "id",
                "client_id",
                "product_id",
                "quantity",
                "status",
                "created_at",
                "events",
            },
        )
        self.assertEqual(
            {
                key: body[key]
                for key in ("id", "client_id", "product_id", "quantity", "status")
            },
            {
                "id": order.pk,
                "client_id": "c-1",
                "product_id": 7,
                "quantity": 2,
                "status": "pending",
            },
        )
        self.assertEqual(
            body["events"], [{"status": "pending", "at": body["created_at"]}]
        )

    def test_same_client_id_same_payload_is_200_with_the_same_order(self):
        first = create(self.client)
        again = create(self.client)
        self.assertEqual(again.status_code, 200)
        self.assertNotIn("Location", again)
        self.assertEqual(again.json(), first.json())
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(OrderEvent.objects.count(), 1)

    def test_a_retry_returns_the_order_in_its_current_state(self):
        first = create(self.client).json()
        self.client.post(f"/api/orders/{first['id']}/process/")
        again = create(self.client)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["status"], "processing")
        self.assertEqual(event_statuses(again), ["pending", "processing"])

    def test_same_client_id_other_product_or_quantity_is_422_and_changes_nothing(self):
        first = create(self.client).json()
        for change in (
            {"product_id": 8},
            {"quantity": 3},
            {"product_id": 8, "quantity": 3},
        ):
            with self.subTest(**change):
                response = create(self.client, **change)
                self.assertEqual(response.status_code, 422)
                self.assertEqual(response.json()["code"], "client_id_mismatch")
                self.assertIn("detail", response.json())
                self.assertEqual(
                    self.client.get(f"/api/orders/{first['id']}/").json(), first
                )
                self.assertEqual(Order.objects.count(), 1)

    def test_client_ids_never_leak_across_owners(self):
        mine = create(self.client).json()
        for overrides in ({}, {"product_id": 99, "quantity": 9}):
            with self.subTest(**overrides):
                response = create(token_client(make_user()), **overrides)
                self.assertEqual(response.status_code, 201)
                self.assertNotEqual(response.json()["id"], mine["id"])
                self.assertEqual(response.json()["client_id"], mine["client_id"])
        self.assertEqual(Order.objects.filter(client_id="c-1").count(), 3)
        self.assertEqual(self.client.get(f"/api/orders/{mine['id']}/").json(), mine)
        self.assertEqual(self.client.get("/api/orders/").json()["count"], 1)

    def test_client_id_is_kept_exactly_as_sent(self):
        client_ids = [
            "日本語の注文 🧾",
            "e\u0301",  # decomposed, distinct from the composed form below
            "\u00e9",
            "  padded  ",
            " ",
            "tab\tand\nnewline",
            "\u200bzero-width\u200d",
            "quote\"back\\slash'<b>&amp;",
            "🧾" * 128,
            "x" * 128,
        ]
        for client_id in client_ids:
            with self.subTest(client_id=client_id):
                response = create(self.client, client_id=client_id)
                self.assertEqual(response.status_code, 201)
                self.assertEqual(response.json()["client_id"], client_id)
                order = Order.objects.get(pk=response.json()["id"])
                self.assertEqual(order.client_id, client_id)
                again = create(self.client, client_id=client_id)
                self.assertEqual(again.status_code, 200)
                self.assertEqual(again.json()["id"], order.pk)
        self.assertEqual(Order.objects.count(), len(client_ids))

    def test_a_form_post_creates_once(self):
        # The browsable API posts its HTML form, so a double click sends it twice.
        first = self.client.post("/api/orders/", BODY)
        again = self.client.post("/api/orders/", BODY)
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(Order.objects.count(), 1)

    def test_numeric_strings_are_read_as_integers(self):
        response = create(self.client, product_id="7", quantity="2")
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["product_id"], 7)
        self.assertEqual(create(self.client).status_code, 200)


class BadInputTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def setUp(self):
        self.client = token_client(self.user)

    def assert_nothing_created(self):
        self.assertFalse(Order.objects.exists())
        self.assertFalse(OrderEvent.objects.exists())

    def test_field_errors_are_400(self):
        cases = [
            ({}, {"client_id", "product_id", "quantity"}),
            ({"client_id": "c-1"}, {"product_id", "quantity"}),
            ({"product_id": 7, "quantity": 2}, {"client_id"}),
            ({**BODY, "client_id": None}, {"client_id"}),
            ({**BODY, "product_id": None}, {"product_id"}),
            ({**BODY, "quantity": None}, {"quantity"}),
            (
                {"client_id": None, "product_id": None, "quantity": None},
                {"client_id", "product_id", "quantity"},
            ),
            ({**BODY, "product_id": "seven"}, {"product_id"}),
            ({**BODY, "quantity": "two"}, {"quantity"}),
            ({**BODY, "quantity": ""}, {"quantity"}),
            ({**BODY, "quantity": "1e3"}, {"quantity"}),
            ({**BODY, "quantity": 1.5}, {"quantity"}),
            ({**BODY, "quantity": True}, {"quantity"}),
            ({**BODY, "quantity": [2]}, {"quantity"}),
            ({**BODY, "product_id": {"id": 7}}, {"product_id"}),
            ({**BODY, "product_id": 0}, {"product_id"}),
            ({**BODY, "quantity": 0}, {"quantity"}),
            ({**BODY, "product_id": -1}, {"product_id"}),
            ({**BODY, "quantity": -5}, {"quantity"}),
            ({**BODY, "product_id": 2147483648}, {"product_id"}),
            ({**BODY, "quantity": 10**30}, {"quantity"}),
            ({**BODY, "quantity": "9" * 2000}, {"quantity"}),
            ({**BODY, "client_id": ""}, {"client_id"}),
            ({**BODY, "client_id": "x" * 129}, {"client_id"}),
            ({**BODY, "client_id": "🧾" * 129}, {"client_id"}),
            ({**BODY, "client_id": "nul\x00byte"}, {"client_id"}),
            ({**BODY, "client_id": "lone\ud800surrogate"}, {"client_id"}),
            ({**BODY, "client_id": ["c-1"]}, {"client_id"}),
            ({**BODY, "client_id": {"id": "c-1"}}, {"client_id"}),
            ({**BODY, "client_id": True}, {"client_id"}),
        ]
        for body, fields in cases:
            with self.subTest(body=repr(body)[:80]):
                response = self.client.post(
                    "/api/orders/",
                    json.dumps(body),
                    content_type="application/json",
                )
                self.assertEqual(response.status_code, 400)
                self.assertEqual(set(response.json()), fields)
                self.assert_nothing_created()

    def test_the_largest_integers_are_accepted(self):
        response = create(self.client, product_id=2147483647, quantity=2147483647)
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["quantity"], 2147483647)

    def test_a_body_that_is_not_a_json_object_is_400(self):
        for raw in ("[]", json.dumps([BODY]), '"c-1"', "7", "null", "true"):
            with self.subTest(body=raw):
                response = self.client.post(
                    "/api/orders/", raw, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("non_field_errors", response.json())
                self.assert_nothing_created()

    def test_malformed_json_is_400(self):
        for raw in (
            "{",
            '{"client_id": "c-1",}',
            "{'client_id': 'c-1'}",
            b"\xff\xfe",
        ):
            with self.subTest(body=raw):
                response = self.client.post(
                    "/api/orders/", raw, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["code"], "parse_error")
                self.assert_nothing_created()

    def test_an_empty_body_is_400_with_field_errors(self):
        response = self.client.post("/api/orders/", "", content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(set(response.json()), {"client_id", "product_id", "quantity"})
        self.assert_nothing_created()

    def test_an_unknown_content_type_is_415(self):
        response = self.client.post(
            "/api/orders/", json.dumps(BODY), content_type="text/plain"
        )
        self.assertEqual(response.status_code, 415)
        self.assertEqual(response.json()["code"], "unsupported_media_type")
        self.assert_nothing_created()

    def test_unknown_fields_are_ignored(self):
        response = create(self.client, status="completed", owner=999, id=12345)
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["status"], "pending")
        self.assertNotEqual(response.json()["id"], 12345)
        self.assertEqual(Order.objects.get().owner, self.user)


class OrderReadTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user, cls.other = make_user(), make_user()
        cls.mine = [
            Order.objects.get_or_create_by_client_id(
                owner=cls.user, client_id=f"c-{n}", product_id=n + 1, quantity=1
            )[0]
            for n in range(3)
        ]
        cls.theirs = Order.objects.get_or_create_by_client_id(
            owner=cls.other, client_id="c-0", product_id=1, quantity=1
        )[0]

    def setUp(self):
        self.client = token_client(self.user)

    def test_list_shows_only_the_callers_orders_newest_first(self):
        response = self.client.get("/api/orders/")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["count"], 3)
        self.assertEqual(
            [order["id"] for order in body["results"]],
            [order.pk for order in reversed(self.mine)],
        )
        self.assertEqual(body["results"][0]["events"][0]["status"], "pending")

    def test_retrieve_shows_the_order_with_its_events(self):
        order = self.mine[0]
        response = self.client.get(f"/api/orders/{order.pk}/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["client_id"], "c-0")
        self.assertEqual(event_statuses(response), ["pending"])

    def test_another_users_order_is_404(self):
        for path in (
            f"/api/orders/{self.theirs.pk}/",
            f"/api/orders/{self.theirs.pk}/process/",
            f"/api/orders/{self.theirs.pk}/cancel/",
        ):
            with self.subTest(path=path):
                method = (
                    self.client.get
                    if path.endswith(f"{self.theirs.pk}/")
                    else self.client.post
                )
                response = method(path)
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response.json()["code"], "not_found")
        self.theirs.refresh_from_db()
        self.assertEqual(self.theirs.status, "pending")
        self.assertEqual(self.theirs.events.count(), 1)

    def test_unknown_and_odd_ids_are_404(self):
        for pk in ("999999", "abc", "-1", "1.5", "99999999999999999999999", "%C3%A9"):
            with self.subTest(pk=pk):
                self.assertEqual(self.client.get(f"/api/orders/{pk}/").status_code, 404)
                self.assertEqual(
                    self.client.post(f"/api/orders/{pk}/process/").status_code, 404
                )

    def test_the_list_takes_a_fixed_number_of_queries(self):
        # One for the token, one count, one page and one for all the events.
        with self.assertNumQueries(4):
            self.client.get("/api/orders/")


class OrderTransitionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def setUp(self):
        self.client = token_client(self.user)
        self.order = create(self.client).json()

    def transition(self, name, order_id=None, **kwargs):
        return self.client.post(
            f"/api/orders/{order_id or self.order['id']}/{name}/", **kwargs
        )

    def test_allowed_transition_is_200_with_the_order_in_its_new_state(self):
        response = self.transition("process")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["status"], "processing")
        self.assertEqual(event_statuses(response), ["pending", "processing"])
        self.assertLessEqual(body["events"][0]["at"], body["events"][1]["at"])
        self.assertEqual(self.client.get(f"/api/orders/{body['id']}/").json(), body)

    def test_the_happy_path_records_each_transition_once(self):
        self.assertEqual(self.transition("process").status_code, 200)
        response = self.transition("complete")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "completed")
        self.assertEqual(
            event_statuses(response), ["pending", "processing", "completed"]
        )

    def test_a_repeated_transition_is_200_unchanged_without_a_new_event(self):
        for path in (
            ["process"],
            ["process", "complete"],
            ["cancel"],
            ["process", "cancel"],
        ):
            with self.subTest(path=path):
                order = create(self.client, client_id="-".join(path)).json()
                for name in path:
                    self.transition(name, order["id"])
                before = self.transition(path[-1], order["id"])
                self.assertEqual(before.status_code, 200)
                again = self.transition(path[-1], order["id"])
                self.assertEqual(again.status_code, 200)
                self.assertEqual(again.json(), before.json())
                self.assertEqual(
                    Order.objects.get(pk=order["id"]).events.count(), len(path) + 1
                )

    def test_forbidden_transitions_are_409_and_change_nothing(self):
        cases = {
            "pending": ["complete"],
            "processing": [],
            "completed": ["process", "cancel"],
            "cancelled": ["process", "complete"],
        }
        to_reach = {
            "pending": [],
            "processing": ["process"],
            "completed": ["process", "complete"],
            "cancelled": ["cancel"],
        }
        for status, forbidden in cases.items():
            order = create(self.client, client_id=f"from-{status}").json()
            for name in to_reach[status]:
                self.transition(name, order["id"])
            for name in forbidden:
                with self.subTest(status=status, action=name):
                    before = self.client.get(f"/api/orders/{order['id']}/").json()
                    response = self.transition(name, order["id"])
                    self.assertEqual(response.status_code, 409)
                    self.assertEqual(response.json()["code"], "invalid_transition")
                    self.assertIn("detail", response.json())
                    self.assertEqual(
                        self.client.get(f"/api/orders/{order['id']}/").json(), before
                    )

    def test_cancel_from_pending_and_from_processing(self):
        response = self.transition("cancel")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(event_statuses(response), ["pending", "cancelled"])
        order = create(self.client, client_id="c-2").json()
        self.transition("process", order["id"])
        response = self.transition("cancel", order["id"])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            event_statuses(response), ["pending", "processing", "cancelled"]
        )

    def test_a_transition_ignores_any_body(self):
        response = self.transition(
            "process", data={"status": "completed", "events": []}, format="json"
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "processing")
        self.assertEqual(event_statuses(response), ["pending", "processing"])

    def test_get_on_a_transition_is_405(self):
        response = self.client.get(f"/api/orders/{self.order['id']}/process/")
        self.assertEqual(response.status_code, 405)
        self.assertEqual(Order.objects.get().status, "pending")

    def test_other_methods_on_orders_are_405(self):
        path = f"/api/orders/{self.order['id']}/"
        for method in ("put", "patch", "delete"):
            with self.subTest(method=method):
                response = getattr(self.client, method)(path, BODY, format="json")
                self.assertEqual(response.status_code, 405)
        self.assertEqual(Order.objects.count(), 1)


UUID_INPUT = re.compile(r'<input[^>]*name="client_id"[^>]*>')
VALUE = re.compile(r'value="([^"]*)"')


class BrowsableApiTests(TestCase):
    def setUp(self):
        self.user = make_user()
        self.client = APIClient()
        self.client.force_login(self.user)

    def rendered_client_id(self):
        response = self.client.get("/api/orders/", HTTP_ACCEPT="text/html")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/html"))
        tag = UUID_INPUT.search(response.content.decode())
        self.assertIsNotNone(tag, "the create form has no client_id input")
        return VALUE.search(tag.group(0)).group(1)

    def test_the_form_offers_a_fresh_uuid4_on_every_render(self):
        first, second = self.rendered_client_id(), self.rendered_client_id()
        for value in (first, second):
            self.assertEqual(uuid.UUID(value).version, 4)
            self.assertEqual(str(uuid.UUID(value)), value)
        self.assertNotEqual(first, second)

    def test_submitting_the_rendered_form_twice_creates_one_order(self):
        client_id = self.rendered_client_id()
        form = {"client_id": client_id, "product_id": "7", "quantity": "1"}
        first = self.client.post("/api/orders/", form, HTTP_ACCEPT="text/html")
        again = self.client.post("/api/orders/", form, HTTP_ACCEPT="text/html")
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(Order.objects.get().client_id, client_id)

    def test_the_transition_page_renders(self):
        order = Order.objects.get_or_create_by_client_id(
            owner=self.user, client_id="c-1", product_id=7, quantity=1
        )[0]
        response = self.client.get(f"/api/orders/{order.pk}/", HTTP_ACCEPT="text/html")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Extra Actions")


class SchemaTests(TestCase):
    def test_the_schema_documents_the_order_endpoints(self):
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 200)
        paths = response.json()["paths"]
        create_op = paths["/api/orders/"]["post"]
        self.assertEqual(
            create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/OrderCreateRequest",
        )
        self.assertTrue({"200", "201", "400", "422"} <= set(create_op["responses"]))
        for name in ("process", "complete", "cancel"):
            with self.subTest(action=name):
                op = paths[f"/api/orders/{{id}}/{name}/"]["post"]
                self.assertNotIn("requestBody", op)
                self.assertTrue({"200", "404", "409"} <= set(op["responses"]))
