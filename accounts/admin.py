"""Admin for users: passwords are shown hashed, never in clear."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from rest_framework.authtoken.models import TokenProxy

from accounts.models import User


class UserCreationForm(AdminUserCreationForm):
    """Create a user from an e-mail and a password."""

    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    """Edit a user; the password field links to the change-password form."""

    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users by e-mail."""

    add_form = UserCreationForm
    form = UserEditForm
    list_display = [
        "email",
        "name",
        "client_id",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_staff", "is_active"]
    search_fields = ["email", "name", "client_id"]
    ordering = ["email"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "client_id")}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),
    )


# API tokens are credentials: the stock token admin shows their keys, so it goes.
admin.site.unregister(TokenProxy)
