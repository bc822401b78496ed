"""Admin for processed messages: read-only, they are the proof of processing."""

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from consumers.models import IdempotentCall
from idempotency.functions import PRINCIPAL_PREFIX


@admin.register(IdempotentCall)
class IdempotentCallAdmin(admin.ModelAdmin):
    """Calls of ``@idempotent`` functions and tasks; nobody adds, edits or deletes them.

    Deleting one would let the same message run its function again.
    """

    list_display = ["key", "scope", "path", "state", "created_at", "expires_at"]
    list_filter = ["state", "path", "created_at"]
    search_fields = ["key", "path"]
    fields = ["key", "scope", "path", "state", "created_at", "expires_at", "result"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[IdempotentCall]:
        return IdempotentCall.objects.calls()

    @admin.display(description="scope")
    def scope(self, call: IdempotentCall) -> str:
        return call.scope.removeprefix(PRINCIPAL_PREFIX)

    @admin.display(description="result")
    def result(self, call: IdempotentCall) -> str:
        try:
            shown = json.dumps(json.loads(bytes(call.response_body)), indent=2)
        except ValueError:
            shown = ""
        return format_html("<pre>{}</pre>", shown)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: IdempotentCall | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: IdempotentCall | None = None
    ) -> bool:
        return False
