"""The emails of a project's workflow, to the association (French, HTML and text).

One template pair for every event (the sentence differs, nothing else), sent once per event
through ``tookets.send_once`` (its docstring says what a crash does), to the address the file's
decisions use (``associations.emails.recipients``).
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from associations.emails import recipients
from associations.models import ProjectEvent
from tookets import send_once
from tookets.models import EmailClaim

logger = logging.getLogger(__name__)

Event = ProjectEvent.Event

SUBJECTS = {
    Event.SUBMITTED: "Tookets — nous avons bien reçu votre projet « {title} »",
    Event.RESUBMITTED: "Tookets — nous avons bien reçu les corrections de « {title} »",
    Event.CORRECTION_REQUESTED: "Tookets — une correction est demandée pour « {title} »",
    Event.ACCEPTED: "Tookets — votre projet « {title} » est en ligne",
    Event.REFUSED: "Tookets — votre projet « {title} » n’a pas été retenu",
    Event.OUTCOME_ACCEPTED: "Tookets — « Ce que nous en avons fait » est en ligne",
    Event.OUTCOME_REFUSED: "Tookets — « Ce que nous en avons fait » n’a pas été retenu",
}


def send_project_email(*, project_event_id: int) -> bool:
    change = (
        ProjectEvent.objects.select_related(
            "project",
            "project__association",
            "project__association__caisse_regionale",
            "project__association__caisse_locale",
            "project__association__user",
        )
        .filter(pk=project_event_id)
        .first()
    )
    if change is None or change.event not in SUBJECTS:
        return False
    association = change.project.association
    to = recipients(association)
    if not to:
        logger.warning(
            "association %s has no e-mail address: project email not sent", association.pk
        )
        return False
    key = f"associations.project-email:{change.pk}"
    delivery = send_once.deliver(
        EmailClaim, fixed={}, field="key", messages={key: lambda: build_message(change, to)}
    )
    return delivery.sent == 1


def build_message(change: ProjectEvent, to: list[str]) -> EmailMultiAlternatives:
    project = change.project
    association = project.association
    site = settings.SITE_URL.rstrip("/")
    context = {
        "association": association,
        "project": project,
        "change": change,
        "sentence": _sentence(change),
        "caisse_regionale": association.caisse_regionale,
        "space_url": site + reverse("associations:projects"),
    }
    message = EmailMultiAlternatives(
        subject=SUBJECTS[change.event].format(title=project.title),
        body=render_to_string("emails/project_event.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(render_to_string("emails/project_event.html", context), "text/html")
    return message


def _sentence(change: ProjectEvent) -> str:
    title = change.project.title
    return {
        Event.SUBMITTED: _(
            "Nous avons bien reçu votre projet « %s ». La Caisse régionale va le vérifier."
        ),
        Event.RESUBMITTED: _("Nous avons bien reçu les corrections de votre projet « %s »."),
        Event.CORRECTION_REQUESTED: _(
            "La Caisse régionale demande une correction de votre projet « %s » :"
        ),
        Event.ACCEPTED: _(
            "Votre projet « %s » est accepté : les sociétaires le voient sur la page de votre association."
        ),
        Event.REFUSED: _("Votre projet « %s » n’a pas été retenu. Motif :"),
        Event.OUTCOME_ACCEPTED: _("Ce que vous avez fait du projet « %s » est en ligne."),
        Event.OUTCOME_REFUSED: _(
            "Ce que vous avez fait du projet « %s » n’a pas été retenu. Motif :"
        ),
    }[change.event] % title
