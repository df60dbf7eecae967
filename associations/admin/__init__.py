"""Django admin for the regional banks' Tookets service: check, decide, enrol, follow.

Every decision goes through ``associations.services``; the admin only collects the input.
``DECISIONS`` is the one table of them (title, form, button, service): the list's actions,
the change page's buttons and the decision page are all made from it, and each decision
records its own event in the file's history, shown on the change page (``file_history``).
The dashboard's figures come from ``associations.selectors.staff_dashboard``. Scoping: ``CaisseScopedAdmin`` confines each staff member to their regional bank's rows, and
every custom view below fetches associations through ``get_queryset`` too, so an id of another
bank's association — typed in a URL or posted by hand — is « not found ».
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms as django_forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from associations import forms, selectors, services, staff_state
from associations.charts import dashboard_charts
from associations.models import Association, StatusChange
from cagnotte.campaigns import Enrollment
from caisses.admin import CaisseScopedAdmin
from caisses.models import CaisseRegionale
from caisses.staff import ALL_BANKS, is_bank_staff, staff_caisse
from tookets.fragments import CSRF_PLACEHOLDER, FRAGMENT_TIMEOUT, fragment_key, render_fragment
from tookets.http import int_or_none

Status = Association.Status
LIST_PAGE = "admin/associations/association/change_list.html"
LIST_CONTENT = "admin/associations/association/_change_list_content.html"
DASHBOARD_CONTENT = "admin/associations/association/_dashboard_content.html"


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


@dataclass(frozen=True)
class Decision:
    """One staff decision: its page (title, form, button) and the service that takes it."""

    title: str
    form: type[django_forms.Form]
    button: str
    # Called once per selected association: service(association=…, staff=…, **arguments).
    service: Callable[..., object]
    # The service's other keyword arguments, from the form's cleaned data.
    arguments: Callable[[dict], dict]
    action: str  # the name of the list's action leading to the page
    # The form's extra keyword arguments, from the selected associations.
    form_kwargs: Callable[[list[Association]], dict] = field(default=lambda associations: {})


DECISIONS = {
    "validation": Decision(
        title=gettext_lazy("Valider"),
        form=forms.ValidationForm,
        button=gettext_lazy("Valider"),
        service=services.validate_association,
        arguments=lambda data: {"message": data["message"]},
        action="validate_action",
    ),
    "correction": Decision(
        title=gettext_lazy("Demander une correction"),
        form=forms.CorrectionForm,
        button=gettext_lazy("Envoyer la demande de correction"),
        service=services.request_correction,
        arguments=lambda data: {"message": data["message"]},
        action="correction_action",
    ),
    "refus": Decision(
        title=gettext_lazy("Refuser"),
        form=forms.RejectionForm,
        button=gettext_lazy("Refuser"),
        service=services.reject_association,
        arguments=lambda data: {"reason": data["reason"]},
        action="reject_action",
    ),
    "enrolement": Decision(
        title=gettext_lazy("Enrôler dans un programme"),
        form=forms.EnrollmentForm,
        button=gettext_lazy("Enrôler"),
        service=services.enroll_in_bank_programs,
        arguments=lambda data: {"programs": data["programs"]},
        action="enrol_action",
        form_kwargs=lambda associations: {
            "caisse_regionale_ids": {a.caisse_regionale_id for a in associations}
        },
    ),
    "retrait": Decision(
        title=gettext_lazy("Retirer d’un programme"),
        form=forms.UnenrollmentForm,
        button=gettext_lazy("Retirer"),
        service=services.unenroll_association,
        arguments=lambda data: {"programs": data["programs"], "reason": data["reason"]},
        action="unenrol_action",
        form_kwargs=lambda associations: {"association_ids": [a.pk for a in associations]},
    ),
}


def _decision_action(kind: str, decision: Decision):
    """The list's action for one decision: it leads to the decision's page."""

    def action(modeladmin, request, queryset):
        return modeladmin.to_decision(kind, queryset)

    action.__name__ = decision.action
    return admin.action(description=decision.title)(action)


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
        (gettext_lazy("Historique du dossier"), {"fields": ["file_history"]}),
    ]
    inlines = [EnrollmentInline]
    actions = [_decision_action(kind, decision) for kind, decision in DECISIONS.items()]

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

    # --- The list: its content a fragment per state ----------------------------------------

    def changelist_view(self, request, extra_context=None):
        """The list, its content (search, actions, rows, pagination, filters) rendered once
        per state of the staff member's bank and query string, and kept in the cache.

        The state (``staff_state.staff_list_state``) is read before the changelist reads
        its rows, so what a fragment shows is at least as new as its key. Rendered from the
        changelist's context only, never the request: for staff of one bank it is the same
        for all of them (their rights are their role's; ``is_superuser`` is in the key all the
        same). National staff, popups and posts (actions) take Django's path every time.
        """
        caisse_id = self._cached_list_bank(request)
        if caisse_id is None:
            return self._uncached_changelist(request, extra_context)
        state = staff_state.staff_list_state(caisse_id)
        key = fragment_key(
            LIST_CONTENT,
            (caisse_id, state, request.user.is_superuser, sorted(request.GET.lists())),
        )
        cached = cache.get(key)
        if cached is None:
            response = super().changelist_view(request, extra_context)
            if not isinstance(response, TemplateResponse) or response.status_code != 200:
                return response  # a redirect for a filter that is no filter: nothing to keep
            context = response.context_data
            cached = {
                "content": render_to_string(
                    LIST_CONTENT, {**context, "csrf_token": CSRF_PLACEHOLDER}
                ),
                "title": context["title"],
                "subtitle": context["subtitle"],
                "media": {
                    "css": str(context["media"]["css"]),
                    "js": str(context["media"]["js"]),
                },
                "action_form": bool(context["action_form"]),
                "actions_on_top": context["actions_on_top"],
                "actions_on_bottom": context["actions_on_bottom"],
            }
            cache.set(key, cached, FRAGMENT_TIMEOUT)
        else:
            response = TemplateResponse(
                request,
                LIST_PAGE,
                {**self.admin_site.each_context(request), "opts": self.opts},
            )
            request.current_app = self.admin_site.name
        response.context_data.update(
            title=cached["title"],
            subtitle=cached["subtitle"],
            media={name: mark_safe(html) for name, html in cached["media"].items()},
            action_form=cached["action_form"],
            actions_on_top=cached["actions_on_top"],
            actions_on_bottom=cached["actions_on_bottom"],
            list_content=mark_safe(cached["content"].replace(CSRF_PLACEHOLDER, get_token(request))),
        )
        return response

    def _uncached_changelist(self, request, extra_context):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            response.context_data["list_content"] = mark_safe(
                render_to_string(LIST_CONTENT, response.context_data, request=request)
            )
        return response

    def _cached_list_bank(self, request) -> int | None:
        """The bank whose list this request may take from the cache; None: render it."""
        if request.method != "GET" or IS_POPUP_VAR in request.GET or TO_FIELD_VAR in request.GET:
            return None
        if not self.has_view_or_change_permission(request):
            return None  # Django's path refuses it
        caisse_id = staff_caisse(request.user)
        return None if caisse_id is ALL_BANKS else caisse_id

    @admin.display(description=gettext_lazy("Décisions"))
    def decision_links(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = []
        for kind, decision in DECISIONS.items():
            url = reverse("admin:associations_association_decide", args=[kind])
            links.append(
                format_html(
                    '<a class="button" href="{}?ids={}">{}</a>', url, obj.pk, decision.title
                )
            )
        return format_html(" ".join(["{}"] * len(links)), *links)

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

    # --- Actions: each leads to its decision's page for the selected associations ---------

    def to_decision(self, kind, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return redirect(
            f"{reverse('admin:associations_association_decide', args=[kind])}?ids={ids}"
        )

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
        ids = {int_or_none(x.strip()) for x in raw_ids.split(",") if x.strip()}
        if not ids or None in ids:
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
        decision = DECISIONS.get(kind)
        if decision is None:
            raise Http404
        if not self.has_change_permission(request):
            raise PermissionDenied
        raw_ids = (
            request.POST.get("ids", "") if request.method == "POST" else request.GET.get("ids", "")
        )
        associations = self._selected(request, raw_ids)
        form = decision.form(
            request.POST if request.method == "POST" else None,
            **decision.form_kwargs(associations),
        )
        if request.method == "POST" and form.is_valid():
            arguments = decision.arguments(form.cleaned_data)
            done = 0
            for association in associations:
                try:
                    decision.service(association=association, staff=request.user, **arguments)
                except services.WorkflowError as exc:
                    self.message_user(request, f"{association.name} : {exc}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(
                    request,
                    _("%(title)s : %(n)d association(s) traitée(s).")
                    % {"title": decision.title, "n": done},
                    messages.SUCCESS,
                )
            if len(associations) == 1:
                return redirect("admin:associations_association_change", associations[0].pk)
            return redirect("admin:associations_association_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": decision.title,
            "kind": kind,
            "button": decision.button,
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

    def dashboard_view(self, request):
        """Figures and charts of the staff member's bank (national staff: of every bank, or
        of the one they pick). For staff of one bank the content is a fragment named by the
        bank's state (``staff_state.staff_dashboard_state``: its associations, what they
        received, the month) and by how many days the oldest submitted file has waited."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        caisse_id = staff_caisse(request.user)
        if caisse_id is ALL_BANKS:
            caisse_id = int_or_none(request.GET.get("caisse"))
            content = render_to_string(
                DASHBOARD_CONTENT,
                self._dashboard_context(request, caisse_id, national=True),
                request=request,
            )
        else:
            state = staff_state.staff_dashboard_state(caisse_id, today=timezone.localdate())
            oldest = state.oldest_submitted_at
            waiting_days = (timezone.now() - oldest).days if oldest else None
            content = render_fragment(
                request,
                DASHBOARD_CONTENT,
                state=(caisse_id, state, waiting_days),
                context=lambda: {
                    **self._dashboard_context(request, caisse_id, national=False),
                    "oldest_submitted_at": oldest,
                    "waiting": oldest is not None,
                    "waiting_days": waiting_days,
                },
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Tableau de bord Tookets"),
            "dashboard_content": content,
        }
        return TemplateResponse(request, "admin/associations/association/dashboard.html", context)

    def _dashboard_context(self, request, caisse_id: int | None, *, national: bool) -> dict:
        caisse = CaisseRegionale.objects.filter(pk=caisse_id).first() if caisse_id else None
        associations = self.get_queryset(request)
        if caisse is not None:
            associations = associations.filter(caisse_regionale=caisse)
        figures = selectors.staff_dashboard(associations)
        oldest = figures.oldest_submitted_at
        waiting = (timezone.now() - oldest) if oldest else None
        return {
            "caisse": caisse,
            "caisses": list(CaisseRegionale.objects.order_by("name")) if national else [],
            "by_status": figures.by_status,
            "total": figures.total,
            "oldest_submitted_at": oldest,
            "waiting": waiting is not None,
            "waiting_days": waiting.days if waiting else None,
            "given_this_year": figures.given_this_year,
            "year": figures.year,
            "changelist_url": reverse("admin:associations_association_changelist"),
            "charts": dashboard_charts(associations=associations, by_status=figures.by_status),
        }


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
