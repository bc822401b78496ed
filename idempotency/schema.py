"""OpenAPI: every unsafe operation under the layer documents the key header and its answers."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes

from idempotency.conf import idempotency_settings
from idempotency.drf import REPLAYED_HEADER, applies_to

ERROR_COMPONENT = "Error"

# What idempotency.fingerprint.parse_key accepts: 1 to 255 visible ASCII
# characters, bare (neither first nor last a double quote) or in double quotes
# (then holding no quote and no backslash).
KEY_PATTERN = r'^(?:[!#-~]|[!#-~][!-~]{0,253}[!#-~]|"[!#-\[\]-~]{1,255}")$'

_INVALID = (
    "The key header is invalid (`idempotency_key_invalid`): it must be 1 to 255 "
    "visible ASCII characters, bare or in double quotes, and the alias must "
    "carry the same key."
)
_REQUIRED = "This operation requires the key header (`idempotency_key_required`)."
_IN_USE = (
    "A request with this key is still in progress (`idempotency_key_in_use`); "
    "retry after the `Retry-After` header's seconds."
)
_MISMATCH = (
    "This key was already used with another method, path or payload "
    "(`idempotency_key_mismatch`)."
)

_TOO_LARGE = "A keyed request's body is over 2 MiB (`payload_too_large`)."


def _merge_schema(content: dict[str, Any], schema: dict[str, Any]) -> None:
    """Let ``content``'s schema also accept ``schema`` (an ``anyOf`` of both)."""
    current = content.get("schema")
    if current is None:
        content["schema"] = schema
    elif "anyOf" in current and set(current) == {"anyOf"}:
        if schema not in current["anyOf"]:
            current["anyOf"].append(schema)
    elif current != schema:
        content["schema"] = {"anyOf": [current, schema]}


class IdempotencyAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the Idempotency-Key header and its answers.

    Views with ``idempotency_exempt = True`` are left as they are. The header
    is required on the operations that require a key: paths under
    ``REQUIRED_PATH_PREFIXES`` and views with ``idempotency_key_required``.
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
        if (
            operation is None
            or getattr(self.view, "idempotency_exempt", False)
            or not applies_to(method.upper(), path)
        ):
            return operation
        required = self.key_required()
        operation.setdefault("parameters", []).append(self._key_parameter(required))
        self._add_key_answers(operation["responses"], required=required)
        return operation

    def key_required(self) -> bool:
        """Return whether a request to this operation without a key is refused."""
        return getattr(self.view, "idempotency_key_required", False) or (
            self.path.startswith(tuple(idempotency_settings.REQUIRED_PATH_PREFIXES))
        )

    def _key_parameter(self, required: bool) -> dict[str, Any]:
        alias = idempotency_settings.ALIAS_HEADER
        ttl = getattr(
            self.view, "idempotency_ttl_seconds", idempotency_settings.TTL_SECONDS
        )
        wait = getattr(
            self.view,
            "idempotency_in_flight_wait_seconds",
            idempotency_settings.IN_FLIGHT_WAIT_SECONDS,
        )
        description = (
            "A key the client chooses for this request, such as a UUID v4: "
            '1 to 255 visible ASCII characters, bare or quoted (`"abc"` is '
            "`abc`). A retry with the same key and the same method, path and "
            "payload replays the stored 2xx reply (a 201 as 200) with "
            f"`{REPLAYED_HEADER}: true` instead of running again. Keys belong "
            "to the authenticated user (or to anonymous clients). Here a key "
            f"lives {ttl:g} seconds, and a request sent while another with its "
            f"key is in flight waits up to {wait:g} seconds for that reply "
            "before it is answered 409."
        )
        if required:
            description += " Required: a request without a key is answered 400."
        if alias:
            # Not a parameter of its own: OpenAPI cannot say that two headers,
            # when both are sent, must be equal.
            description += (
                f" `{alias}` is accepted instead, with the same syntax; sent "
                "with this header, it must carry the same key."
            )
        return {
            "in": "header",
            "name": idempotency_settings.HEADER,
            "required": required,
            "schema": {"type": "string", "pattern": KEY_PATTERN, "minLength": 1},
            "description": description,
        }

    def error_ref(self) -> dict[str, str]:
        """Return a reference to the ``{"detail", "code"}`` error component."""
        component = ResolvedComponent(
            name=ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            object=ERROR_COMPONENT,
            schema={
                "type": "object",
                "description": "An error about the request as a whole; `code` "
                "is stable, `detail` is for people.",
                "properties": {
                    "detail": build_basic_type(OpenApiTypes.STR),
                    "code": build_basic_type(OpenApiTypes.STR),
                },
                "required": ["detail", "code"],
            },
        )
        self.registry.register_on_missing(component)
        return component.ref

    def add_answer(
        self,
        responses: dict[str, Any],
        status: int,
        description: str,
        *,
        schema: dict[str, Any] | None = None,
        headers: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Document one more answer under ``status``, beside any already there.

        ``schema`` defaults to the error component. A header is required only
        while every answer under the status carries it.
        """
        schema = schema or self.error_ref()
        headers = headers or {}
        code = str(status)
        response = responses.get(code)
        if response is None:
            responses[code] = {
                "content": {"application/json": {"schema": schema}},
                "description": description,
                **({"headers": headers} if headers else {}),
            }
            return
        previous = response.get("description", "")
        if description not in previous:
            response["description"] = (
                f"{previous} Or: {description}" if previous else description
            )
        content = response.setdefault("content", {"application/json": {}})
        for media in content.values():
            _merge_schema(media, schema)
        merged = response.setdefault("headers", {})
        for name, header in merged.items():
            if name not in headers:
                header["required"] = False
        for name, header in headers.items():
            merged.setdefault(name, {**header, "required": False})
        if not merged:
            del response["headers"]

    def _add_key_answers(self, responses: dict[str, Any], *, required: bool) -> None:
        replayed = {
            "schema": {"type": "string", "enum": ["true"]},
            "description": "Present on a replay of a stored reply.",
        }
        for code, response in list(responses.items()):
            if code.startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = dict(replayed)
        if "201" in responses and "200" not in responses:
            responses["200"] = {
                **responses["201"],
                "description": "A replay of the stored 201 reply (same key, same "
                "request).",
            }
        self.add_answer(responses, 400, _INVALID)
        if required:
            self.add_answer(responses, 400, _REQUIRED)
        retry_after = {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 0},
                "description": "Seconds to wait before retrying.",
                "required": True,
            }
        }
        self.add_answer(responses, 409, _IN_USE, headers=retry_after)
        self.add_answer(responses, 422, _MISMATCH)
        self.add_answer(responses, 413, _TOO_LARGE)
