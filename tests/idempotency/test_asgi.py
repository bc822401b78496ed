from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.test import AsyncClient, TestCase, override_settings

from idempotency.drf import IdempotencyMiddleware
from idempotency.models import IdempotencyKey
from tests.asgi import post_counting_hops
from tests.idempotency.helpers import TEST_URLS, keyed

LAYER = "idempotency.drf.IdempotencyMiddleware"


async def async_get_response(request):
    return None


@override_settings(ROOT_URLCONF=TEST_URLS)
class AsgiTests(TestCase):
    """The layer under Django's ASGI handler (AsyncClient), as uvicorn runs it."""

    def test_the_middleware_is_async_under_asgi_and_sync_under_wsgi(self):
        self.assertTrue(IdempotencyMiddleware.async_capable)
        self.assertTrue(IdempotencyMiddleware.sync_capable)
        self.assertTrue(iscoroutinefunction(IdempotencyMiddleware(async_get_response)))
        self.assertTrue(
            iscoroutinefunction(IdempotencyMiddleware(async_get_response).process_view)
        )
        self.assertFalse(iscoroutinefunction(IdempotencyMiddleware(lambda r: None)))

    async def test_a_keyed_create_replays_and_a_mismatch_is_422(self):
        first = await self.async_client.post(
            "/api/things/",
            {"name": "a"},
            content_type="application/json",
            headers=keyed("k"),
        )
        again = await self.async_client.post(
            "/api/things/",
            {"name": "a"},
            content_type="application/json",
            headers=keyed("k"),
        )
        other = await self.async_client.post(
            "/api/things/",
            {"name": "b"},
            content_type="application/json",
            headers=keyed("k"),
        )
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(again.content, first.content)
        self.assertEqual(other.json()["code"], "idempotency_key_mismatch")
        self.assertEqual(await IdempotencyKey.objects.acount(), 1)

    async def test_the_view_runs_in_the_transaction_on_the_same_thread(self):
        response = await self.async_client.post(
            "/api/probe/", {}, content_type="application/json", headers=keyed("p")
        )
        self.assertEqual(response.status_code, 201)
        self.assertTrue(response.json()["in_atomic_block"])
        row = await IdempotencyKey.objects.aget()
        self.assertEqual(row.status_code, 201)

    async def test_a_failed_reply_releases_the_key_and_keeps_nothing(self):
        failed = await self.async_client.post(
            "/api/things/",
            {"fail": True},
            content_type="application/json",
            headers=keyed("f"),
        )
        self.assertEqual(failed.status_code, 400)
        self.assertFalse(await IdempotencyKey.objects.aexists())

    async def test_a_request_without_a_key_runs_as_usual(self):
        response = await self.async_client.post(
            "/api/things/", {"name": "a"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 201)

    async def test_the_layer_adds_no_thread_hop(self):
        async def hops(client, **headers):
            response, calls = await post_counting_hops(
                client, "/api/things/", {"name": "h"}, **headers
            )
            self.assertEqual(response.status_code, 201)
            return calls

        await hops(self.async_client)  # the first request warms caches up
        with_layer = await hops(self.async_client, **keyed("hop"))
        without = [m for m in settings.MIDDLEWARE if m != LAYER]
        with override_settings(MIDDLEWARE=without):
            client = AsyncClient()
            await hops(client)
            self.assertEqual(with_layer, await hops(client))
