"""Input and output shapes of the photos API."""

from typing import Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from core.fields import StringField
from uploads.models import Photo


class PhotoCreateSerializer(serializers.Serializer):
    """A photo to create: a filename, a caption, and optionally a file.

    Without an explicit ``filename`` the uploaded file's name is used (an empty
    form field counts as absent, as everywhere in DRF's form handling). The
    filename is kept exactly as sent; it is a name, never a path.
    """

    filename = StringField(
        min_length=1,
        max_length=255,
        trim_whitespace=False,
        allow_blank=False,
        required=False,
    )
    caption = StringField(
        max_length=2000,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        default="",
    )
    file = serializers.FileField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Default the filename to the uploaded file's name; require one of them."""
        if "filename" not in attrs:
            upload = attrs.get("file")
            if upload is None or not upload.name:
                message = self.fields["filename"].error_messages["required"]
                raise serializers.ValidationError(
                    {"filename": [message]}, code="required"
                )
            attrs["filename"] = upload.name
        attrs["upload"] = attrs.pop("file", None)
        return attrs


class AsciiIntegerField(serializers.IntegerField):
    """An integer in ASCII digits; int() alone also reads Arabic-Indic or full-width digits."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.isascii():
            self.fail("invalid")
        return super().to_internal_value(data)


class UploadCreateSerializer(PhotoCreateSerializer):
    """The same photo at the original ``/upload`` path, naming its owner."""

    user_id = AsciiIntegerField()


class PhotoSerializer(serializers.ModelSerializer):
    """A photo as the API shows it; ``file`` is an owner-only download URL or null."""

    file = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = [
            "id",
            "owner",
            "filename",
            "caption",
            "size",
            "sha256",
            "file",
            "uploaded_at",
        ]
        read_only_fields = fields

    def get_file(self, photo: Photo) -> str | None:
        if not photo.file:
            return None
        return reverse(
            "photo-file", args=[photo.pk], request=self.context.get("request")
        )
