"""Reads off a replica (tookets/db_router.py), run against a test mirror of the primary: the
``replica`` alias is a second connection to the test database, so which alias a page's
queries go to is seen, not guessed. Transactional tests: a read inside a transaction open on
the primary never goes to the replica, and a test's own transaction would be one."""

import copy
import json
import re
import time

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from associations.models import Association, DirectoryVersion
from cagnotte.models import LedgerEntry
from tests.cagnotte.helpers import credit
from tests.conftest import missing_service
from tookets import db_router
from tookets.db_router import REPLICA, WROTE_COOKIE, replica_reads

# serialized_rollback: the flush after each test would drop the reference data of the data
# migrations (and recreate content types under new ids) for the transactional tests after it.
pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True, databases=[DEFAULT_DB_ALIAS, REPLICA]
)

CLOSED_PORT = 9  # discard: nothing listens there


@pytest.fixture(scope="module", autouse=True)
def replica_mirror(django_db_setup):
    """The ``replica`` alias as Django's TEST MIRROR makes it: the primary's test database."""
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        missing_service("needs PostgreSQL: set DATABASE_URL=postgres://…")
    mirror = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    mirror["TEST"] = {**mirror["TEST"], "MIRROR": DEFAULT_DB_ALIAS}
    connections.settings[REPLICA] = mirror
    yield mirror
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture(autouse=True)
def _fresh_replica_state():
    db_router.reset_state()
    yield
    db_router.reset_state()


@pytest.fixture
def unreachable_replica(replica_mirror):
    """The replica down: its address now a closed port."""
    connections[REPLICA].close()
    port = replica_mirror["PORT"]
    replica_mirror["PORT"] = CLOSED_PORT
    yield
    connections[REPLICA].close()
    replica_mirror["PORT"] = port


def _queries(client, url, **extra):
    """The SQL each alias ran for this page (recorded without connecting: CaptureQueries-
    Context would open a connection to a replica that is meant to be down)."""
    seen = {REPLICA: [], DEFAULT_DB_ALIAS: []}

    def recorder(alias):
        def record(execute, sql, params, many, context):
            seen[alias].append(sql)
            return execute(sql, params, many, context)

        return record

    with (
        connections[REPLICA].execute_wrapper(recorder(REPLICA)),
        connections[DEFAULT_DB_ALIAS].execute_wrapper(recorder(DEFAULT_DB_ALIAS)),
    ):
        response = client.get(url, **extra)
    assert response.status_code == 200, (url, response.status_code)
    return seen[REPLICA], seen[DEFAULT_DB_ALIAS]


def _touches(sqls, table):
    return [sql for sql in sqls if f'"{table}"' in sql or f" {table} " in sql]


@pytest.fixture
def member_client(client, member, program, association):
    credit(member, program, 100)
    client.force_login(member)
    return client


def lag_tolerant_urls(association, caisse):
    return [
        reverse("associations:directory"),
        reverse("associations:directory") + "?q=amis",
        reverse("associations:map_data"),
        reverse("associations:detail", args=[association.pk]),
        reverse("associations:card", args=[association.pk]),
        reverse("cagnotte:results_of", args=[caisse.code]),
    ]


def test_lag_tolerant_pages_read_from_the_replica(member_client, association, pg_caisse):
    for url in lag_tolerant_urls(association, pg_caisse):
        on_replica, on_primary = _queries(member_client, url)
        assert on_replica, url
        # The primary serves the session's user (read before the view) and nothing of the page.
        for table in ("associations_association", "associations_directoryversion"):
            assert not _touches(on_primary, table), (url, on_primary)


def test_the_staff_dashboard_reads_from_the_replica(client, staff_pg, association):
    client.force_login(staff_pg)
    on_replica, on_primary = _queries(client, reverse("admin:associations_association_dashboard"))
    assert _touches(on_replica, "associations_association")
    assert not _touches(on_primary, "associations_association")


def test_a_members_own_pages_read_from_the_primary(member_client, association):
    for url in (
        reverse("cagnotte:wallet"),
        reverse("associations:favourites"),
        reverse("cagnotte:give", args=[association.pk]),
    ):
        on_replica, on_primary = _queries(member_client, url)
        assert on_replica == [], url
        assert on_primary, url


