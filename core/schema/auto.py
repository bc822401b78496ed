"""OpenAPI: the answers every API operation can give, documented in one place.

``ApiAutoSchema`` is the project's ``DEFAULT_SCHEMA_CLASS``. On top of the
key layer's answers (``idempotency.schema``) it documents, from what a view
declares, the statuses DRF and the project give every operation: field
errors, authentication, CSRF, missing objects, body size and type,
throttling and an unavailable database. docs/errors.md lists the codes.
"""

from typing import Any

from drf_spectacular.plumbing import ResolvedComponent, is_serializer
from drf_spectacular.utils import OpenApiRequest
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication

from core.schema.errors import errors_object
from core.schema.uploads import RequiresOneOf
from core.views import API_PATH_PREFIXES
from idempotency.drf import IdempotencyGate
from idempotency.schema import IdempotencyAutoSchema

NO_NUL_PATTERN = "^[^\\x00]*$"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 0},
    "description": "Seconds to wait before retrying.",
    "required": True,
}


def api_endpoints_only(endpoints: list[tuple[Any, ...]], **_: Any) -> list[Any]:
    """Keep the endpoints under ``API_PATH_PREFIXES`` (a preprocessing hook)."""
    return [e for e in endpoints if e[0].startswith(API_PATH_PREFIXES)]


class ApiAutoSchema(IdempotencyAutoSchema):
    """The project's AutoSchema: every status an operation answers, with its body.

    A view whose body is read as raw bytes, never parsed by DRF, says so with
    ``parses_request_body = False`` (no 415); one that answers ``429`` without
    a DRF throttle says so with ``answers_throttled = True``.
    """

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: Any,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(
            path, path_regex, path_prefix, method, registry
        )
        if operation is None:
            return None
        responses = operation["responses"]
        if "requestBody" in operation:
            self._add_body_answers(responses)
        self._add_access_answers(responses)
        if self._is_paginated_list():
            self._describe_page(operation)
        if "{" in path or self._is_paginated_list():
            self.add_answer(
                responses,
                404,
                "No such object of the caller's, or no such page (`not_found`).",
            )
        if getattr(self.view, "answers_throttled", False) or any(
            not issubclass(t, IdempotencyGate) for t in self.view.throttle_classes
        ):
            self.add_answer(
                responses,
                429,
                "Too many requests (`throttled`); retry after `Retry-After` seconds.",
                headers={"Retry-After": dict(_RETRY_AFTER)},
            )
        self.add_answer(
            responses,
            503,
            "The database is unavailable or too slow (`service_unavailable`); "
            "nothing was changed. Retry after `Retry-After` seconds.",
            headers={"Retry-After": dict(_RETRY_AFTER)},
        )
        return operation

    def _map_serializer_field(
        self, field: serializers.Field, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            # Every DRF CharField refuses NUL characters. drf-spectacular then
            # documents a blank-allowed field as oneOf this or "", so here the
            # pattern leaves "" to that second branch.
            schema["pattern"] = NO_NUL_PATTERN
            if field.allow_blank:
                schema["pattern"] = NO_NUL_PATTERN.replace("*", "+")
        if isinstance(field, serializers.FileField) and not field.allow_empty_file:
            schema["minLength"] = 1  # an empty file is refused
        return schema

    def _get_request_for_media_type(
        self, serializer: Any, direction: str = "request"
    ) -> tuple[Any, bool]:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # Its fields are optional one by one, but the body needs one of them.
        return schema, required or isinstance(serializer, RequiresOneOf) or (
            isinstance(serializer, type) and issubclass(serializer, RequiresOneOf)
        )

    def _is_paginated_list(self) -> bool:
        return (
            self.method == "GET"
            and self._is_list_view()
            and self._get_paginator() is not None
        )

    def _describe_page(self, operation: dict[str, Any]) -> None:
        name = self._get_paginator().page_query_param
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] == name:
                # DRF reads an empty page as the first; past the last it is 404.
                parameter["schema"]["minimum"] = 1
                parameter["allowEmptyValue"] = True

    def _add_body_answers(self, responses: dict[str, Any]) -> None:
        self.add_answer(
            responses,
            400,
            "Invalid input: a body that does not parse (`parse_error`), or "
            "field errors, each field's messages under its name and errors about "
            "the body as a whole under `non_field_errors`.",
            schema={"anyOf": [self.error_ref(), self._field_errors_ref()]},
        )
        self.add_answer(
            responses,
            413,
            "The body is over 2 MiB, or an uploaded file over its limit "
            "(`payload_too_large`); nothing was stored.",
        )
        if getattr(self.view, "parses_request_body", True):
            self.add_answer(
                responses,
                415,
                "A body of a media type the operation does not take "
                "(`unsupported_media_type`).",
            )

    def _add_access_answers(self, responses: dict[str, Any]) -> None:
        authenticators = self.view.get_authenticators()
        if authenticators:
            self.add_answer(
                responses,
                401,
                "No or invalid credentials (`not_authenticated`, "
                "`authentication_failed`).",
                headers={
                    "WWW-Authenticate": {
                        "schema": {"type": "string"},
                        "description": "The authentication scheme to use: `Token`.",
                        "required": True,
                    }
                },
            )
        if any(
            isinstance(p, permissions.IsAdminUser) for p in self.view.get_permissions()
        ):
            self.add_answer(
                responses, 403, "Not a staff account (`permission_denied`)."
            )
        if self.method in _UNSAFE and any(
            isinstance(a, SessionAuthentication) for a in authenticators
        ):
            self.add_answer(
                responses,
                403,
                "A request authenticated by the session cookie without a valid "
                "CSRF token (`permission_denied`).",
            )

    def _request_serializers(self) -> list[serializers.Serializer]:
        requested = self.get_request_serializer()
        candidates = (
            list(requested.values()) if isinstance(requested, dict) else [requested]
        )
        found = []
        for candidate in candidates:
            if isinstance(candidate, OpenApiRequest):
                candidate = candidate.request
            if is_serializer(candidate):
                found.append(candidate() if isinstance(candidate, type) else candidate)
        return found

    def _field_errors_ref(self) -> dict[str, str]:
        found = self._request_serializers()
        if not found:
            return errors_object(serializers.Serializer())
        first = found[0]
        schema = errors_object(first)
        for other in found[1:]:
            for name, errors in errors_object(other)["properties"].items():
                schema["properties"].setdefault(name, errors)
        schema["description"] = "Field errors: each field's messages under its name."
        component = ResolvedComponent(
            name=self._get_serializer_name(first, "response") + "ValidationError",
            type=ResolvedComponent.SCHEMA,
            object=(type(first).__name__, "errors"),
            schema=schema,
        )
        self.registry.register_on_missing(component)
        return component.ref
