"""Photos under /api/photos/ and the original /upload path."""

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.responses import create_response
from core.schema import file_upload_request
from uploads.downloads import photo_file_response
from uploads.models import Photo
from uploads.serializers import (
    PhotoCreateSerializer,
    PhotoSerializer,
    UploadCreateSerializer,
)
from uploads.services import photo_create

_FILENAME_TAKEN = OpenApiResponse(
    description="The caller has a photo of this filename with other content "
    "(`filename_taken`); it is unchanged."
)


def _photo_reply(request: Request, photo: Photo, *, created: bool) -> Response:
    """Answer 201 with a Location for a new photo, 200 for a retry."""
    return create_response(
        request,
        body=PhotoSerializer(photo, context={"request": request}).data,
        created=created,
        detail_url="photo-detail",
        pk=photo.pk,
    )


class PhotoViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Create, list and read the caller's photos, and download their files."""

    serializer_class = PhotoSerializer

    def get_queryset(self) -> QuerySet[Photo]:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no user; the model is all it needs.
            return Photo.objects.none()
        return Photo.objects.owned_by(self.request.user)

    @extend_schema(
        request=file_upload_request(
            PhotoCreateSerializer, file="file", name="filename"
        ),
        responses={201: PhotoSerializer, 200: PhotoSerializer, 409: _FILENAME_TAKEN},
    )
    def create(self, request: Request) -> Response:
        params = PhotoCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        photo, created = photo_create(owner=request.user, **params.validated_data)
        return _photo_reply(request, photo, created=created)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="file", url_name="file")
    def file(self, request: Request, pk: str | None = None) -> FileResponse:
        """Stream the photo's stored file to its owner."""
        photo = self.get_object()
        if not photo.file:
            raise NotFound(_("This photo has no file."))
        return photo_file_response(photo)


class UploadView(APIView):
    """Create a photo at the original ``POST /upload`` path, for the caller only."""

    serializer_class = UploadCreateSerializer

    @extend_schema(
        request=file_upload_request(
            UploadCreateSerializer, file="file", name="filename"
        ),
        responses={
            201: PhotoSerializer,
            200: PhotoSerializer,
            403: OpenApiResponse(
                description="`user_id` is not the caller's id (`permission_denied`)."
            ),
            409: _FILENAME_TAKEN,
        },
    )
    def post(self, request: Request) -> Response:
        params = UploadCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        fields = params.validated_data
        if fields.pop("user_id") != request.user.pk:
            raise PermissionDenied(_("user_id must be your own user id."))
        photo, created = photo_create(owner=request.user, **fields)
        return _photo_reply(request, photo, created=created)
