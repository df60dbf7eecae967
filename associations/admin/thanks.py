"""The staff's room for associations' messages to their supporters: accept or refuse, with
the same ``DecisionsMixin`` as the files' and the projects' (``THANK_YOU_DECISIONS``), each
through ``associations.thanks``, with the message's history (« Historique », its
``ThankYouEvent`` rows) on its page and on the decision's. Staff see the text and the count
reached, never the list of recipients (nobody does)."""

from django.contrib import admin
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from associations import forms, thanks
from associations.admin.decisions import Decision, DecisionsMixin, decision_actions
from associations.models import ThankYou, ThankYouEvent
from caisses.admin import CaisseScopedAdmin
from caisses.staff import is_bank_staff

THANK_YOU_DECISIONS = {
    "validation": Decision(
        title=gettext_lazy("Accepter et envoyer le message"),
        form=forms.ValidationForm,
        button=gettext_lazy("Accepter"),
        service=thanks.accept_thank_you,
        arguments=lambda data: {"message": data["message"]},
        action="accept_thank_you_action",
    ),
    "refus": Decision(
        title=gettext_lazy("Refuser le message"),
        form=forms.RejectionForm,
        button=gettext_lazy("Refuser"),
        service=thanks.refuse_thank_you,
        arguments=lambda data: {"reason": data["reason"]},
        action="refuse_thank_you_action",
    ),
}


@admin.register(ThankYou)
class ThankYouAdmin(DecisionsMixin, CaisseScopedAdmin):
    caisse_path = "association__caisse_regionale"
    decisions = THANK_YOU_DECISIONS
    actions = decision_actions(THANK_YOU_DECISIONS)
    decision_subject = "thank_you"
    decision_ordering = ("association__name", "id")
    decision_select_related = ("association", "association__caisse_regionale", "program")
    # Each message's history on its decision page, read with the rows.
    decision_prefetch_related = (
        Prefetch("history", queryset=ThankYouEvent.objects.select_related("actor")),
    )
    decision_template = "admin/associations/thankyou/decision.html"
    decision_done = gettext_lazy("%(title)s : %(n)d message(s) traité(s).")

    list_display = ["association", "program", "kind", "status", "written_at", "reached"]
    list_filter = ["status", "kind"]
    search_fields = ["association__name"]
    list_select_related = ["association", "program"]
    fields = [
        "association",
        "program",
        "kind",
        "text",
        "photo_preview",
        "status",
        "decision_links",
        "decided_by",
        "decided_at",
        "decision_message",
        "reached",
        "thank_you_history",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("Historique"))
    def thank_you_history(self, obj):
        return render_to_string(
            "admin/associations/project/history.html",
            {"events": obj.history.select_related("actor").order_by("created_at", "id")},
        )

    @admin.display(description=gettext_lazy("Photo"))
    def photo_preview(self, obj):
        if not obj.photo:
            return "—"
        url = reverse("associations:thank_you_photo", args=[obj.pk])
        return format_html('<img src="{}" alt="" style="max-width: 320px">', url)

    def has_module_permission(self, request):
        return is_bank_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
