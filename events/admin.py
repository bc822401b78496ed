"""Admin for events, webhook endpoints and their deliveries.

An endpoint's secret is shown once, in the message that follows its
creation, and never on any page after.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from events.addresses import UnsafeURL, url_resolve
from events.conf import events_settings
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.relay import events_render
from events.serializers import EVENT_CHOICES
from events.services import deliveries_retry

#: Deliveries listed on an endpoint's page, newest first.
RECENT_DELIVERIES = 50


class WebhookEndpointForm(forms.ModelForm):
    """The url (checked like the API's), the event types and the enabled flag."""

    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(c, c) for c in EVENT_CHOICES],
        widget=forms.CheckboxSelectMultiple,
        help_text='"*" is every type, and stands alone.',
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "enabled"]

    def clean_url(self) -> str:
        """Refuse URLs that are not http(s) or whose host is not public."""
        url = self.cleaned_data["url"]
        try:
            url_resolve(url, allow_private=events_settings.WEBHOOK_ALLOW_PRIVATE)
        except UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url

    def clean_events(self) -> list[str]:
        """Refuse ``"*"`` beside other types."""
        events = self.cleaned_data["events"]
        if "*" in events and len(events) > 1:
            raise forms.ValidationError('"*" stands alone: it means every type.')
        return events


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints; each page lists its recent deliveries."""

    form = WebhookEndpointForm
    list_display = ["url", "events", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled"]
    readonly_fields = ["disabled_reason", "created_at", "recent_deliveries"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["url", "events", "enabled"]
        return ["url", "events", "enabled", *self.readonly_fields]

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                f"The endpoint's signing secret, shown this once: {obj.secret}",
                messages.WARNING,
            )

    @admin.display(description="recent deliveries")
    def recent_deliveries(self, endpoint: WebhookEndpoint) -> str:
        # Prefetched, not joined: on Citus a join on the event id alone would
        # span shards.
        rows = endpoint.deliveries.prefetch_related("event").order_by("-id")[
            :RECENT_DELIVERIES
        ]
        body = format_html_join(
            "",
            "<tr><td><a href='{}'>{} {}</a></td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:events_webhookdelivery_change", args=[d.pk]),
                    d.event.type,
                    d.event_id,
                    d.last_attempt_at or d.created_at,
                    d.state,
                    d.last_error or d.last_status or "",
                    f"{d.last_duration_ms} ms"
                    if d.last_duration_ms is not None
                    else "",
                    d.attempts,
                )
                for d in rows
            ),
        )
        return format_html(
            "<table><tr><th>event</th><th>time</th><th>state</th>"
            "<th>status or error</th><th>duration</th><th>attempts</th></tr>{}</table>",
            body,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Deliveries, newest first; staff retry failed ones, nobody edits them."""

    list_display = [
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "last_duration_ms",
        "last_attempt_at",
        "next_attempt_at",
    ]
    list_filter = ["state", "endpoint"]
    search_fields = ["event__id"]
    list_select_related = ["endpoint"]
    actions = ["retry"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        """Prefetch the events rather than join them (a join spans shards on Citus)."""
        return super().get_queryset(request).prefetch_related("event")

    @admin.action(description="Retry the selected failed deliveries")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = deliveries_retry(list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"{count} failed delivery(ies) will be attempted again.",
            messages.SUCCESS if count else messages.WARNING,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WebhookDelivery | None = None
    ) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events, newest first; read-only."""

    list_display = [
        "id",
        "type",
        "resource",
        "resource_id",
        "sequence",
        "created_at",
        "published_at",
    ]
    list_filter = ["type", "created_at"]
    search_fields = ["id"]
    fields = [
        "id",
        "type",
        "resource",
        "resource_id",
        "sequence",
        "owner",
        "created_at",
        "published_at",
        "data_json",
    ]
    readonly_fields = fields

    @admin.display(description="data")
    def data_json(self, event: Event) -> str:
        events_render([event])
        return format_html("<pre>{}</pre>", json.dumps(event.data, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Event | None = None
    ) -> bool:
        return False
