"""Admin for idempotency keys: read-only rows that staff can release or purge."""

import importlib.util
import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from idempotency.models import IdempotencyKey

# Users matched by e-mail in a search, at most; their keys join the results.
_SEARCH_USERS_LIMIT = 100


class ExpiredFilter(admin.SimpleListFilter):
    """Filter keys by whether their time to live is over."""

    title = _("expired")
    parameter_name = "expired"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[IdempotencyKey]
    ) -> QuerySet[IdempotencyKey]:
        if self.value() == "yes":
            return queryset.expired()
        if self.value() == "no":
            return queryset.unexpired()
        return queryset


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Keys are written by requests only: staff can read, release and purge them."""

    list_display = [
        "key",
        "principal",
        "method",
        "path",
        "status_code",
        "state",
        "created_at",
        "expires_at",
    ]
    list_filter = ["state", "method", "status_code", ExpiredFilter]
    search_fields = ["key", "path"]
    date_hierarchy = "created_at"
    fields = [
        "key",
        "principal",
        "method",
        "path",
        "fingerprint",
        "state",
        "status_code",
        "content_type",
        "location",
        "created_at",
        "expires_at",
        "stored_reply",
    ]
    readonly_fields = fields
    actions = ["release_keys", "purge_expired_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: IdempotencyKey | None = None
    ) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # release_keys is the same deletion, named for what it means here.
        actions.pop("delete_selected", None)
        if importlib.util.find_spec("celery") is None:
            # Without the "celery" extra there is no worker to hand the purge
            # to: manage.py purge_idempotency_keys does it.
            actions.pop("purge_expired_keys", None)
        return actions

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[IdempotencyKey], search_term: str
    ) -> tuple[QuerySet[IdempotencyKey], bool]:
        """Match the key and path, and the e-mail of the user a key belongs to."""
        results, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        term = search_term.strip()
        if term:
            user_model = get_user_model()
            email = user_model.get_email_field_name()
            user_pks = user_model._default_manager.filter(
                **{f"{email}__icontains": term}
            ).values_list("pk", flat=True)[:_SEARCH_USERS_LIMIT]
            owners = list(user_pks)
            if owners:
                results |= queryset.filter(owner_id__in=owners, scope="")
        return results, may_have_duplicates

    @admin.display(description=_("stored reply"))
    def stored_reply(self, obj: IdempotencyKey) -> str:
        """Show the stored body as indented JSON, or as text when it is not JSON."""
        body = bytes(obj.response_body or b"")
        if not body:
            return "-"
        try:
            text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            text = body.decode("utf-8", "replace")
        return format_html("<pre>{}</pre>", text)

    @admin.action(
        description=_("Release (delete) selected keys"), permissions=["delete"]
    )
    def release_keys(
        self, request: HttpRequest, queryset: QuerySet[IdempotencyKey]
    ) -> None:
        """Delete the selected keys, so their next request runs anew."""
        deleted, _rows = queryset.delete()
        self.message_user(request, _("Released %(count)d key(s).") % {"count": deleted})

    @admin.action(
        description=_("Purge all expired keys (whatever is selected)"),
        permissions=["delete"],
    )
    def purge_expired_keys(
        self, request: HttpRequest, queryset: QuerySet[IdempotencyKey]
    ) -> None:
        """Hand the purge of every expired key to the worker; never purge in the request.

        A million keys take the purge longer than a web worker's timeout.
        """
        # Celery is optional for the app; only this action and discovery need it.
        from kombu.exceptions import OperationalError

        from idempotency.tasks import purge_expired_keys_task

        try:
            purge_expired_keys_task.apply_async(retry=False)
        except OperationalError:
            self.message_user(
                request,
                _(
                    "The broker cannot be reached: nothing was purged. Try again, "
                    "or run manage.py purge_idempotency_keys."
                ),
                messages.ERROR,
            )
            return
        self.message_user(
            request,
            _(
                "Handed the purge of all expired keys to the worker; it deletes "
                "them in short batches in the background."
            ),
            messages.SUCCESS,
        )
