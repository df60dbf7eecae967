"""Django admin for the regional banks' Tookets service: check, decide, enrol, follow.

Every decision goes through ``associations.services``; the admin only collects the input.
Scoping: ``CaisseScopedAdmin`` confines each staff member to their regional bank's rows, and
every custom view below fetches associations through ``get_queryset`` too, so an id of another
bank's association — typed in a URL or posted by hand — is « not found ».
"""

from django import forms as django_forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Min, Sum
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from associations import forms, services
from associations.charts import dashboard_charts
from associations.models import Association, Enrollment, StatusChange
from cagnotte.models import AssociationYearTotals
from caisses.admin import CaisseScopedAdmin, staff_caisse
from caisses.models import CaisseRegionale

Status = Association.Status


def is_bank_staff(user) -> bool:
    """Bank staff manage associations by role: no per-model permission needs granting."""
    return bool(
        user.is_active and user.is_staff and (user.is_superuser or user.kind == User.Kind.STAFF)
    )


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


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    fields = ["created_at", "actor", "from_status", "to_status", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    verbose_name = gettext_lazy("décision")
    verbose_name_plural = gettext_lazy("Historique des décisions")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    fields = ["program", "enrolled_by", "enrolled_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

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
        if local and local.caisse_regionale_id != self.instance.caisse_regionale_id:
            raise django_forms.ValidationError(
                _("Choisissez une caisse locale de la Caisse régionale de l’association.")
            )
        return local


DECISIONS = {
    # kind: (title, form class, button label)
    "validation": (gettext_lazy("Valider"), forms.ValidationForm, gettext_lazy("Valider")),
    "correction": (
        gettext_lazy("Demander une correction"),
        forms.CorrectionForm,
        gettext_lazy("Envoyer la demande de correction"),
    ),
    "refus": (gettext_lazy("Refuser"), forms.RejectionForm, gettext_lazy("Refuser")),
    "enrolement": (
        gettext_lazy("Enrôler dans un programme"),
        forms.EnrollmentForm,
        gettext_lazy("Enrôler"),
    ),
}


@admin.register(Association)
class AssociationAdmin(CaisseScopedAdmin):
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
            {
                "fields": [
                    "name",
                    "rna_number",
                    "jo_publication_date",
                    "president_name",
                    "president_email",
                    "email",
                    "phone",
                    "website",
                ]
            },
        ),
        (
            gettext_lazy("Présentation"),
            {"fields": ["presentation", "activity", "domain", "logo"]},
        ),
        (
            gettext_lazy("Adresse"),
            {"fields": ["address", "postal_code", "city", "latitude", "longitude"]},
        ),
    ]
    inlines = [StatusChangeInline, EnrollmentInline]
    actions = ["validate_action", "correction_action", "reject_action", "enrol_action"]

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
        if staff_caisse(request) is None:
            filters.insert(0, "caisse_regionale")
        return filters

    @admin.display(description=gettext_lazy("Décisions"))
    def decision_links(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = []
        for kind, (title, _form, _button) in DECISIONS.items():
            url = reverse("admin:associations_association_decide", args=[kind])
            links.append(
                format_html('<a class="button" href="{}?ids={}">{}</a>', url, obj.pk, title)
            )
        return format_html(" ".join(["{}"] * len(links)), *links)

    # --- Actions: each leads to its form page for the selected associations ----------------

    def _to_decision(self, kind, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return redirect(
            f"{reverse('admin:associations_association_decide', args=[kind])}?ids={ids}"
        )

    @admin.action(description=gettext_lazy("Valider"))
    def validate_action(self, request, queryset):
        return self._to_decision("validation", queryset)

    @admin.action(description=gettext_lazy("Demander une correction"))
    def correction_action(self, request, queryset):
        return self._to_decision("correction", queryset)

    @admin.action(description=gettext_lazy("Refuser"))
    def reject_action(self, request, queryset):
        return self._to_decision("refus", queryset)

    @admin.action(description=gettext_lazy("Enrôler dans un programme"))
    def enrol_action(self, request, queryset):
        return self._to_decision("enrolement", queryset)

    # --- Custom views ----------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "tableau-de-bord/",
                wrap(self.dashboard_view),
                name="associations_association_dashboard",
            ),
            path(
                "decision/<str:kind>/",
                wrap(self.decision_view),
                name="associations_association_decide",
            ),
            *super().get_urls(),
        ]

    def _selected(self, request, raw_ids: str) -> list[Association]:
        try:
            ids = {int(x) for x in raw_ids.split(",") if x.strip()}
        except ValueError:
            raise Http404 from None
        if not ids:
            raise Http404
        found = list(
            self.get_queryset(request)
            .filter(pk__in=ids)
            .select_related("caisse_regionale")
            .order_by("name")
        )
        # Any id outside the staff member's scope makes the whole request « not found ».
        if len(found) != len(ids):
            raise Http404
        return found

    def decision_view(self, request, kind):
        if kind not in DECISIONS:
            raise Http404
        if not self.has_change_permission(request):
            raise PermissionDenied
        title, form_class, button = DECISIONS[kind]
        raw_ids = (
            request.POST.get("ids", "") if request.method == "POST" else request.GET.get("ids", "")
        )
        associations = self._selected(request, raw_ids)
        kwargs = {}
        if form_class is forms.EnrollmentForm:
            kwargs["caisse_regionale_ids"] = {a.caisse_regionale_id for a in associations}
        form = form_class(request.POST if request.method == "POST" else None, **kwargs)
        if request.method == "POST" and form.is_valid():
            done = 0
            for association in associations:
                try:
                    self._decide(kind, association, request.user, form.cleaned_data)
                except services.WorkflowError as exc:
                    self.message_user(request, f"{association.name} : {exc}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(
                    request,
                    _("%(title)s : %(n)d association(s) traitée(s).") % {"title": title, "n": done},
                    messages.SUCCESS,
                )
            if len(associations) == 1:
                return redirect("admin:associations_association_change", associations[0].pk)
            return redirect("admin:associations_association_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "kind": kind,
            "button": button,
            "form": form,
            "associations": associations,
            "ids": ",".join(str(a.pk) for a in associations),
        }
        return TemplateResponse(
            request,
            "admin/associations/association/decision.html",
            context,
            status=400 if form.errors else 200,
        )

    def _decide(self, kind, association, staff, data):
        if kind == "validation":
            services.validate_association(
                association=association, staff=staff, message=data["message"]
            )
        elif kind == "correction":
            services.request_correction(
                association=association, staff=staff, message=data["message"]
            )
        elif kind == "refus":
            services.reject_association(association=association, staff=staff, reason=data["reason"])
        elif kind == "enrolement":
            programs = [
                p
                for p in data["programs"]
                if p.caisse_regionale_id == association.caisse_regionale_id
            ]
            if not programs:
                raise services.NotEligible(
                    _("aucun des programmes choisis n’est de sa Caisse régionale.")
                )
            created = services.enroll_association(
                association=association, programs=programs, staff=staff
            )
            if not created:
                raise services.WorkflowError(_("déjà enrôlée dans ce(s) programme(s)."))

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        caisse_id = staff_caisse(request)
        caisses = []
        if caisse_id is None:
            caisses = list(CaisseRegionale.objects.order_by("name"))
            chosen = request.GET.get("caisse", "")
            caisse_id = int(chosen) if chosen.isdigit() else None
        caisse = CaisseRegionale.objects.filter(pk=caisse_id).first() if caisse_id else None
        associations = self.get_queryset(request)
        if caisse is not None:
            associations = associations.filter(caisse_regionale=caisse)
        counts = dict(
            associations.order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        by_status = [(value, label, counts.get(value, 0)) for value, label in Status.choices]
        oldest = associations.filter(status=Status.SUBMITTED).aggregate(oldest=Min("submitted_at"))[
            "oldest"
        ]
        now = timezone.now()
        year = timezone.localdate().year
        given = (
            AssociationYearTotals.objects.filter(
                association__in=associations.values("pk"), year=year
            ).aggregate(total=Sum("received"))["total"]
            or 0
        )
        changelist = reverse("admin:associations_association_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Tableau de bord Tookets"),
            "caisse": caisse,
            "caisses": caisses,
            "by_status": by_status,
            "total": sum(counts.values()),
            "oldest_submitted_at": oldest,
            "waiting": (now - oldest) if oldest else None,
            "waiting_days": (now - oldest).days if oldest else None,
            "given_this_year": given,
            "year": year,
            "changelist_url": changelist,
            "charts": dashboard_charts(associations=associations, by_status=by_status),
        }
        return TemplateResponse(request, "admin/associations/association/dashboard.html", context)


@admin.register(StatusChange)
class StatusChangeAdmin(BankStaffReadOnlyAdmin):
    caisse_path = "association__caisse_regionale"
    list_display = ["created_at", "association", "from_status", "to_status", "actor", "message"]
    list_filter = ["to_status"]
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
