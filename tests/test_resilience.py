"""Real outages: Redis (cache and broker) killed under a logged-in member, PostgreSQL
connections dropped between two requests, a Celery worker killed in the middle of a task."""

import json
import os
import signal

import psycopg
import pytest
import redis
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse

from associations.models import Association, StatusChange
from cagnotte.models import Favourite, LedgerEntry, Wallet
from tests import factories as f
from tests.accounts.helpers import login_with_code
from tests.associations.test_registration import fill_all, post_auth
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tests.cagnotte.test_views import fresh_form, give_url
from tests.services import RedisServer, celery_worker, site_on, wait_for
from tookets import outbox
from tookets.models import EmailClaim, OutboxMessage

pytestmark = [pytest.mark.postgres, pytest.mark.celery]

BACKEND = "tests.recording_email_backend.RecordingBackend"


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.kill()


def sent(log_path) -> list[dict]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines()]


def member_pages(association) -> list[str]:
    directory = reverse("associations:directory")
    return [
        reverse("home"),
        reverse("cagnotte:wallet"),
        give_url(association),
        directory,
        directory + "?vue=carte",
        directory + f"?q={association.name[:5]}",
        reverse("associations:map_data"),
        reverse("associations:detail", args=[association.pk]),
        reverse("associations:card", args=[association.pk]),
        reverse("associations:favourites"),
        reverse("accounts:settings"),
        reverse("accounts:help"),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_site_keeps_serving_with_redis_down_and_the_email_goes_out_once_it_is_back(
    require_postgres, redis_server, member, program, association, staff_pg, tmp_path, caplog
):
    from tests.associations.test_registration import ASSO_ACCOUNT, PRESIDENT_ACCOUNT

    local = f.CaisseLocaleFactory(caisse_regionale=program.caisse_regionale, name="Auch")
    f.bank_association(
        program.caisse_regionale, local, account=ASSO_ACCOUNT, manager_account=PRESIDENT_ACCOUNT
    )
    newcomer = f.BankCustomerFactory(
        caisse_regionale=program.caisse_regionale, account_number="98652706859"
    )
    second = f.AssociationFactory(caisse_regionale=program.caisse_regionale, name="Second Club")
    f.EnrollmentFactory(association=second, program=program)
    credit(member, program, 110)

    with site_on(redis_server):
        browser = Client()
        browser.force_login(member)  # the session is written to the database and to Redis
        assert browser.get(reverse("cagnotte:wallet")).status_code == 200
        pages = member_pages(association)

        redis_server.kill()

        # Every member page, still logged in: the session is read from the database.
        for url in pages:
            response = browser.get(url)
            assert response.status_code == 200, (url, response.status_code)
        # A gift, replayed: recorded once.
        data = {**fresh_form(browser, association), "amount": "40"}
        assert browser.post(give_url(association), data).status_code == 302
        assert browser.post(give_url(association), data).status_code == 302
        assert LedgerEntry.objects.filter(kind="gift").count() == 1
        assert Wallet.objects.get(member=member).balance == 70
        # The favourite, set then changed.
        favourite_url = reverse("associations:set_favourite")
        assert browser.post(favourite_url, {"association": association.pk}).status_code == 302
        assert browser.post(favourite_url, {"association": second.pk}).status_code == 302
        assert Favourite.objects.get(member=member).association == second

        # A member who was not logged in mistypes the code (the per-address limit cannot count
        # and says so in the log), then logs in.
        newcomer_browser = Client()
        wrong = login_with_code(newcomer_browser, code="000000", account=newcomer.account_number)
        assert wrong.status_code == 200
        response = login_with_code(newcomer_browser, account=newcomer.account_number)
        assert response.status_code == 302, response.content.decode()[:500]
        assert newcomer_browser.get(reverse("cagnotte:wallet")).status_code == 200
        # The lockout per identifier is in the database: it still locks after three wrong codes.
        intruder = Client()
        target = f.BankCustomerFactory(caisse_regionale=program.caisse_regionale)
        statuses = [
            login_with_code(intruder, code="000000", account=target.account_number).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 429, 429]

        # An association registers: its receipt email waits in the outbox.
        president = Client()
        assert post_auth(president, program.caisse_regionale).status_code == 302
        fill_all(president, program.caisse_regionale)
        response = president.post(reverse("associations:register_review"), {"declaration": "on"})
        assert response.status_code == 302
        registered = Association.objects.get(account_number=ASSO_ACCOUNT)
        assert registered.status == Association.Status.SUBMITTED
        # With the gift's receipt (queued by the gift that wrote the entry; its replay wrote
        # nothing and queues nothing).
        waiting = OutboxMessage.objects.filter(published_at__isnull=True)
        assert sorted(waiting.values_list("task", flat=True)) == [
            "accounts.tasks.send_gift_receipt",
            "associations.tasks.send_decision_email",
        ]
        assert all(m.attempts == 1 and m.last_error for m in waiting)

        # Staff work in the admin.
        staff = Client()
        staff.force_login(staff_pg)
        assert staff.get(reverse("admin:index")).status_code == 200
        assert staff.get(reverse("admin:associations_association_changelist")).status_code == 200

        health = browser.get("/sante/")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["cache"] == "degraded" and health.json()["broker"] == "degraded"
        assert health.json()["outbox"]["pending"] == 2

        # Redis comes back (empty, as after a restart); a worker starts and drains the outbox.
        redis_server.start()
        assert browser.get("/sante/").json()["status"] == "ok"
        log = tmp_path / "sent.jsonl"
        with celery_worker(
            redis_server, env={"EMAIL_BACKEND": BACKEND, "TEST_EMAIL_LOG": str(log)}
        ) as worker:
            # The worker drains the outbox as it starts: the broker is back.
            wait_for(lambda: sent(log) or worker.poll() is not None, timeout=90, what="email")
            # Draining again (beat would) publishes nothing more.
            assert outbox.drain() == 0
            wait_for(
                lambda: len(sent(log)) >= 2 or worker.poll() is not None, timeout=90, what="emails"
            )
        assert sorted(m["subject"] for m in sent(log)) == [
            "Tookets — nous avons bien reçu l’inscription de Association Sportive Gersoise",
            "Tookets — votre don de 40\u00a0K à Les Amis du Gers",
        ], worker.output
        assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
        assert EmailClaim.objects.count() == 1

    assert "per-address login limit not applied" in caplog.text
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_in_the_middle_of_a_task_sends_nothing_twice(
    require_postgres, redis_server, tmp_path
):
    """Emails are sent at most once (tookets.send_once): the claim was committed before the
    send, so the task delivered again after the kill finds it and does not send again (the
    message may have left before the kill). It was « done again » under outbox.once."""
    association = f.AssociationFactory(status=Association.Status.SUBMITTED, email="a@example.test")
    change = association.history.create(
        from_status=Association.Status.DRAFT,
        to_status=Association.Status.SUBMITTED,
        event=StatusChange.Event.SUBMITTED,
    )
    log, stall = tmp_path / "sent.jsonl", tmp_path / "stalled.pid"
    heartbeat = tmp_path / "worker.heartbeat"
    env = {
        "EMAIL_BACKEND": BACKEND,
        "TEST_EMAIL_LOG": str(log),
        "TEST_EMAIL_STALL_FILE": str(stall),
        "CELERY_HEARTBEAT_FILE": str(heartbeat),
    }
    broker = redis.Redis.from_url(redis_server.url(0))
    with site_on(redis_server), celery_worker(redis_server, env=env, pool="prefork") as worker:
        with transaction.atomic():
            outbox.enqueue("associations.tasks.send_decision_email", status_change_id=change.pk)
        # The pool process is now in the middle of sending: kill it without a word.
        pid = int(wait_for(lambda: stall.exists() and stall.read_text(), what="task start"))
        os.kill(pid, signal.SIGKILL)
        # Put back by the worker (reject on worker lost), run again, acknowledged.
        wait_for(
            lambda: broker.llen("celery") == 0 and broker.hlen("unacked") == 0,
            timeout=90,
            what="the task run again",
        )
    # The worker stopped cleanly (a warm shutdown puts back what it had not finished): nothing
    # is left in the queue or waiting for an acknowledgement, so nothing will run it again.
    assert broker.llen("celery") == 0 and broker.hlen("unacked") == 0
    assert sent(log) == [], worker.output
    assert "WorkerLostError" in worker.output
    assert "died while sending it; not sent again" in worker.output  # the second run
    assert heartbeat.exists()  # what docker compose's healthcheck reads
    claim = EmailClaim.objects.get(key=f"associations.decision-email:{change.pk}")
    assert claim.status == EmailClaim.Status.CLAIMED  # « interrompu », for someone to look at


def _terminate_site_connections() -> int:
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [s["NAME"]],
        ).fetchall()
    return len(rows)


