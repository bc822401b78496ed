"""The project's URLs: the API under /api/, the original /upload path, the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import permissions, routers

from accounts.views import TokenView, UserViewSet
from events.views import WebhookEndpointViewSet
from observability.views import MetricsView, healthz
from orders.views import OrderViewSet
from uploads.views import PhotoViewSet, UploadView
from webhooks.views import PaymentWebhookView


class APIRootView(routers.APIRootView):
    """The API root: open to anyone, with links to every resource."""

    permission_classes = [permissions.AllowAny]


class Router(routers.DefaultRouter):
    """DRF's default router with an API root that needs no credentials."""

    APIRootView = APIRootView


# Errors no view handled answer JSON; a database failure there is a 503.
handler500 = "core.views.server_error"

router = Router()
router.register("users", UserViewSet, basename="user")
router.register("photos", PhotoViewSet, basename="photo")
router.register("orders", OrderViewSet, basename="order")
router.register(
    "webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint"
)

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/auth/token/", TokenView.as_view(), name="auth-token"),
    path(
        "api/webhooks/payments/",
        PaymentWebhookView.as_view(),
        name="webhook-payments",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api-auth/", include("rest_framework.urls")),
    path("upload", UploadView.as_view(), name="upload"),
    path("admin/", admin.site.urls),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("healthz", healthz, name="healthz"),
]

handler404 = "core.views.page_not_found"
