"""A test-only URLconf: the tiny views of tests.idempotency.views."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.idempotency import views

urlpatterns = [
    path("api/things/", views.ThingView.as_view()),
    path("api/private/", views.PrivateThingView.as_view()),
    path("api/slow/", views.SlowThingView.as_view()),
    path("api/impatient/", views.ImpatientSlowThingView.as_view()),
    path("api/no-gate/", views.NoGateThingView.as_view()),
    path("api/probe/", views.AtomicProbeView.as_view()),
    path("api/required/", views.RequiredThingView.as_view()),
    path("api/short/", views.ShortLivedThingView.as_view()),
    path("api/uploads/", views.UploadThingView.as_view()),
    path("api/raw/", views.RawView.as_view()),
    path("api/json-only/", views.JsonOnlyView.as_view()),
    path("api/secret/", views.SecretView.as_view()),
    path("api/stream/", views.StreamView.as_view()),
    path("api/broken/", views.BrokenView.as_view()),
    path("upload", views.ThingView.as_view()),
    path("elsewhere/", csrf_exempt(views.plain_view)),
    path("api/plain/", csrf_exempt(views.plain_redirect_view)),
    path("api/redirect/", views.RedirectThingView.as_view()),
    path("elsewhere/opted/", csrf_exempt(views.opted_in_view)),
    path("elsewhere/opted-drf/", views.OptedInThingView.as_view()),
]
