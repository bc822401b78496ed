"""Views of the orders app."""

from rest_framework import viewsets


class OrderViewSet(viewsets.ViewSet):
    """Orders."""

    def list(self, request):  # noqa: ANN001, ANN201
        raise NotImplementedError
