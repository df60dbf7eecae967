"""The association's space: where its file stands and what it received."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from associations.models import Association, StatusChange
from associations.services import EDITABLE_STATUSES
from cagnotte.selectors import association_figures

STAFF_DECISIONS = [
    StatusChange.Event.CORRECTION_REQUESTED,
    StatusChange.Event.VALIDATED,
    StatusChange.Event.REJECTED,
]

Status = Association.Status


def status_in_words(association: Association, *, open_programs: list, last_message: str) -> str:
    if association.status == Status.DRAFT:
        return _("Inscription à compléter")
    if association.status == Status.SUBMITTED:
        return _("En cours de vérification")
    if association.status == Status.CORRECTION_REQUESTED:
        return _("Correction demandée : %(message)s") % {"message": last_message}
    if association.status == Status.REJECTED:
        return _("Refusée : %(reason)s") % {"reason": last_message}
    if open_programs:
        return _("Visible")
    return _("Validée, visible à partir de son enrôlement")


@login_required
def space(request):
    user = request.user
    if user.kind != user.Kind.ASSOCIATION:
        # Members and staff have no association space; the association's page is its own.
        return render(request, "associations/space_forbidden.html", status=403)
    association = (
        Association.objects.select_related(
            "caisse_regionale", "caisse_locale", "activity", "domain"
        )
        .filter(user=user)
        .first()
    )
    if association is None:
        messages.info(request, _("Votre association n’est pas encore inscrite : commencez ici."))
        return redirect("associations:register")
    today = timezone.localdate()
    enrollments = list(
        association.enrollments.select_related("program").order_by(
            "-program__year", "program__name"
        )
    )
    open_programs = [
        e.program
        for e in enrollments
        if e.program.caisse_regionale_id == association.caisse_regionale_id
        and e.program.is_open(today)
    ]
    last_decision = (
        # The staff's last word on the file itself (an enrolment's note is not one).
        association.history.filter(event__in=STAFF_DECISIONS)
        .exclude(message="")
        .exclude(actor=user)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    last_message = last_decision.message if last_decision else ""
    figures = association_figures(association_ids=[association.pk], year=today.year)[association.pk]
    return render(
        request,
        "associations/space.html",
        {
            "association": association,
            "status_text": status_in_words(
                association, open_programs=open_programs, last_message=last_message
            ),
            "last_decision": last_decision,
            "can_edit": association.status in EDITABLE_STATUSES,
            "enrollments": enrollments,
            "open_programs": open_programs,
            "figures": figures,
            "year": today.year,
        },
    )
