from unittest import mock

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.test import TestCase
from rest_framework.authtoken.models import Token

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
        layer = settings.MIDDLEWARE.index("idempotency.drf.IdempotencyMiddleware")
        self.assertEqual(
            settings.MIDDLEWARE[layer - 1],
            "idem_project.middleware.StaticFilesMiddleware",
        )

    async def test_a_keyed_create_makes_few_thread_hops(self):
        user = await sync_to_async(make_user)()
        token = await Token.objects.acreate(user=user)
        calls = 0
        original = SyncToAsync.__call__

        async def counted(adapter, *args, **kwargs):
            nonlocal calls
            calls += 1
            return await original(adapter, *args, **kwargs)

        body = {"client_id": "hops", "product_id": 7, "quantity": 1}
        with mock.patch.object(SyncToAsync, "__call__", counted):
            response = await self.async_client.post(
                "/api/orders/",
                body,
                content_type="application/json",
                headers=keyed("h", Authorization=f"Token {token.key}"),
            )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertLessEqual(calls, MOST_HOPS)
