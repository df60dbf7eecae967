"""The transactional outbox: work queued from a request never talks to the broker inside it.

``enqueue("app.tasks.name", **kwargs)`` (or ``enqueue(task, **kwargs)``) writes an
:class:`~tookets.models.OutboxMessage` in the caller's transaction and, once that transaction
commits, tries once to publish it (short broker timeouts, no retry loop, never raises). A row
the broker refused stays pending: ``drain()`` — a beat task every ``OUTBOX_DRAIN_SECONDS``,
run once when a worker starts, and ``manage.py drain_outbox`` — publishes it later, pushing
it back with an exponential backoff after each failure.

Publishing is at least once (a crash between the broker taking a message and the row being
marked may publish it again), and Celery delivers at least once (``acks_late``), so every task
is safe to run twice; an email is sent once through ``tookets.send_once``.

Without a broker (development, tests) tasks run eagerly, still after commit.
"""

import datetime
import importlib
import logging
from functools import partial

from celery import Task
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from tookets.celery import app as celery_app
from tookets.compiled import PLACEHOLDER, BoundQuery, compiled_once
from tookets.models import OutboxMessage

logger = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 10
BACKOFF_MAX_SECONDS = 300
DRAIN_BATCH = 100
# Published rows are kept this long (to see what was sent), then deleted by the drain.
KEEP_PUBLISHED = datetime.timedelta(days=7)


def enqueue(task: Task | str, /, **kwargs) -> OutboxMessage:
    """Queue ``task(**kwargs)`` with the current transaction; published after it commits.

    ``kwargs`` must be JSON values (ids, strings): tasks take ids, not objects.
    """
    name = task if isinstance(task, str) else task.name
    _task(name)  # a typo fails where it is made, not in the worker
    message = OutboxMessage.objects.create(task=name, kwargs=kwargs)
    transaction.on_commit(partial(publish, message.pk), robust=True)
    return message


def publish(message_id: int) -> bool:
    """Try once to hand one pending message to the broker; never raises (it runs after commit)."""
    try:
        with transaction.atomic():
            found = BoundQuery(_pending_message_query, message_id).fetch()
            message = found[0] if found else None
            if message is None:  # already published, or being published by the drain
                return False
            return _publish_locked(message, retry=False)
    except Exception:
        logger.exception("outbox: could not publish message %s; the drain will", message_id)
        return False


@compiled_once(maxsize=1)
def _pending_message_query():
    """``publish``'s lookup, compiled once per process (after every gift's commit)."""
    return (
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(pk=PLACEHOLDER, published_at__isnull=True)
        .order_by("pk")[:1]
    )


def drain(*, limit: int | None = None, even_if_backed_off: bool = False) -> int:
    """Publish the pending messages that are due, oldest first; return how many were.

    Stops at the first failure: the broker is away, the next drain tries again. Rows locked by
    another drain (or by a request's after-commit publish) are skipped, so drains may overlap.
    ``even_if_backed_off``: also those whose next attempt is later (a worker just connected to
    the broker: it is back, no need to wait).
    """
    published = 0
    due = Q() if even_if_backed_off else Q(available_at__lte=timezone.now())
    while limit is None or published < limit:
        batch = DRAIN_BATCH if limit is None else min(DRAIN_BATCH, limit - published)
        with transaction.atomic():
            messages = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(due, published_at__isnull=True)
                .order_by("available_at", "id")[:batch]
            )
            for message in messages:
                if not _publish_locked(message, retry=True):
                    return published
                published += 1
        if len(messages) < batch:
            break
    OutboxMessage.objects.filter(published_at__lt=timezone.now() - KEEP_PUBLISHED).delete()
    return published


def pending_summary() -> dict:
    """How many messages wait, and for how long the oldest has (for the health endpoint)."""
    row = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
        pending=Count("id"), oldest=Min("created_at")
    )
    oldest = row["oldest"]
    age = int((timezone.now() - oldest).total_seconds()) if oldest else 0
    return {"pending": row["pending"], "oldest_pending_seconds": age}


def backoff(attempts: int) -> datetime.timedelta:
    """10 s, 20 s, 40 s… after each failed attempt, at most 5 minutes."""
    seconds = min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return datetime.timedelta(seconds=seconds)


def _task(name: str) -> Task:
    """The registered task of that name, importing its module (tasks register on import)."""
    if name not in celery_app.tasks:
        importlib.import_module(name.rpartition(".")[0])
    try:
        return celery_app.tasks[name]
    except KeyError:
        raise LookupError(f"no Celery task named {name!r}") from None


def _publish_locked(message: OutboxMessage, *, retry: bool) -> bool:
    message.attempts += 1
    try:
        # A savepoint: without a broker the task runs here (eagerly) and may fail half-way.
        with transaction.atomic():
            _task(message.task).apply_async(
                kwargs=message.kwargs, task_id=f"outbox-{message.pk}", retry=retry
            )
    except Exception as exc:
        message.available_at = timezone.now() + backoff(message.attempts)
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        message.save(update_fields=["attempts", "available_at", "last_error"])
        logger.warning("outbox: publishing failed, will retry: %s", message.last_error)
        return False
    message.published_at = timezone.now()
    message.save(update_fields=["attempts", "published_at"])
    return True
