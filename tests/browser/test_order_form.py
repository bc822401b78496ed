import json
import re
from urllib.parse import quote

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from orders.models import Order
from tests.browser.chromium import ARRIVALS_PATH, BrowserTestCase, needs_chromium
from tests.factories import make_user

UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
CREATE = "POST /api/orders/"
HTML_FORM = "#post-object-form form"

# Click, then click again as soon as the server has the first submission. Two
# clicks in one task send a single POST: Chromium replaces a form submission
# that has not left the page yet.
DOUBLE_CLICK = """
const [button, arrivals] = arguments;
button.click();
(async function clickAgainOnceSent() {
  const response = await fetch(arrivals, {cache: "no-store"});
  if (Number(await response.text()) >= 1) {
    button.click();
  } else {
    setTimeout(clickAgainOnceSent, 10);
  }
})();
"""


@needs_chromium
class OrderFormDoubleSubmitTests(BrowserTestCase):
    def test_double_clicked_post_creates_one_order(self):
        user = make_user(password="pw-orders-secret")
        self.log_in(
            "/api-auth/login/?next=/api/orders/",
            email=user.email,
            password="pw-orders-secret",
        )
        self.wait().until(EC.url_to_be(f"{self.live_server_url}/api/orders/"))
        self.wait().until(
            EC.element_to_be_clickable((By.CSS_SELECTOR, "a[name=html-tab]"))
        ).click()
        form = self.wait().until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, HTML_FORM))
        )
        client_id = form.find_element(By.NAME, "client_id").get_attribute("value")
        self.assertRegex(client_id, UUID4)
        form.find_element(By.NAME, "product_id").send_keys("7")
        form.find_element(By.NAME, "quantity").send_keys("2")
        self.screenshot("order-form-filled")

        # The first answer waits until the second submission arrives, as on a
        # slow server, so the second click really is a second POST.
        self.hold_answers(CREATE, until=2)
        form_page = self.driver.find_element(By.TAG_NAME, "html")
        button = form.find_element(By.CSS_SELECTOR, ".form-actions button")
        self.driver.execute_script(
            DOUBLE_CLICK, button, f"{ARRIVALS_PATH}?request={quote(CREATE)}"
        )
        self.wait_for_server(
            lambda: len(self.statuses(CREATE)) == 2, "expected two POSTs"
        )
        self.wait_until_gone(form_page)
        self.wait().until(
            EC.text_to_be_present_in_element(
                (By.CSS_SELECTOR, ".response-info"), "HTTP 200 OK"
            )
        )
        self.screenshot("after-double-click")

        self.assertEqual(self.statuses(CREATE), [201, 200])
        shown = self.driver.find_element(By.CSS_SELECTOR, ".response-info pre").text
        body = json.loads(shown[shown.index("{") :])
        order = Order.objects.get(owner=user)
        self.assertEqual(
            (body["id"], body["client_id"], body["product_id"], body["quantity"]),
            (order.pk, client_id, 7, 2),
        )
        self.assertEqual(
            (order.client_id, order.product_id, order.quantity), (client_id, 7, 2)
        )
        self.assertEqual(Order.objects.count(), 1)
