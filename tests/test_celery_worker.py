"""A real Celery worker, through Redis, imports a credit file into the test database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from cagnotte.models import Wallet
from tests.cagnotte.helpers import assert_ledger_consistent
from tests.conftest import missing_service

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/4"


def redis_is_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.celery
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_imports_a_credit_file(require_postgres, member, program, tmp_path):
    if not redis_is_up():
        missing_service(f"needs Redis at {BROKER_URL}")
    from cagnotte.tasks import import_credit_file
    from tookets.celery import app

    path = tmp_path / "credits.csv"
    path.write_text(
        "caisse_code,account_number,program_code,period,amount,reference\n"
        f"pyrenees-gascogne,{member.account_number},{program.code},2026-05,410,celery-1\n"
        f"pyrenees-gascogne,{member.account_number},{program.code},2026-06,90,celery-2\n"
    )
    # A queue of our own: nothing else on this Redis database takes our task, and our worker
    # takes nothing else.
    queue = f"tookets-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "tookets.settings",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tookets",
            "worker",
            "--pool=solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            queue,
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "task_default_queue")}
    try:
        app.conf.update(broker_url=BROKER_URL, task_always_eager=False, task_default_queue=queue)
        import_credit_file.delay(str(path))
        deadline = time.monotonic() + 90
        balance = None
        while time.monotonic() < deadline:
            balance = (
                Wallet.objects.filter(member=member, program=program)
                .values_list("balance", flat=True)
                .first()
            )
            if balance == 500 or worker.poll() is not None:
                break
            time.sleep(0.5)
        assert balance == 500, f"worker did not import in time (balance {balance})"
    finally:
        app.conf.update(saved)
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        # Our queue's bindings would otherwise stay in Redis after every run.
        import redis

        r = redis.Redis.from_url(BROKER_URL)
        r.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert "cagnotte.tasks.import_credit_file" in output
    assert_ledger_consistent()
