from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import TestCase
from rest_framework.authtoken.models import Token

from idem_project.middleware import StaticFilesMiddleware
from tests.asgi import post_counting_hops
from tests.factories import make_user
from tests.idempotency.helpers import keyed

# Under ASGI: one hop into the sync middleware, the request_started and
# request_finished receivers, CSRF's process_view, the view and its rendering.
MOST_HOPS = 6


class AsgiThreadHopTests(TestCase):
    """Django's ASGI handler runs the middleware above the key layer in sync mode.

    Each ``sync_to_async`` call is a hand-over between the event loop's
    thread and the request's (docs/idempotency.md, "Under ASGI").
    """

    def test_the_static_files_middleware_is_sync_only_and_just_above_the_layer(self):
        self.assertFalse(StaticFilesMiddleware.async_capable)
        layer = settings.MIDDLEWARE.index("idempotency.drf.IdempotencyMiddleware")
        self.assertEqual(
            settings.MIDDLEWARE[layer - 1],
            "idem_project.middleware.StaticFilesMiddleware",
        )

    async def test_a_keyed_create_makes_few_thread_hops(self):
        user = await sync_to_async(make_user)()
        token = await Token.objects.acreate(user=user)
        body = {"client_id": "hops", "product_id": 7, "quantity": 1}
        response, calls = await post_counting_hops(
            self.async_client,
            "/api/orders/",
            body,
            **keyed("h", Authorization=f"Token {token.key}"),
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertLessEqual(calls, MOST_HOPS)
