"""Admin for orders: read-only history; status changes go through the state machine."""

from django.contrib import admin
from django.http import HttpRequest

from orders.models import Order, OrderEvent


class OrderEventInline(admin.TabularInline):
    """An order's applied transitions, oldest first, read-only."""

    model = OrderEvent
    fields = ["status", "at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(
        self, request: HttpRequest, obj: Order | None = None
    ) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Order | None = None
    ) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are created through the API; the admin shows them and their history."""

    list_display = [
        "id",
        "client_id",
        "owner",
        "product_id",
        "quantity",
        "status",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["client_id", "owner__email"]
    list_select_related = ["owner"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "owner",
        "client_id",
        "product_id",
        "quantity",
        "status",
        "created_at",
        "updated_at",
    ]
    inlines = [OrderEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A new order needs its creation event and a client id: the API makes both.
        return False
