import json
from http.client import HTTPConnection
from uuid import uuid4

from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from idempotency.models import IdempotencyKey
from tests.browser.chromium import BrowserTestCase, needs_chromium
from tests.factories import make_staff, make_user

CHANGELIST = "/admin/idempotency/idempotencykey/"


@needs_chromium
class IdempotencyKeyAdminBrowserTests(BrowserTestCase):
    def keyed_order(self, user, *, key, client_id):
        """Create an order over HTTP with an Idempotency-Key; return the reply body."""
        token, _ = Token.objects.get_or_create(user=user)
        server = HTTPConnection(
            self.server_thread.host, self.server_thread.port, timeout=10
        )
        self.addCleanup(server.close)
        server.request(
            "POST",
            "/api/orders/",
            body=json.dumps({"client_id": client_id, "product_id": 3, "quantity": 1}),
            headers={
                "Authorization": f"Token {token.key}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        response = server.getresponse()
        self.assertEqual(response.status, 201)
        return json.loads(response.read())

    def test_staff_find_a_key_by_search_and_read_its_stored_reply(self):
        staff = make_staff(password="pw-staff-secret")
        staff.user_permissions.set(
            Permission.objects.filter(codename="view_idempotencykey")
        )
        customer = make_user()
        key, client_id = str(uuid4()), f"browser-{uuid4()}"
        created = self.keyed_order(customer, key=key, client_id=client_id)
        self.keyed_order(customer, key=str(uuid4()), client_id=f"other-{uuid4()}")
        self.assertEqual(IdempotencyKey.objects.count(), 2)

        self.log_in(
            "/admin/login/?next=/admin/", email=staff.email, password="pw-staff-secret"
        )
        self.wait().until(EC.url_to_be(f"{self.live_server_url}/admin/"))
        self.screenshot("admin-index")
        index = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, f"a[href='{CHANGELIST}']").click()
        self.wait_until_gone(index)
        self.assertEqual(
            len(self.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")),
            2,
        )
        self.screenshot("key-list")

        search = self.driver.find_element(By.ID, "searchbar")
        search.send_keys(key)
        listing = self.driver.find_element(By.TAG_NAME, "html")
        search.send_keys(Keys.ENTER)
        self.wait_until_gone(listing)
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        self.assertEqual(len(rows), 1)
        self.assertIn(key, rows[0].text)
        self.screenshot("search-result")

        results = self.driver.find_element(By.TAG_NAME, "html")
        rows[0].find_element(By.LINK_TEXT, key).click()
        self.wait_until_gone(results)
        reply = self.wait().until(
            EC.visibility_of_element_located(
                (By.CSS_SELECTOR, ".field-stored_reply pre")
            )
        )
        self.driver.execute_script("arguments[0].scrollIntoView()", reply)
        self.screenshot("stored-reply")
        text = reply.get_attribute("textContent")
        self.assertEqual(json.loads(text), created)
        self.assertIn(f'\n  "client_id": "{client_id}"', text)
        # The stored record never holds the request's credentials.
        self.assertNotIn(Token.objects.get(user=customer).key, self.driver.page_source)

    def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(self):
        user = make_user(password="pw-plain-secret")
        self.keyed_order(user, key=str(uuid4()), client_id=f"plain-{uuid4()}")
        self.log_in(
            "/api-auth/login/?next=/api/orders/",
            email=user.email,
            password="pw-plain-secret",
        )
        self.wait().until(EC.url_to_be(f"{self.live_server_url}/api/orders/"))

        self.open(CHANGELIST)
        self.wait().until(EC.url_contains("/admin/login/"))
        self.screenshot("admin-refused")
        self.assertEqual(
            self.driver.current_url,
            f"{self.live_server_url}/admin/login/?next={CHANGELIST}",
        )
        self.assertIn("not authorized", self.driver.find_element(By.ID, "content").text)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "#result_list"), [])

        # Its own password on the admin's form does not let it in either.
        self.driver.find_element(By.NAME, "username").send_keys(user.email)
        self.driver.find_element(By.NAME, "password").send_keys("pw-plain-secret")
        refused = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
        self.wait_until_gone(refused)
        self.screenshot("admin-login-refused")
        self.assertTrue(
            self.driver.current_url.startswith(f"{self.live_server_url}/admin/login/")
        )
        errors = self.driver.find_element(By.CSS_SELECTOR, ".errornote").text
        self.assertIn("staff account", errors)