def test_after_a_gift_the_member_reads_the_primary_for_a_few_seconds(
    member_client, association, settings
):
    give = reverse("cagnotte:give", args=[association.pk])
    html = member_client.get(give).content.decode()

    data = {
        "token": re.search(r'name="token" value="([^"]+)"', html).group(1),
        "wallet": re.search(r'name="wallet" value="(\d+)"', html).group(1),
        "amount": "10",
    }
    response = member_client.post(give, data)
    assert response.status_code == 302
    assert LedgerEntry.objects.filter(kind="gift").count() == 1
    cookie = response.cookies[WROTE_COOKIE]
    assert cookie["max-age"] == round(settings.REPLICA_READ_YOUR_WRITES)
    assert cookie["httponly"]

    directory = reverse("associations:directory")
    on_replica, on_primary = _queries(member_client, directory)
    assert on_replica == []
    assert _touches(on_primary, "associations_association")

    # Past REPLICA_READ_YOUR_WRITES seconds (the browser drops the cookie; the test client
    # keeps it, so its time says so): the replica again.
    member_client.cookies[WROTE_COOKIE] = str(time.time() - settings.REPLICA_READ_YOUR_WRITES - 1)
    on_replica, _ = _queries(member_client, directory)
    assert on_replica
    # A cookie that is not a time: the safe side.
    member_client.cookies[WROTE_COOKIE] = "soon"
    on_replica, _ = _queries(member_client, directory)
    assert on_replica == []


def test_writes_and_reads_inside_a_transaction_go_to_the_primary(association):
    seen = {}

    @replica_reads
    def view(request):
        seen["outside"] = router.db_for_read(Association)
        read = Association.objects.get(pk=association.pk)
        assert read._state.db == REPLICA
        seen["write"] = router.db_for_write(Association, instance=read)
        with transaction.atomic():
            seen["inside"] = router.db_for_read(Association)
            seen["version"] = DirectoryVersion.current()
            # An object read from the replica, saved: written on the primary.
            read.save(update_fields=["name"])
        return None

    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary:
        view(RequestFactory().get("/"))
    assert seen["outside"] == REPLICA
    assert seen["write"] == seen["inside"] == DEFAULT_DB_ALIAS
    assert [q for q in on_primary if q["sql"].startswith("UPDATE")]
    assert _touches([q["sql"] for q in on_primary], "associations_directoryversion")
    # Outside @replica_reads (tasks, commands, the admin): the primary.
    assert router.db_for_read(Association) == DEFAULT_DB_ALIAS


def test_a_replica_down_falls_back_to_the_primary_and_health_says_so(
    member_client, association, pg_caisse, unreachable_replica
):
    for url in lag_tolerant_urls(association, pg_caisse):
        on_replica, on_primary = _queries(member_client, url)
        assert on_replica == []
        assert _touches(on_primary, "associations_association") or "resultats" in url
    health = member_client.get("/sante/")  # from the loopback: the details
    report = json.loads(health.content)
    assert health.status_code == 200
    assert report["database"] == "ok"
    assert report["replica"] == "degraded" and report["replica_error"] == "down"
    assert report["status"] == "degraded"


def test_a_replica_lost_in_the_middle_of_a_page_serves_it_from_the_primary(
    member_client, association, replica_mirror
):
    directory = reverse("associations:directory")
    assert _queries(member_client, directory)[0]  # the replica answers: known usable
    connections[REPLICA].close()
    port, replica_mirror["PORT"] = replica_mirror["PORT"], CLOSED_PORT
    try:
        # No probe due (known usable a moment ago): the page's first replica query fails.
        on_replica, on_primary = _queries(member_client, directory)
        assert _touches(on_primary, "associations_association")
        assert db_router._state.usable is False
        # Not tried again before REPLICA_RETRY seconds.
        on_replica, _ = _queries(member_client, directory)
        assert on_replica == []
    finally:
        connections[REPLICA].close()
        replica_mirror["PORT"] = port


def test_a_replica_further_behind_than_the_limit_is_left_alone(member_client, settings):
    settings.REPLICA_MAX_LAG = -1.0  # any lag is too much
    on_replica, on_primary = _queries(member_client, reverse("associations:directory"))
    assert len(on_replica) == 1 and "pg_is_in_recovery" in on_replica[0]  # the probe only
    assert _touches(on_primary, "associations_association")
    report = json.loads(member_client.get("/sante/").content)
    assert report["replica"] == "degraded" and report["replica_lag_seconds"] == 0


def test_health_reports_a_working_replica_and_its_lag(client):
    report = json.loads(client.get("/sante/").content)
    assert report["replica"] == "ok" and report["replica_lag_seconds"] == 0
    assert "replica_error" not in report


def test_without_a_replica_nothing_changes(member_client, association, monkeypatch):
    monkeypatch.delitem(connections.settings, REPLICA)
    assert router.db_for_read(Association) == DEFAULT_DB_ALIAS  # no router had a say
    assert db_router.ReplicaRouter().db_for_read(Association) is None
    assert db_router.ReplicaRouter().db_for_write(Association) is None
    response = member_client.get(reverse("associations:directory"))
    assert response.status_code == 200
    response = member_client.post(reverse("associations:set_favourite"), {"association": 0})
    assert WROTE_COOKIE not in response.cookies
