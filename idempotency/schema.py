"""OpenAPI: every unsafe operation under the layer documents the Idempotency-Key header."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes

from idempotency.conf import idempotency_settings
from idempotency.drf import REPLAYED_HEADER, applies_to
from idempotency.fingerprint import MAX_KEY_LENGTH

_ERROR_COMPONENT = "IdempotencyError"
_ANSWERS = {
    "400": "The Idempotency-Key header is invalid (`idempotency_key_invalid`): it "
    "must be 1 to 255 visible ASCII characters, and its alias must not differ.",
    "409": "A request with this key is still in progress (`idempotency_key_in_use`); "
    "retry after the `Retry-After` header's seconds.",
    "422": "This key was already used with another method, path or payload "
    "(`idempotency_key_mismatch`).",
}


class IdempotencyAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the Idempotency-Key header and its answers.

    Views with ``idempotency_exempt = True`` are left as they are.
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
        operation.setdefault("parameters", []).append(self._key_parameter())
        self._add_answers(operation["responses"])
        return operation

    def _key_parameter(self) -> dict[str, Any]:
        alias = idempotency_settings.ALIAS_HEADER
        also = f" `{alias}` is accepted as an alias." if alias else ""
        return {
            "in": "header",
            "name": idempotency_settings.HEADER,
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            "description": (
                "A key the client chooses for this request, such as a UUID v4: "
                '1 to 255 visible ASCII characters, bare or quoted (`"abc"` is '
                "`abc`). A retry with the same key and the same method, path and "
                "payload replays the stored 2xx reply (a 201 as 200) with "
                f"`{REPLAYED_HEADER}: true` instead of running again. Keys belong "
                "to the authenticated user (or to anonymous clients) and expire "
                f"after {idempotency_settings.TTL_SECONDS} seconds.{also}"
            ),
        }

    def _error_ref(self) -> dict[str, str]:
        component = ResolvedComponent(
            name=_ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            object=_ERROR_COMPONENT,
            schema={
                "type": "object",
                "properties": {
                    "detail": build_basic_type(OpenApiTypes.STR),
                    "code": build_basic_type(OpenApiTypes.STR),
                },
                "required": ["detail", "code"],
            },
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _add_answers(self, responses: dict[str, Any]) -> None:
        replayed = {
            REPLAYED_HEADER: {
                "schema": {"type": "string", "enum": ["true"]},
                "description": "Present on a replay of a stored reply.",
            }
        }
        for code, response in list(responses.items()):
            if code.startswith("2"):
                response.setdefault("headers", {}).update(replayed)
        if "201" in responses and "200" not in responses:
            responses["200"] = {
                **responses["201"],
                "description": "A replay of the stored 201 reply (same key, same "
                "request).",
            }
        for code, description in _ANSWERS.items():
            if code in responses:
                previous = responses[code].get("description", "")
                responses[code]["description"] = f"{previous} Or: {description}".strip()
            else:
                responses[code] = {
                    "content": {"application/json": {"schema": self._error_ref()}},
                    "description": description,
                }
