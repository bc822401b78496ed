"""Admin for received payment events: read-only, they are the proof of processing."""

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from webhooks.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Payment events by arrival; nobody adds, edits or deletes them.

    Deleting an event would let its next redelivery be processed again.
    """

    list_display = [
        "event_id",
        "type",
        "outcome",
        "source",
        "received_at",
        "redeliveries",
    ]
    list_filter = ["type", "outcome", "source", "received_at"]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"
    fields = [
        "event_id",
        "type",
        "outcome",
        "reason",
        "source",
        "received_at",
        "redeliveries",
        "payload_json",
    ]
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_json(self, event: WebhookEvent) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(event.payload, indent=2, ensure_ascii=False)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WebhookEvent | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: WebhookEvent | None = None
    ) -> bool:
        return False
