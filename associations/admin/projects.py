"""The staff's room for associations' projects: the list (scoped to their bank), each
project's page with its history, and the decisions, made by the same ``DecisionsMixin`` as
the files' with their own table (``PROJECT_DECISIONS``), each through
``associations.projects``."""

from django.contrib import admin
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from associations import forms, projects
from associations.admin.decisions import Decision, DecisionsMixin, decision_actions
from associations.models import Project
from caisses.admin import CaisseScopedAdmin
from caisses.staff import is_bank_staff

PROJECT_DECISIONS = {
    "validation": Decision(
        title=gettext_lazy("Accepter le projet"),
        form=forms.ValidationForm,
        button=gettext_lazy("Accepter"),
        service=projects.accept_project,
        arguments=lambda data: {"message": data["message"]},
        action="accept_project_action",
    ),
    "correction": Decision(
        title=gettext_lazy("Demander une correction"),
        form=forms.CorrectionForm,
        button=gettext_lazy("Envoyer la demande de correction"),
        service=projects.request_project_correction,
        arguments=lambda data: {"message": data["message"]},
        action="correct_project_action",
    ),
    "refus": Decision(
        title=gettext_lazy("Refuser le projet"),
        form=forms.RejectionForm,
        button=gettext_lazy("Refuser"),
        service=projects.refuse_project,
        arguments=lambda data: {"reason": data["reason"]},
        action="refuse_project_action",
    ),
    "bilan-validation": Decision(
        title=gettext_lazy("Accepter « Ce que nous en avons fait »"),
        form=forms.ValidationForm,
        button=gettext_lazy("Accepter"),
        service=projects.accept_outcome,
        arguments=lambda data: {"message": data["message"]},
        action="accept_outcome_action",
    ),
    "bilan-refus": Decision(
        title=gettext_lazy("Refuser « Ce que nous en avons fait »"),
        form=forms.RejectionForm,
        button=gettext_lazy("Refuser"),
        service=projects.refuse_outcome,
        arguments=lambda data: {"reason": data["reason"]},
        action="refuse_outcome_action",
    ),
}


@admin.register(Project)
class ProjectAdmin(DecisionsMixin, CaisseScopedAdmin):
    caisse_path = "association__caisse_regionale"
    decisions = PROJECT_DECISIONS
    actions = decision_actions(PROJECT_DECISIONS)
    decision_subject = "project"
    decision_ordering = ("association__name", "title", "id")
    decision_select_related = ("association", "association__caisse_regionale")
    decision_template = "admin/associations/project/decision.html"
    decision_done = gettext_lazy("%(title)s : %(n)d projet(s) traité(s).")

    list_display = [
        "title",
        "association",
        "program",
        "goal",
        "ends_on",
        "status",
        "outcome_status",
    ]
    list_filter = ["status", "outcome_status"]
    search_fields = ["title", "association__name"]
    list_select_related = ["association", "program"]
    ordering = ["status", "-created_at"]
    fields = [
        "association_link",
        "program",
        "title",
        "text",
        "photo_preview",
        "goal",
        "ends_on",
        "status",
        "decision_links",
        "outcome_text",
        "outcome_photo_preview",
        "outcome_status",
        "project_history",
    ]
    readonly_fields = fields

    def has_module_permission(self, request):
        return is_bank_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_change_permission(self, request, obj=None):
        # Staff decide (the decisions' pages); they do not rewrite the association's text.
        return is_bank_staff(request.user)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("Association"))
    def association_link(self, obj):
        url = reverse("admin:associations_association_change", args=[obj.association_id])
        return format_html('<a href="{}">{}</a>', url, obj.association)

    @admin.display(description=gettext_lazy("Photo"))
    def photo_preview(self, obj):
        return self._photo(obj.photo, "associations:project_photo", obj)

    @admin.display(description=gettext_lazy("Photo de ce que nous en avons fait"))
    def outcome_photo_preview(self, obj):
        return self._photo(obj.outcome_photo, "associations:project_outcome_photo", obj)

    def _photo(self, field, url_name, obj):
        if not field:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="max-width: 320px">', reverse(url_name, args=[obj.pk])
        )

    @admin.display(description=gettext_lazy("Historique"))
    def project_history(self, obj):
        return render_to_string(
            "admin/associations/project/history.html",
            {"events": obj.history.select_related("actor").order_by("created_at", "id")},
        )
