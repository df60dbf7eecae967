"""The association workflow emails (French, HTML and text), one per decision.

Recipients: the association's contact e-mail, else its legal representative's, else the
e-mail the bank gave for the association's account. The guide says a correction request goes
« à l'association ou à l'agence »: local banks have no e-mail address in the data model yet, so
when the association has none at all the message goes to ``settings.TOOKETS_LOCAL_BANK_FALLBACK_EMAIL``
(if set) with the local bank named in the subject, otherwise it is logged and not sent.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from associations.models import Association, StatusChange

logger = logging.getLogger(__name__)

Event = StatusChange.Event

SUBJECTS = {
    "submitted": "Tookets — nous avons bien reçu l’inscription de {name}",
    "resubmitted": "Tookets — nous avons bien reçu les corrections de {name}",
    "correction_requested": "Tookets — une correction est demandée pour {name}",
    "validated": "Tookets — l’inscription de {name} est validée",
    "enrolled": "Tookets — {name} peut recevoir des Tookets",
    "rejected": "Tookets — l’inscription de {name} n’a pas été retenue",
}
# A claim lives long enough to cover every retry of a task.
CLAIM_SECONDS = 30 * 24 * 3600


# The email each event sends; the others send none (the start of a draft, a withdrawal from
# a program, which staff explain to the association themselves).
EMAIL_OF_EVENT = {
    Event.SUBMITTED: "submitted",
    Event.RESUBMITTED: "resubmitted",
    Event.CORRECTION_REQUESTED: "correction_requested",
    Event.VALIDATED: "validated",
    Event.ENROLLED: "enrolled",
    Event.REJECTED: "rejected",
}


def email_kind(change: StatusChange) -> str | None:
    """Which email a decision sends (None: no email), read from its recorded event."""
    return EMAIL_OF_EVENT.get(change.event)


def recipients(association: Association) -> list[str]:
    for address in (
        association.email,
        association.president_email,
        association.user.email if association.user_id else "",
        getattr(association.caisse_locale, "email", "") if association.caisse_locale_id else "",
        getattr(settings, "TOOKETS_LOCAL_BANK_FALLBACK_EMAIL", ""),
    ):
        if address:
            return [address]
    return []


def send_decision_email(*, status_change_id: int) -> bool:
    """Send the email of one decision, at most once even if the task runs twice.

    The claim is taken in the shared cache before sending and released if sending fails, so a
    retry sends it and a duplicate delivery of the task does not.
    """
    change = (
        StatusChange.objects.select_related(
            "association",
            "association__caisse_regionale",
            "association__caisse_locale",
            "association__user",
        )
        .filter(pk=status_change_id)
        .first()
    )
    if change is None:
        return False
    kind = email_kind(change)
    if kind is None:
        return False
    association = change.association
    to = recipients(association)
    if not to:
        logger.warning("association %s has no e-mail address: %s not sent", association.pk, kind)
        return False
    claim = f"associations:email:{change.pk}:{change.created_at.timestamp()}"
    if not cache.add(claim, 1, CLAIM_SECONDS):
        return False
    try:
        message = build_message(change=change, kind=kind, to=to)
        message.send()
    except Exception:
        cache.delete(claim)
        raise
    return True


def build_message(*, change: StatusChange, kind: str, to: list[str]) -> EmailMultiAlternatives:
    association = change.association
    site = settings.SITE_URL.rstrip("/")
    context = {
        "association": association,
        "change": change,
        "kind": kind,
        "caisse_regionale": association.caisse_regionale,
        "caisse_locale": association.caisse_locale,
        "programs": [e.program for e in association.enrollments.select_related("program")],
        "space_url": site + reverse("associations:space"),
        "site_url": site,
    }
    template = f"emails/association_{kind}"
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject=SUBJECTS[kind].format(name=association.name),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(html, "text/html")
    return message
