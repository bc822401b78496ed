"""DRF's browsable API, with a create form that is fresh after every create."""

from typing import TYPE_CHECKING, Any

from rest_framework import renderers, status
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports the renderers at start-up
    from rest_framework.views import APIView


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """Offer a new, unbound create form after a create and after its retry alike.

    DRF fills the form after a POST from the response's serializer, which for
    a create is the created resource's (read-only) one. A fresh form instead
    offers a new ``client_id``, so the next submit creates the next thing;
    a ``400`` still shows the posted values beside their errors.
    """

    def get_rendered_html_form(
        self, data: Any, view: "APIView", method: str, request: Request
    ) -> Any:
        response = self.renderer_context.get("response")
        if method == "POST" and status.is_success(getattr(response, "status_code", 0)):
            data = None
        return super().get_rendered_html_form(data, view, method, request)
