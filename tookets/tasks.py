"""Celery tasks of the project itself."""

from celery import shared_task
from celery.signals import worker_ready

from tookets import outbox


@shared_task
def drain_outbox(even_if_backed_off: bool = False) -> int:
    """Publish the outbox messages the broker could not take when they were queued."""
    return outbox.drain(even_if_backed_off=even_if_backed_off)


# Connected here, not in tookets/celery.py: the worker imports every tasks module before it is
# ready, and the hook needs this module's task (tookets.celery importing it would be a cycle).
@worker_ready.connect
def _drain_outbox_on_start(sender=None, **kwargs):
    # A worker (re)starting is often the broker coming back: send what waited meanwhile.
    # On a queue this worker consumes, so that this very worker (not some other) does it.
    task_consumer = getattr(sender, "task_consumer", None)
    queues = [q.name for q in getattr(task_consumer, "queues", None) or []]
    drain_outbox.apply_async(
        kwargs={"even_if_backed_off": True}, queue=queues[0] if queues else None
    )
