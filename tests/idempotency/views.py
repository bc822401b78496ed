"""Tiny views for the idempotency layer's tests, mounted by tests.idempotency.urls."""

import hashlib
import threading
from uuid import uuid4

from django.contrib.auth.models import Group
from django.db import connection
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from rest_framework import permissions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from idempotency.drf import idempotent_view

# Set by a test to hold SlowThingView in flight until the test releases it.
HOLD = {"entered": threading.Event(), "release": threading.Event()}


def reset_hold():
    HOLD["entered"] = threading.Event()
    HOLD["release"] = threading.Event()


class ThingView(APIView):
    """Create a Group named after the body; ``fail`` writes, then answers 400."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        name = request.data.get("name", "thing")
        group = Group.objects.create(name=f"{name}-{uuid4().hex}")
        if request.data.get("fail"):
            return Response(
                {"detail": "failed on purpose", "code": "failed"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {"id": group.pk, "name": group.name, "data": request.data},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/things/{group.pk}/"},
        )

    def put(self, request):
        Group.objects.create(name=f"put-{uuid4().hex}")
        return Response({"put": request.data}, status=status.HTTP_200_OK)

    def patch(self, request):
        Group.objects.create(name=f"patch-{uuid4().hex}")
        return Response({"patched": True}, status=status.HTTP_200_OK)

    def delete(self, request):
        Group.objects.create(name=f"delete-{uuid4().hex}")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PrivateThingView(ThingView):
    """ThingView for authenticated users only."""

    permission_classes = [permissions.IsAuthenticated]


class SlowThingView(ThingView):
    """ThingView that waits, after its write, until the test releases it."""

    def post(self, request):
        Group.objects.create(name=f"slow-{uuid4().hex}")
        HOLD["entered"].set()
        HOLD["release"].wait(timeout=30)
        return Response({"slow": True}, status=status.HTTP_201_CREATED)


class RequiredThingView(ThingView):
    """ThingView that requires a key."""

    idempotency_key_required = True


class ShortLivedThingView(ThingView):
    """ThingView whose keys live one minute."""

    idempotency_ttl_seconds = 60


class ImpatientSlowThingView(SlowThingView):
    """SlowThingView whose duplicates do not wait for the first request."""

    idempotency_in_flight_wait_seconds = 0


class AtomicProbeView(APIView):
    """Answer whether the handler runs inside a transaction."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        Group.objects.create(name=f"probe-{uuid4().hex}")
        return Response(
            {"in_atomic_block": connection.in_atomic_block},
            status=status.HTTP_201_CREATED,
        )


class NoGateThingView(ThingView):
    """ThingView whose own throttle_classes leave the gate out (check W004)."""

    throttle_classes = []


class UploadThingView(APIView):
    """Answer the fields and each file's digest of a multipart body."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        Group.objects.create(name=f"upload-{uuid4().hex}")
        files = {
            name: hashlib.sha256(upload.read()).hexdigest()
            for name, upload in request.FILES.items()
        }
        fields = {name: request.POST.getlist(name) for name in request.POST}
        return Response({"fields": fields, "files": files}, status=201)


class RawView(APIView):
    """Answer the SHA-256 of the raw body and what DRF parsed from it."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        digest = hashlib.sha256(request.body).hexdigest()
        Group.objects.create(name=f"raw-{uuid4().hex}")
        return Response({"sha256": digest, "data": request.data}, status=201)


class SecretView(APIView):
    """Answer a credential: exempt from idempotency records."""

    permission_classes = [permissions.AllowAny]
    idempotency_exempt = True

    def post(self, request):
        Group.objects.create(name=f"secret-{uuid4().hex}")
        return Response({"token": "s3cr3t-token-value"}, status=200)


class StreamView(APIView):
    """Answer a streamed body, which cannot be stored."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        Group.objects.create(name=f"stream-{uuid4().hex}")
        return StreamingHttpResponse(iter([b"a", b"b"]), status=201)


class BrokenView(APIView):
    """Write, then fail with an unexpected exception (a 500)."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        Group.objects.create(name=f"broken-{uuid4().hex}")
        raise RuntimeError("broken on purpose")


def plain_view(request):
    """A plain Django view outside the prefixes."""
    Group.objects.create(name=f"plain-{uuid4().hex}")
    return HttpResponse(b"plain", status=201)


class JsonOnlyView(RawView):
    """RawView that parses JSON only, like a webhook receiver."""

    parser_classes = [JSONParser]


def plain_redirect_view(request):
    """A plain Django view under /api/: writes, then redirects (or fails on ?fail)."""
    Group.objects.create(name=f"plain-{uuid4().hex}")
    if "fail" in request.GET:
        return HttpResponse(b"bad", status=400)
    return HttpResponseRedirect("/api/things/")


class RedirectThingView(ThingView):
    """ThingView that answers its create with a redirect (POST/redirect/GET)."""

    def post(self, request):
        Group.objects.create(name=f"redirect-{uuid4().hex}")
        return Response(status=status.HTTP_303_SEE_OTHER, headers={"Location": "/"})


@idempotent_view
def opted_in_view(request):
    """A plain Django view outside the prefixes that opted in to the layer."""
    if request.POST.get("fail"):
        Group.objects.create(name=f"opted-{uuid4().hex}")
        return HttpResponse(b"failed", status=400)
    group = Group.objects.create(name=f"opted-{uuid4().hex}")
    return HttpResponse(str(group.pk).encode(), status=201, content_type="text/plain")


@idempotent_view
class OptedInThingView(ThingView):
    """ThingView mounted outside the prefixes, opted in to the layer."""
