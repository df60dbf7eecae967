import datetime

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

from tests import factories as f
from tests.accounts.helpers import login_with_code

pytestmark = pytest.mark.django_db


def _wrong_codes(client, n, **kw):
    return [login_with_code(client, code="000000", **kw) for _ in range(n)]


def _age_attempts(by: datetime.timedelta):
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= by
        attempt.save(update_fields=["attempt_time"])


def test_three_wrong_codes_lock_the_identifier_and_say_for_how_long(client, jeanne):
    first, second, third = _wrong_codes(client, 3)
    assert first.status_code == second.status_code == 200
    assert third.status_code == 429
    html = third.content.decode()
    assert "Accès temporairement bloqué" in html
    assert "pendant encore 15 minutes" in html
    # It never tells which part was wrong.
    assert "incorrect" not in html

    # Even the right code is refused while locked, with the same page.
    locked = login_with_code(client)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_ends_after_the_cool_off(client, jeanne):
    _wrong_codes(client, 3)
    _age_attempts(datetime.timedelta(minutes=10))
    response = login_with_code(client)
    assert response.status_code == 429
    assert "pendant encore 5 minutes" in response.content.decode()

    _age_attempts(datetime.timedelta(minutes=5, seconds=1))
    response = login_with_code(client)
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_attempts_while_locked_do_not_extend_the_lock(client, jeanne):
    _wrong_codes(client, 3)
    _age_attempts(datetime.timedelta(minutes=14))
    _wrong_codes(client, 2)
    _age_attempts(datetime.timedelta(minutes=1, seconds=1))
    assert login_with_code(client).status_code == 302


def test_success_resets_the_count(client, jeanne):
    _wrong_codes(client, 2)
    assert login_with_code(client).status_code == 302
    client.post("/deconnexion/")
    _wrong_codes(client, 2)
    assert login_with_code(client).status_code == 302


def test_the_lock_is_per_identifier(client, jeanne, pg_caisse):
    f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number="98652700009")
    _wrong_codes(client, 3)
    assert login_with_code(client, account="98652700009").status_code == 302
    # The same account number in another regional bank is another identifier.
    other = Client()
    assert login_with_code(other, caisse="toulouse-31", code="000000").status_code == 200


def test_lock_holds_from_another_device(client, jeanne):
    _wrong_codes(client, 3)
    other = Client(REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="autre navigateur")
    assert login_with_code(other).status_code == 429


@override_settings(LOGIN_RATE_PER_ADDRESS="4/h")
def test_one_address_trying_many_identifiers_is_limited(client, jeanne, pg_caisse):
    for i in range(4):
        f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number=f"9865271000{i}")
        response = login_with_code(client, account=f"9865271000{i}", code="000000")
        assert response.status_code == 200
    # The address has used its wrong codes: even a right code for a fresh identifier waits.
    response = login_with_code(client)
    assert response.status_code == 429
    assert "pendant encore" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not affected.
    assert login_with_code(Client(REMOTE_ADDR="10.9.9.9")).status_code == 302


@override_settings(LOGIN_RATE_PER_ADDRESS="2/h")
def test_successful_logins_do_not_use_up_the_address_limit(client, jeanne):
    for _ in range(4):
        assert login_with_code(client).status_code == 302
        client.post("/deconnexion/")


@override_settings(LOGIN_RATE_PER_ADDRESS="4/h")
def test_a_flood_of_cached_pages_does_not_reset_the_address_limit(client, jeanne, pg_caisse):
    """The per-address counters live in their own cache: the page cache, bounded and evicting
    its least recently used keys, can be filled by any member (issue 24), which must not give
    an address its wrong codes back."""
    from django.core.cache import caches

    for i in range(4):
        f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number=f"9865271000{i}")
        assert login_with_code(client, account=f"9865271000{i}", code="000000").status_code == 200
    caches["default"].clear()  # what a flood of fragments does to the page cache
    assert login_with_code(client).status_code == 429


def test_with_the_limits_store_down_logins_still_work(client, jeanne, settings, caplog):
    """Fail open (issue 14): an unreachable limits store lets logins through, and says so."""
    from tests.services import redis_cache_settings

    dead = redis_cache_settings("redis://127.0.0.1:1/1")["limits"]
    settings.CACHES = {**settings.CACHES, "limits": dead}
    assert login_with_code(client, code="000000").status_code == 200
    assert login_with_code(client).status_code == 302
    assert "per-address login limit not applied" in caplog.text
