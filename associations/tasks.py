"""Celery tasks of the association workflow: thin wrappers taking ids, safe to run twice."""

from smtplib import SMTPException

from celery import shared_task

from associations import emails, project_emails


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def send_decision_email(status_change_id: int) -> bool:
    """Email the association about one decision (receipt, correction, validation, enrolment)."""
    return emails.send_decision_email(status_change_id=status_change_id)


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def send_project_email(project_event_id: int) -> bool:
    """Email the association about one step of a project (receipt, correction, decision)."""
    return project_emails.send_project_email(project_event_id=project_event_id)
