import re
import uuid
from urllib.parse import urlencode

from rest_framework.test import APITestCase

from tests.factories import make_user

FORM = re.compile(r'id="post-object-form"(.*?)id="post-generic-content-form"', re.S)


def html_form_values(response):
    """Return {field: value} of the browsable API's HTML create form."""
    form = FORM.search(response.content.decode()).group(1)
    return dict(re.findall(r'<input name="(\w+)"[^>]*value="([^"]*)"', form))


class BrowsableCreateFormTests(APITestCase):
    """After a create and after its retry the form is the same: fresh."""

    def post_form(self, path, fields):
        return self.client.post(
            path,
            urlencode(fields),
            content_type="application/x-www-form-urlencoded",
            HTTP_ACCEPT="text/html",
        )

    def assert_fresh_order_form(self, response, sent_client_id):
        values = html_form_values(response)
        self.assertEqual((values["product_id"], values["quantity"]), ("", ""))
        self.assertEqual(uuid.UUID(values["client_id"]).version, 4)
        self.assertNotEqual(values["client_id"], sent_client_id)

    def test_order_form_is_fresh_after_201_and_after_200(self):
        self.client.force_login(make_user())
        sent = {"client_id": "browser-1", "product_id": "7", "quantity": "2"}
        offered = set()
        for expected in (201, 200):
            with self.subTest(status=expected):
                response = self.post_form("/api/orders/", sent)
                self.assertEqual(response.status_code, expected)
                self.assert_fresh_order_form(response, "browser-1")
                offered.add(html_form_values(response)["client_id"])
        self.assertEqual(len(offered), 2)

    def test_sign_up_form_is_fresh_after_201_and_after_200(self):
        sent = {
            "email": "ada@example.com",
            "name": "Ada",
            "password": "correct horse battery",
            "client_id": "browser-signup",
        }
        for expected in (201, 200):
            with self.subTest(status=expected):
                response = self.post_form("/api/users/", sent)
                self.assertEqual(response.status_code, expected)
                values = html_form_values(response)
                self.assertEqual(values["email"], "")
                self.assertEqual(values["name"], "")

    def test_a_refused_order_keeps_the_posted_values_beside_the_errors(self):
        self.client.force_login(make_user())
        sent = {"client_id": "browser-2", "product_id": "7", "quantity": "0"}
        response = self.post_form("/api/orders/", sent)
        self.assertEqual(response.status_code, 400)
        values = html_form_values(response)
        self.assertEqual(
            (values["client_id"], values["product_id"]), ("browser-2", "7")
        )
