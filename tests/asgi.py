"""Count the thread hops Django's ASGI handler makes for one request."""

from unittest import mock

from asgiref.sync import SyncToAsync


async def post_counting_hops(client, path, body, **headers):
    """POST ``body`` as JSON with ``client``, an AsyncClient.

    Return the response and how many ``sync_to_async`` calls it took: each
    one a hand-over between the event loop's thread and the request's.
    """
    calls = 0
    original = SyncToAsync.__call__

    async def counted(adapter, *args, **kwargs):
        nonlocal calls
        calls += 1
        return await original(adapter, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__call__", counted):
        response = await client.post(
            path, body, content_type="application/json", headers=headers
        )
    return response, calls
