"""The client address behind the load balancer: one reader, for django-axes and the limit.

Behind N trusted proxies the client's address is the N-th entry from the right of
X-Forwarded-For (the one the outermost proxy appended). What a client writes in the header
itself lands further left: it can neither charge another client's address nor get a fresh one.
"""

from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import make_password
from django.test import Client, RequestFactory, override_settings

from tests import factories as f
from tests.accounts.helpers import login_with_code
from tests.associations.test_registration import AUTH_URL
from tookets.http import client_ip

pytestmark = pytest.mark.django_db

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
LOAD_BALANCER = "10.0.0.1"
INNER_PROXY = "10.0.0.2"
ATTACKER = "198.51.100.7"
SOMEONE_ELSE = "192.0.2.10"
RATE = 30  # LOGIN_RATE_PER_ADDRESS of .env.example: 30/h


@pytest.fixture(autouse=True)
def _fast_codes(settings):
    # Dozens of wrong codes per test: a fast hasher for the codes these tests create (the
    # production one takes about a second per check on a loaded CI machine).
    # The shared demo hash (tests.factories.demo_code_hash) is never made here: it would be
    # cached as MD5 for the tests that follow.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture
def jeanne(pg_caisse, _fast_codes):
    return f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number="98652706859",
        personal_code=make_password(f.DEMO_CODE),
    )


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def behind_proxies(real: str, *, proxies: int, forged: str | None = None) -> Client:
    """A client reaching the application through ``proxies`` proxies, each appending."""
    chain = ([forged] if forged else []) + [real]
    hops = [LOAD_BALANCER, INNER_PROXY][:proxies]
    # Proxy k appends the address it received the connection from; the application sees the
    # last proxy as REMOTE_ADDR.
    forwarded = chain + hops[:-1]
    return Client(REMOTE_ADDR=hops[-1], HTTP_X_FORWARDED_FOR=", ".join(forwarded))


def _identifiers(pg_caisse, n):
    accounts = [f"986527{i:05d}" for i in range(n)]
    for account in accounts:
        f.BankCustomerFactory(
            caisse_regionale=pg_caisse, account_number=account, personal_code=make_password("1")
        )
    return accounts


def _wrong_codes(make_client, accounts, n):
    """n wrong codes, 3 per identifier (the third locks it), each from a fresh client."""
    responses = []
    for i in range(n):
        responses.append(
            login_with_code(make_client(i), account=accounts[i // 3], code="000000").status_code
        )
    return responses


# --- The reader -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count, forwarded, expected",
    [
        (0, "203.0.113.66", "10.0.0.9"),  # no proxy: the header is the client's own words
        (1, "203.0.113.66", "203.0.113.66"),
        (1, "203.0.113.66, 198.51.100.7", "198.51.100.7"),  # a forged left-most value
        (1, "1.1.1.1,2.2.2.2 , 198.51.100.7", "198.51.100.7"),
        (2, "203.0.113.66, 198.51.100.7, 10.0.0.1", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),  # shorter than the proxies: a proxy wrote it
        (1, "198.51.100.7:51234", "198.51.100.7"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "2001:DB8::1", "2001:db8::1"),
        (1, "not-an-address", "10.0.0.9"),
        (1, "<script>", "10.0.0.9"),
        (1, "", "10.0.0.9"),
        (1, " , ", "10.0.0.9"),
    ],
)
def test_client_ip_takes_the_address_the_outermost_trusted_proxy_appended(
    settings, count, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_env_example_sets_the_proxy_count_and_none_of_the_old_headers():
    values = _env_example()
    assert values["TRUSTED_PROXY_COUNT"] == "1"
    assert "AXES_IP_HEADERS" not in values and "RATELIMIT_IP_META_KEY" not in values


# --- Behind one load balancer, with .env.example's settings ---------------------------------


@override_settings(
    TRUSTED_PROXY_COUNT=int(_env_example().get("TRUSTED_PROXY_COUNT", "0")),
    LOGIN_RATE_PER_ADDRESS=_env_example()["LOGIN_RATE_PER_ADDRESS"],
)
def test_31_wrong_codes_with_a_forged_header_block_only_the_attacker(jeanne, pg_caisse):
    accounts = _identifiers(pg_caisse, 11)
    # 30 wrong codes, the header forged (and changed on every try, to look like many people).
    statuses = _wrong_codes(
        lambda i: behind_proxies(ATTACKER, proxies=1, forged=f"203.0.113.{i}"), accounts, RATE
    )
    assert statuses.count(200) == 20 and statuses.count(429) == 10  # every third locks
    # The 31st is refused by the address limit, whatever the header says (a fresh identifier).
    attacker = behind_proxies(ATTACKER, proxies=1, forged="203.0.113.66")
    assert login_with_code(attacker, account=accounts[10], code="000000").status_code == 429
    # Everybody else behind the same load balancer logs in.
    assert login_with_code(behind_proxies(SOMEONE_ELSE, proxies=1)).status_code == 302
    other = behind_proxies(SOMEONE_ELSE, proxies=1, forged="198.51.100.7")
    assert login_with_code(other).status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_django_axes_records_the_same_address(jeanne):
    login_with_code(behind_proxies(ATTACKER, proxies=1, forged="203.0.113.66"), code="000000")
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ATTACKER]


# --- Behind two proxies ---------------------------------------------------------------------


@override_settings(TRUSTED_PROXY_COUNT=2, LOGIN_RATE_PER_ADDRESS="6/h")
def test_two_proxies_an_attacker_can_neither_lock_out_others_nor_escape(jeanne, pg_caisse):
    accounts = _identifiers(pg_caisse, 3)
    _wrong_codes(
        lambda i: behind_proxies(ATTACKER, proxies=2, forged=f"203.0.113.{i}"), accounts, 6
    )
    for forged in (None, "203.0.113.200", SOMEONE_ELSE):
        attacker = behind_proxies(ATTACKER, proxies=2, forged=forged)
        assert login_with_code(attacker, account=accounts[2], code="000000").status_code == 429
        # Even with the right code of an unlocked identifier.
        assert login_with_code(attacker).status_code == 429
    # Someone else, even one whose address the attacker wrote in the header, logs in.
    assert login_with_code(behind_proxies(SOMEONE_ELSE, proxies=2)).status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=2, LOGIN_RATE_PER_ADDRESS="3/h")
