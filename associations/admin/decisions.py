"""The staff's decisions on associations' files: one table (``DECISIONS``: title, form,
button, service), from which the list's actions, the change page's buttons and the decision
page are all made. Each decision goes through ``associations.services`` and records its own
event in the file's history; the admin only collects the input.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms as django_forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from associations import forms, services
from associations.models import Association
from tookets.http import int_or_none


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


def decision_actions(decisions: dict) -> list:
    return [_decision_action(kind, decision) for kind, decision in decisions.items()]


class DecisionsMixin:
    """For ``AssociationAdmin`` (and ``ProjectAdmin``, ``ThankYouAdmin``, each with its own
    table): the decisions' actions, buttons and page. Rows are fetched through ``get_queryset``, so an id of another
    bank's row is « not found »."""

    decisions = DECISIONS
    actions = decision_actions(DECISIONS)
    # The service's keyword for the row decided on, how the page lists the rows, its template.
    decision_subject = "association"
    decision_ordering = ("name",)
    decision_select_related = ("caisse_regionale",)
    decision_prefetch_related: tuple = ()
    decision_template = "admin/associations/association/decision.html"
    decision_done = gettext_lazy("%(title)s : %(n)d association(s) traitée(s).")

    def _decide_url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_decide"

    @admin.display(description=gettext_lazy("Décisions"))
    def decision_links(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = []
        for kind, decision in self.decisions.items():
            url = reverse(f"admin:{self._decide_url_name()}", args=[kind])
            links.append(
                format_html(
                    '<a class="button" href="{}?ids={}">{}</a>', url, obj.pk, decision.title
                )
            )
        return format_html(" ".join(["{}"] * len(links)), *links)

    # --- Actions: each leads to its decision's page for the selected associations ---------

    def to_decision(self, kind, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return redirect(f"{reverse(f'admin:{self._decide_url_name()}', args=[kind])}?ids={ids}")

    def get_urls(self):
        return [
            path(
                "decision/<str:kind>/",
                self.admin_site.admin_view(self.decision_view),
                name=self._decide_url_name(),
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
            .select_related(*self.decision_select_related)
            .prefetch_related(*self.decision_prefetch_related)
            .order_by(*self.decision_ordering)
        )
        # Any id outside the staff member's scope makes the whole request « not found ».
        if len(found) != len(ids):
            raise Http404
        return found

    def decision_view(self, request, kind):
        decision = self.decisions.get(kind)
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
            self._take(request, decision, associations, form.cleaned_data)
            opts = self.model._meta
            if len(associations) == 1:
                return redirect(
                    f"admin:{opts.app_label}_{opts.model_name}_change", associations[0].pk
                )
            return redirect(f"admin:{opts.app_label}_{opts.model_name}_changelist")
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
            self.decision_template,
            context,
            status=400 if form.errors else 200,
        )

    def _take(self, request, decision: Decision, associations, data: dict) -> None:
        """The decision taken for each association, one by one: one the service refuses
        is told by name and does not stop the others."""
        arguments = decision.arguments(data)
        done = 0
        for association in associations:
            try:
                decision.service(
                    **{self.decision_subject: association}, staff=request.user, **arguments
                )
            except services.WorkflowError as exc:
                self.message_user(request, f"{association} : {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                self.decision_done % {"title": decision.title, "n": done},
                messages.SUCCESS,
            )
