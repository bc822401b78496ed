"""OpenAPI: the request bodies of a create that takes a file, or only its name."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers


class RequiresOneOf:
    """Mark a serializer whose body needs at least one of some optional fields.

    ``schema_requires_one_of`` lists the groups of field names; the schema says
    ``anyOf`` of them, as the serializer's ``validate()`` enforces.
    """

    schema_requires_one_of: tuple[tuple[str, ...], ...] = ()


class RequiresOneOfExtension(OpenApiSerializerExtension):
    """Add the ``anyOf`` of required field groups to a ``RequiresOneOf`` serializer."""

    target_class = RequiresOneOf
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        schema["anyOf"] = []
        for group in self.target.schema_requires_one_of:
            option: dict[str, Any] = {"required": list(group)}
            for name in group:
                field_schema = schema["properties"][name]
                if field_schema.get("format") == "binary":
                    continue
                # In a form body DRF reads an optional field sent empty as absent,
                # so an empty value is valid but does not count as sent.
                minimum = field_schema.pop("minLength", None)
                if minimum:
                    option.setdefault("properties", {})[name] = {"minLength": minimum}
            schema["anyOf"].append(option)
        return schema


def file_upload_request(
    serializer_class: type[serializers.Serializer], *, file: str, name: str
) -> dict[str, Any]:
    """Return the request bodies of a create that takes a file, or only its name.

    A JSON or form body cannot carry a file: its shape has no ``file`` field
    and requires ``name``. A multipart body may have both and needs one of them
    (the serializer takes the name from the file when ``name`` is absent).
    """
    # A serializer deep-copies its fields from their constructor arguments.
    field = serializer_class._declared_fields[name]
    named = type(field)(*field._args, **{**field._kwargs, "required": True})
    same = {
        "__module__": serializer_class.__module__,
        "__doc__": serializer_class.__doc__,
    }
    without_file = type(
        serializer_class.__name__,
        (serializer_class,),
        {**same, file: None, name: named},
    )
    multipart = type(
        serializer_class.__name__.removesuffix("Serializer") + "MultipartSerializer",
        (RequiresOneOf, serializer_class),
        {**same, "schema_requires_one_of": ((file,), (name,))},
    )
    return {
        "application/json": without_file,
        "application/x-www-form-urlencoded": without_file,
        "multipart/form-data": multipart,
    }