def test_two_proxies_forging_the_victims_address_does_not_charge_the_victim(jeanne, pg_caisse):
    accounts = _identifiers(pg_caisse, 2)
    _wrong_codes(lambda i: behind_proxies(ATTACKER, proxies=2, forged=SOMEONE_ELSE), accounts, 3)
    assert login_with_code(behind_proxies(SOMEONE_ELSE, proxies=2)).status_code == 302


# --- The try that locks an identifier counts ------------------------------------------------


@override_settings(TRUSTED_PROXY_COUNT=0, LOGIN_RATE_PER_ADDRESS="30/h")
def test_the_wrong_code_that_locks_an_identifier_counts_for_the_address(jeanne, pg_caisse):
    accounts = _identifiers(pg_caisse, 11)
    statuses = _wrong_codes(lambda i: Client(REMOTE_ADDR=ATTACKER), accounts, RATE)
    assert statuses.count(429) == 10  # the locking tries
    # Wrong code 31 is on an identifier not tried yet: only the address limit can refuse it.
    response = login_with_code(Client(REMOTE_ADDR=ATTACKER), account=accounts[10], code="000000")
    assert response.status_code == 429
    assert AccessAttempt.objects.filter(username__endswith=accounts[10]).count() == 0


@override_settings(TRUSTED_PROXY_COUNT=0, LOGIN_RATE_PER_ADDRESS="4/h")
def test_tries_on_an_identifier_already_locked_do_not_use_up_the_address(jeanne):
    client = Client(REMOTE_ADDR=ATTACKER)
    f.BankCustomerFactory(
        caisse_regionale=jeanne.caisse_regionale,
        account_number="98652799999",
        personal_code=make_password("1"),
    )
    # Three checked wrong codes (the third locks), then three refused unchecked.
    _wrong_codes(lambda i: client, ["98652799999"] * 2, 6)
    assert AccessAttempt.objects.get().failures_since_start == 3
    # 3 of 4 used: the address may still log in.
    assert login_with_code(client).status_code == 302


# --- Registration: the same address, the same protection ------------------------------------


@override_settings(TRUSTED_PROXY_COUNT=1, LOGIN_RATE_PER_ADDRESS="5/h")
def test_registration_limit_uses_the_same_address(pg_caisse):
    def post(client):
        client.get(AUTH_URL)
        return client.post(
            AUTH_URL, {"caisse": pg_caisse.pk, "account_number": "98652790001", "positions": "1"}
        )

    for i in range(6):
        last = post(behind_proxies(ATTACKER, proxies=1, forged=f"203.0.113.{i}"))
    assert "Trop de tentatives" in last.content.decode()
    other = post(behind_proxies(SOMEONE_ELSE, proxies=1, forged="203.0.113.5"))
    assert "Trop de tentatives" not in other.content.decode()


@pytest.mark.parametrize("obsolete", ["AXES_IP_HEADERS", "RATELIMIT_IP_META_KEY"])
def test_an_old_proxy_setting_stops_start_up_with_what_to_set_instead(obsolete):
    from tests.test_deploy import _manage, _production_env

    result = _manage("check", env=_production_env(**{obsolete: "HTTP_X_FORWARDED_FOR"}))
    assert result.returncode != 0
    assert f"{obsolete} is no longer read: set TRUSTED_PROXY_COUNT" in result.stderr
