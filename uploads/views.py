"""Views of the uploads app."""

from rest_framework import viewsets
from rest_framework.views import APIView


class PhotoViewSet(viewsets.ViewSet):
    """Photos."""

    def list(self, request):  # noqa: ANN001, ANN201
        raise NotImplementedError


class UploadView(APIView):
    """The original /upload path."""
