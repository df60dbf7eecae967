"""The association workflow emails (French, HTML and text), one per decision.

Recipients: the association's contact e-mail, else its legal representative's, else the
e-mail the bank gave for the association's account. The guide says a correction request goes
« à l'association ou à l'agence »: local banks have no e-mail address in the data model yet, so
when the association has none at all the message goes to ``settings.TOOKETS_LOCAL_BANK_FALLBACK_EMAIL``
(if set) with the local bank named in the subject, otherwise it is logged and not sent.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from associations.models import Association, StatusChange
from tookets import send_once
from tookets.models import EmailClaim

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

    Claimed under the decision's key through ``tookets.send_once`` (whose docstring says what
    a crash does): a retry after a refused send sends it, a second delivery of the task does
    not, nor a run after one that died in the middle of sending it. (It was a claim in the
    cache, which a Redis outage turned into « already sent ».)
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
    key = f"associations.decision-email:{change.pk}"
    delivery = send_once.deliver(
        EmailClaim,
        fixed={},
        field="key",
        messages={key: lambda: build_message(change=change, kind=kind, to=to)},
    )
    if not delivery.sent and send_once.stale(EmailClaim, key=key):
        logger.warning("%s: a run died while sending it; not sent again (at most once)", key)
    return delivery.sent == 1


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
