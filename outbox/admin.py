"""Admin for outbox messages: read-only, with a retry for the failed ones."""

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from outbox.models import OutboxMessage
from outbox.services import messages_retry


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Outbox messages, newest first; staff retry failed ones, nobody edits them."""

    list_display = [
        "topic",
        "dedupe_key",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "attempted_at",
        "done_at",
    ]
    list_filter = ["state", "topic", "created_at"]
    search_fields = ["dedupe_key"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    fields = [
        "topic",
        "dedupe_key",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "relayed_at",
        "first_attempt_at",
        "attempted_at",
        "leased_until",
        "done_at",
        "payload_json",
    ]
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_json(self, message: OutboxMessage) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(message.payload, indent=2, ensure_ascii=False)
        )

    @admin.action(description="Retry the selected failed messages")
    def retry(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = messages_retry(list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"{count} failed message(s) handed over again.",
            messages.SUCCESS if count else messages.WARNING,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: OutboxMessage | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: OutboxMessage | None = None
    ) -> bool:
        return False
