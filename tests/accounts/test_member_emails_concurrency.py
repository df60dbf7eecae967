"""Two sending runs at once send each email once: real concurrent runs on PostgreSQL."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, connections

from accounts import emails
from accounts.models import MemberEmail
from tests import factories as f
from tests.cagnotte.helpers import credit

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PERIOD = "2026-05"
MEMBERS = 60


class SlowBackend(EmailBackend):
    """locmem, but each message takes a little while, so two runs overlap for sure."""

    def send_messages(self, messages):
        time.sleep(0.005 * len(messages))
        return super().send_messages(messages)


@pytest.fixture
def many_members(require_postgres, pg_caisse, program):
    members = [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(MEMBERS)]
    for m in members:
        credit(m, program, 10, period=PERIOD)
    return members


def test_two_runs_in_threads_send_each_recap_once(many_members, settings):
    settings.EMAIL_BACKEND = "tests.accounts.test_member_emails_concurrency.SlowBackend"
    mail.outbox = []
    barrier = threading.Barrier(2)
    reports = [None, None]

    def run(i):
        try:
            barrier.wait(timeout=30)
            reports[i] = emails.send_recap_emails(period=PERIOD, batch_size=7)
        except Exception as exc:  # noqa: BLE001 - the test looks at both outcomes
            reports[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert all(isinstance(r, emails.SendReport) for r in reports), reports
    assert reports[0].sent + reports[1].sent == MEMBERS
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == MEMBERS
    assert sorted(recipients) == sorted(m.email for m in many_members)
    assert MemberEmail.objects.filter(period=PERIOD, status="sent").count() == MEMBERS


def test_two_commands_at_once_send_each_recap_once(many_members, tmp_path):
    """Two ``manage.py send_recap_emails`` processes started together on the same database."""
    outboxes = [tmp_path / "run-a", tmp_path / "run-b"]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    }
    manage = Path(django_settings.BASE_DIR) / "manage.py"
    procs = []
    for outbox in outboxes:
        outbox.mkdir()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(manage),
                    "send_recap_emails",
                    "--period",
                    PERIOD,
                    "--batch-size",
                    "5",
                ],
                env={**env, "EMAIL_FILE_PATH": str(outbox)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    sent = []
    for outbox in outboxes:
        for path in outbox.iterdir():
            for line in path.read_text().splitlines():
                if line.startswith("To: "):
                    sent.append(line[4:])
    assert len(sent) == MEMBERS, outputs
    assert sorted(sent) == sorted(m.email for m in many_members)
    assert MemberEmail.objects.filter(period=PERIOD, status="sent").count() == MEMBERS


def _database_url() -> str:
    s = connection.settings_dict
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or "5432"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"
