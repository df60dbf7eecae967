from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import BankCustomer, User
from caisses.admin import CaisseScopedAdmin


@admin.register(User)
class UserAdmin(CaisseScopedAdmin, DjangoUserAdmin):
    """Users of the staff's regional bank (all of them for national staff and superusers)."""

    list_display = [
        "username",
        "display_name",
        "kind",
        "caisse_regionale",
        "account_number",
        "is_societaire",
        "is_active",
    ]
    list_filter = ["kind", "caisse_regionale", "is_societaire", "is_staff", "is_active"]
    search_fields = ["username", "display_name", "account_number", "email"]
    ordering = ["username"]
    list_select_related = ["caisse_regionale"]
    raw_id_fields = ["caisse_locale"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Identité"),
            {
                "fields": (
                    "kind",
                    "display_name",
                    "first_name",
                    "last_name",
                    "email",
                    "caisse_regionale",
                    "caisse_locale",
                    "account_number",
                    "is_societaire",
                    "recap_emails",
                    "closed_at",
                )
            },
        ),
        (
            _("Droits"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (_("Personnel"), {"fields": ("kind", "caisse_regionale", "is_staff")}),
    )

    def get_readonly_fields(self, request, obj=None):
        readonly = ["last_login", "date_joined", "closed_at"]
        if obj is not None and obj.kind in (User.Kind.MEMBER, User.Kind.ASSOCIATION):
            # A customer's identity is the bank's: the username is « <bank code>:<account> »
            # (accounts.backends.username_for), which Django's username validator refuses for
            # its colon. Shown, never edited here, so saving their settings keeps both the
            # identity and the validator that staff usernames still go through.
            readonly += ["username", "caisse_regionale", "account_number"]
        if not request.user.is_superuser:
            # Staff manage customers' settings, never rights: no one grants themselves more.
            readonly += [
                "kind",
                "caisse_regionale",
                "is_staff",
                "is_superuser",
                "groups",
                "user_permissions",
            ]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Staff accounts are managed by superusers only (else staff could reset each other's
        # passwords and act under another name).
        if obj is not None and (obj.is_staff or obj.is_superuser) and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Members leave through account closure (their ledger stays); no hard delete here.
        return request.user.is_superuser and super().has_delete_permission(request, obj)


@admin.register(BankCustomer)
class BankCustomerAdmin(CaisseScopedAdmin):
    """The bank's customer directory behind the default identity provider (scoped to the CR)."""

    list_display = [
        "name",
        "account_number",
        "kind",
        "caisse_regionale",
        "is_societaire",
        "is_online_banking",
    ]
    list_filter = ["kind", "caisse_regionale", "is_societaire", "is_online_banking"]
    search_fields = ["name", "account_number", "email"]
    list_select_related = ["caisse_regionale"]
    raw_id_fields = ["caisse_locale", "managers"]
    # The hashed code is the bank feed's business; it is neither shown nor edited here.
    exclude = ["personal_code"]
    ordering = ["name"]
