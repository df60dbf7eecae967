"""Celery tasks of the member emails: thin wrappers taking ids or codes, safe to run twice
(every send is claimed first: ``tookets.send_once``)."""

from smtplib import SMTPException

from celery import shared_task
from django.core.management import call_command

from accounts import emails
from cagnotte.models import Program
from tookets.periods import previous_period

RETRY = {
    "autoretry_for": (SMTPException, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**RETRY)
def send_recap_emails(period: str | None = None) -> dict:
    """The recap of ``period``, by default the month before: its credits are in by then."""
    report = emails.send_recap_emails(period=period or previous_period())
    return {"period": report.period, "sent": report.sent, "skipped": report.skipped}


@shared_task(**RETRY)
def send_due_reminders() -> list[dict]:
    return [
        {"program": r.period, "sent": r.sent, "skipped": r.skipped}
        for r in emails.send_due_reminders()
    ]


@shared_task(**RETRY)
def send_reminders(program_code: str) -> dict:
    program = Program.objects.get(code=program_code)
    report = emails.send_reminders(program=program)
    return {"program": report.period, "sent": report.sent, "skipped": report.skipped}


@shared_task(**RETRY)
def send_gift_receipt(entry_id: int) -> bool:
    return emails.send_gift_receipt(entry_id=entry_id)


@shared_task(**RETRY)
def send_thank_you(thank_you_id: int) -> int:
    """Deliver an association's accepted message to its supporters; safe to run twice."""
    return emails.send_thank_you(thank_you_id=thank_you_id).sent


@shared_task
def purge_expired_sessions() -> None:
    """Delete the sessions past their expiry date: Django never does it by itself, and every
    login (and every keypad shown) leaves a row. Django's own command, so running it by hand
    is ``manage.py clearsessions``; deleting what is already gone is a no-op (safe twice)."""
    call_command("clearsessions")
