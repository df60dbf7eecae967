"""The outbox: rows written with the change, published after commit, drained with backoff."""

import datetime
import logging
from io import StringIO

import pytest
from celery.signals import worker_ready
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from associations import services
from associations.models import Association, StatusChange
from associations.tasks import send_decision_email
from tests import factories as f
from tests.services import redis_cache_settings, reset_celery_connections
from tookets import outbox
from tookets.celery import app
from tookets.log_throttle import OncePerInterval
from tookets.models import OutboxMessage

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture
def dead_broker():
    keys = ("broker_url", "broker_read_url", "broker_write_url", "task_always_eager")
    saved = {k: app.conf.get(k) for k in keys}
    app.conf.update(
        broker_url=DEAD_REDIS,
        broker_read_url=DEAD_REDIS,
        broker_write_url=DEAD_REDIS,
        task_always_eager=False,
    )
    reset_celery_connections(app)
    yield
    app.conf.update(saved)
    reset_celery_connections(app)


def correction_requested(staff):
    association = f.AssociationFactory(
        caisse_regionale=staff.caisse_regionale,
        status=Association.Status.SUBMITTED,
        email="club@example.test",
    )
    services.request_correction(association=association, staff=staff, message="RNA faux.")
    return StatusChange.objects.get(association=association)


def test_a_rolled_back_change_queues_nothing(staff_pg, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            correction_requested(staff_pg)
            raise RuntimeError
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_a_committed_change_is_published_and_run_after_commit(
    staff_pg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        change = correction_requested(staff_pg)
    message = OutboxMessage.objects.get()
    assert (message.task, message.kwargs) == (
        "associations.tasks.send_decision_email",
        {"status_change_id": change.pk},
    )
    assert message.published_at is None and mail.outbox == []
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.published_at is not None and message.attempts == 1
    assert len(mail.outbox) == 1


def test_an_unknown_task_fails_where_it_is_queued():
    with pytest.raises(LookupError):
        outbox.enqueue("associations.tasks.no_such_task", x=1)


def test_a_dead_broker_costs_the_request_nothing_and_the_drain_backs_off(
    staff_pg, dead_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # no exception reaches the caller
        correction_requested(staff_pg)
    message = OutboxMessage.objects.get()
    assert message.published_at is None and message.attempts == 1
    assert "OperationalError" in message.last_error
    first_delay = message.available_at - timezone.now()
    assert datetime.timedelta(seconds=5) < first_delay <= datetime.timedelta(seconds=10)

    assert outbox.drain() == 0  # not due yet: nothing tried
    assert OutboxMessage.objects.get().attempts == 1
    OutboxMessage.objects.update(available_at=timezone.now())
    assert outbox.drain() == 0
    message.refresh_from_db()
    assert message.attempts == 2
    assert message.available_at - timezone.now() > datetime.timedelta(seconds=15)
    assert mail.outbox == []


def test_the_drain_publishes_what_waited_once_the_broker_is_back(
    staff_pg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        correction_requested(staff_pg)
        correction_requested(staff_pg)
    # Both were refused by the broker a while ago; one is still backing off.
    OutboxMessage.objects.update(attempts=1, last_error="OperationalError")
    first, second = OutboxMessage.objects.order_by("id")
    OutboxMessage.objects.filter(pk=second.pk).update(
        available_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    assert outbox.drain() == 1
    assert len(mail.outbox) == 1
    assert outbox.drain(even_if_backed_off=True) == 1
    assert outbox.drain(even_if_backed_off=True) == 0
    assert len(mail.outbox) == 2
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
    assert outbox.pending_summary() == {"pending": 0, "oldest_pending_seconds": 0}


def test_a_starting_worker_drains_what_waited_even_while_backing_off(
    staff_pg, django_capture_on_commit_callbacks
):
    import tookets.tasks  # noqa: F401  the worker imports every tasks module before it is ready

    with django_capture_on_commit_callbacks(execute=False):
        correction_requested(staff_pg)
    OutboxMessage.objects.update(
        attempts=3, available_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    worker_ready.send(sender=None)
    assert len(mail.outbox) == 1
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_old_published_rows_are_deleted_by_the_drain():
    old = OutboxMessage.objects.create(
        task="tookets.tasks.drain_outbox",
        published_at=timezone.now() - outbox.KEEP_PUBLISHED - datetime.timedelta(hours=1),
    )
    recent = OutboxMessage.objects.create(
        task="tookets.tasks.drain_outbox", published_at=timezone.now()
    )
    outbox.drain()
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk


def test_backoff_doubles_up_to_five_minutes():
    assert [outbox.backoff(n).total_seconds() for n in range(1, 8)] == [
        10,
        20,
        40,
        80,
        160,
        300,
        300,
    ]


def test_the_decision_email_goes_out_with_the_cache_down(
    staff_pg, django_capture_on_commit_callbacks
):
    # It used to take its "sent once" claim in the cache: a Redis down made it « already sent ».
    with override_settings(CACHES=redis_cache_settings("redis://127.0.0.1:1/1")):
        with django_capture_on_commit_callbacks(execute=True):
            change = correction_requested(staff_pg)
        assert send_decision_email(change.pk) is False
    assert len(mail.outbox) == 1


def test_the_log_filter_lets_one_line_a_minute_through(caplog):
    logger = logging.getLogger("tests.throttled")
    throttle = OncePerInterval(seconds=60)
    logger.addFilter(throttle)
    try:
        with caplog.at_level(logging.WARNING, logger="tests.throttled"):
            for _ in range(5):
                logger.warning("cache down")
            logger.warning("another message")
            throttle._last = {k: v - 61 for k, v in throttle._last.items()}
            logger.warning("cache down")
    finally:
        logger.removeFilter(throttle)
    assert [r.getMessage() for r in caplog.records] == [
        "cache down",
        "another message",
        "cache down (and 4 more like it since the last one)",
    ]


def test_the_drain_command_says_what_it_did(staff_pg, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        correction_requested(staff_pg)
    out = StringIO()
    call_command("drain_outbox", stdout=out)
    assert out.getvalue().startswith("1 published, 0 pending")
    assert len(mail.outbox) == 1
