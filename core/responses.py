"""The answer every create endpoint gives: 201 the first time, 200 to a retry."""

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


def create_response(
    request: Request, *, body: Any, created: bool, detail_url: str, pk: Any
) -> Response:
    """Return ``201`` with the resource's ``Location`` when created, else ``200``.

    A retry gets the same body as the first answer; ``detail_url`` names the
    resource's detail route.
    """
    if not created:
        return Response(body, status=status.HTTP_200_OK)
    location = reverse(detail_url, args=[pk], request=request)
    return Response(
        body, status=status.HTTP_201_CREATED, headers={"Location": location}
    )
