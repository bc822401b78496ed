"""The project's JSON parser: DRF's, with a body nested too deep for Python as bad input."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """Parse JSON like DRF; a body nested deeper than Python can parse is a 400.

    Python's decoder gives up near 1,000 levels with a RecursionError, which
    DRF's parser lets through as a 500.
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        """Return the parsed body; raise ParseError for malformed or too deep JSON."""
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(
                _("JSON parse error - the body is nested too deeply.")
            ) from exc
