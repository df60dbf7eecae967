"""Celery tasks of the project itself."""

from celery import shared_task

from tookets import outbox


@shared_task
def drain_outbox(even_if_backed_off: bool = False) -> int:
    """Publish the outbox messages the broker could not take when they were queued."""
    return outbox.drain(even_if_backed_off=even_if_backed_off)
