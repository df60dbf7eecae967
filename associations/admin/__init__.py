"""Django admin for the regional banks' Tookets service: check, decide, enrol, follow.

``AssociationAdmin`` (here: the file's fields and who may do what) is made of one mixin per
room, each in its own module:

* ``changelist`` — the list of associations, its content a cached fragment per state;
* ``decisions`` — ``DECISIONS``, the one table of the staff's decisions (title, form,
  button, service), from which the list's actions, the change page's buttons and the
  decision page are made; each goes through ``associations.services`` and records its own
  event in the file's history, shown on the change page (``file_history``);
* ``dashboard`` — the figures (``associations.selectors.staff_dashboard``) and charts.

Scoping: ``CaisseScopedAdmin`` confines each staff member to their regional bank's rows, and
every custom view fetches associations through ``get_queryset`` too, so an id of another
bank's association — typed in a URL or posted by hand — is « not found ».
"""

from django import forms as django_forms
from django.contrib import admin
from django.db import models
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from associations import selectors, services
from associations.admin.changelist import CachedChangeListMixin
from associations.admin.dashboard import DashboardMixin
from associations.admin.decisions import DecisionsMixin
from associations.admin.projects import ProjectAdmin  # noqa: F401 (registers it)
from associations.admin.thanks import ThankYouAdmin  # noqa: F401 (registers it)
from associations.models import ADDRESS_FIELDS, IDENTITY_FIELDS, Association, StatusChange
from cagnotte.campaigns import Enrollment
from caisses.admin import CaisseScopedAdmin
from caisses.staff import ALL_BANKS, is_bank_staff, staff_caisse


class BankStaffReadOnlyAdmin(CaisseScopedAdmin):
    """Scoped and read-only: history and enrolments are written only by the services."""

    def has_module_permission(self, request):
        return is_bank_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    fields = ["program", "enrolled_by", "enrolled_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Enrôlements en cours")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program", "enrolled_by")


class AssociationAdminForm(django_forms.ModelForm):
    class Meta:
        model = Association
        fields = ["caisse_locale"]  # the admin adds the fields of its fieldsets

    def clean_caisse_locale(self):
        local = self.cleaned_data.get("caisse_locale")
        if local and not services.caisse_locale_fits(
            association=self.instance, caisse_locale=local
        ):
            raise django_forms.ValidationError(
                _("Choisissez une caisse locale de la Caisse régionale de l’association.")
            )
        return local


@admin.register(Association)
class AssociationAdmin(DashboardMixin, DecisionsMixin, CachedChangeListMixin, CaisseScopedAdmin):
    """An association's file for its bank's staff: the list (``changelist``), the decisions
    (``decisions``) and the dashboard (``dashboard``) are each a mixin of their own module;
    here are the file's fields and who may do what."""

    form = AssociationAdminForm
    list_display = [
        "name",
        "rna_number",
        "status",
        "caisse_locale",
        "activity",
        "submitted_at",
        "caisse_regionale",
    ]
    list_filter = [
        "status",
        ("caisse_locale", admin.RelatedOnlyFieldListFilter),
        "activity",
        "domain",
    ]
    search_fields = ["name", "search_name", "rna_number"]
    list_select_related = ["caisse_locale", "activity", "caisse_regionale"]
    # A website typed without a scheme is an https one (Django 6.0's default; 5.2 warns).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ["status", "submitted_at", "name"]
    readonly_fields = [
        "caisse_regionale",
        "account_number",
        "user",
        "status",
        "created_at",
        "updated_at",
        "submitted_at",
        "validated_at",
        "decision_links",
        "file_history",
    ]
    fieldsets = [
        (
            gettext_lazy("Dossier"),
            {
                "fields": [
                    "status",
                    "decision_links",
                    "caisse_regionale",
                    "caisse_locale",
                    "account_number",
                    "user",
                    "submitted_at",
                    "validated_at",
                ]
            },
        ),
        (
            gettext_lazy("Identité"),
            {"fields": [*IDENTITY_FIELDS, "website"]},
        ),
        (
            gettext_lazy("Présentation"),
            {"fields": ["presentation", "activity", "domain", "logo"]},
        ),
        (
            gettext_lazy("Adresse"),
            {"fields": list(ADDRESS_FIELDS)},
        ),
        (gettext_lazy("Historique du dossier"), {"fields": ["file_history"]}),
    ]
    inlines = [EnrollmentInline]

    # --- Permissions: staff by role, scoped by CaisseScopedAdmin ---------------------------

    def has_module_permission(self, request):
        return is_bank_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_add_permission(self, request):
        return False  # associations register themselves through the wizard

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if staff_caisse(request.user) is ALL_BANKS:
            filters.insert(0, "caisse_regionale")
        return filters

    @admin.display(description=gettext_lazy("Historique"))
    def file_history(self, obj):
        """The file's story in one table: every event with who, when and why. The change
        page is reached through the scoped queryset only, so this is too."""
        if obj is None or obj.pk is None:
            return "—"
        return render_to_string(
            "admin/associations/association/history.html",
            {"events": selectors.association_history(obj.pk)},
        )


@admin.register(StatusChange)
class StatusChangeAdmin(BankStaffReadOnlyAdmin):
    caisse_path = "association__caisse_regionale"
    list_display = [
        "created_at",
        "association",
        "event",
        "from_status",
        "to_status",
        "actor",
        "message",
    ]
    list_filter = ["event", "to_status"]
    search_fields = ["association__name", "association__rna_number", "message"]
    list_select_related = ["association", "actor"]
    date_hierarchy = "created_at"


@admin.register(Enrollment)
class EnrollmentAdmin(BankStaffReadOnlyAdmin):
    caisse_path = "association__caisse_regionale"
    list_display = ["association", "program", "enrolled_by", "enrolled_at"]
    list_filter = [("program", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["association__name", "association__rna_number"]
    list_select_related = ["association", "program", "enrolled_by"]