def _serve(handler, path):
    """One request through Django's WSGI handler, as gunicorn sends it (with the
    request_started/finished signals that recycle connections, which the test client skips)."""
    environ = RequestFactory().get(path).environ
    statuses = []
    body = b"".join(
        handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    )
    return int(statuses[0].split()[0]), body


@pytest.mark.parametrize("mode", ["persistent", "pool"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_dropped_database_connections_are_replaced_on_the_next_request(require_postgres, mode):
    settings_dict = connection.settings_dict
    saved = (settings_dict.get("CONN_MAX_AGE"), dict(settings_dict.get("OPTIONS", {})))
    connection.close()
    if mode == "pool":
        settings_dict["CONN_MAX_AGE"] = 0
        settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 2}
    else:
        settings_dict["CONN_MAX_AGE"] = 60
    assert settings_dict["CONN_HEALTH_CHECKS"]
    handler = WSGIHandler()
    # The login page lists the regional banks: it reads the database.
    login = reverse("accounts:login")
    try:
        assert _serve(handler, login)[0] == 200
        assert _terminate_site_connections() >= 1
        status, body = _serve(handler, login)
        assert status == 200, body[:300]
        assert _terminate_site_connections() >= 1
        assert _serve(handler, "/sante/")[0] == 200
    finally:
        connection.close()
        if mode == "pool":
            connection.close_pool()
        settings_dict["CONN_MAX_AGE"], settings_dict["OPTIONS"] = saved
