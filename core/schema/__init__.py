"""OpenAPI for the project's API, by role.

``auto`` holds ``ApiAutoSchema`` (the ``DEFAULT_SCHEMA_CLASS``) and the
preprocessing hook, ``errors`` the schema of field errors, ``uploads`` the
request bodies of a create that takes a file.
"""

from core.schema.auto import NO_NUL_PATTERN, ApiAutoSchema, api_endpoints_only
from core.schema.uploads import RequiresOneOf, file_upload_request

__all__ = [
    "NO_NUL_PATTERN",
    "ApiAutoSchema",
    "RequiresOneOf",
    "api_endpoints_only",
    "file_upload_request",
]
