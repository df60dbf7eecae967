"""Sessions: expired rows are purged every night; an anonymous visitor gets a row only when a
step keeps something for the next one (the keypad's layout)."""

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from accounts.tasks import purge_expired_sessions
from tests.accounts.helpers import LOGIN_URL, login_with_code, show_keypad
from tests.test_hostile_inputs import world  # noqa: F401 - fixture
from tookets.celery import app

pytestmark = pytest.mark.django_db


def _session(key: str, *, expires_in: datetime.timedelta) -> None:
    Session.objects.create(
        session_key=key, session_data="e30:placeholder", expire_date=timezone.now() + expires_in
    )


@pytest.mark.parametrize("run", [purge_expired_sessions, lambda: call_command("clearsessions")])
def test_expired_sessions_are_purged_and_live_ones_kept(run):
    _session("expired" + "x" * 25, expires_in=-datetime.timedelta(seconds=1))
    _session("expired-long-ago" + "x" * 16, expires_in=-datetime.timedelta(days=400))
    _session("live" + "x" * 28, expires_in=datetime.timedelta(minutes=5))
    run()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live" + "x" * 28]
    run()  # twice: nothing more to do
    assert Session.objects.count() == 1


def test_beat_purges_the_sessions_every_night():
    entries = [e for e in app.conf.beat_schedule.values() if e["task"].endswith("sessions")]
    assert [e["task"] for e in entries] == ["accounts.tasks.purge_expired_sessions"]
    schedule = entries[0]["schedule"]
    assert schedule.hour == {4} and schedule.minute == {0}


def test_the_identifier_step_keeps_no_session(client, jeanne):
    assert client.get(LOGIN_URL).status_code == 200
    assert Session.objects.count() == 0
    # An identifier refused at the first step: nothing to keep either.
    assert (
        client.post(LOGIN_URL, {"caisse": "pyrenees-gascogne", "account_number": "12"}).status_code
        == 200
    )
    assert (
        client.post(LOGIN_URL, {"caisse": "", "account_number": "98652706859"}).status_code == 200
    )
    assert Session.objects.count() == 0
    # The keypad's layout is kept for the code step: one row, reused by the login.
    assert show_keypad(client).status_code == 200
    assert Session.objects.count() == 1
    assert login_with_code(client).status_code == 302
    assert Session.objects.count() == 1


def test_no_anonymous_page_keeps_a_session(client, world):  # noqa: F811
    """Every URL pattern, shown to someone not logged in: only a page showing a keypad writes
    a session row (its layout, for the post that follows); a robot crawling the site leaves
    no other."""
    from tests.test_hostile_inputs import site_urls

    made = []
    for name, path in site_urls(world):
        if "logout" in name:
            continue
        before = Session.objects.count()
        response = client.get(path)
        if Session.objects.count() != before:
            made.append(name)
            assert b"data-keypad" in response.content, name
            Session.objects.all().delete()
            client.cookies.clear()
    assert made == ["associations:register_auth"]  # its keypad is on the first page
