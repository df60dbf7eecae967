"""The sweep under real concurrency on PostgreSQL: two runs at once, and a run killed -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from cagnotte import sweep
from cagnotte.models import Favourite, LedgerEntry, SweepRun, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tests.cagnotte.test_concurrency import run_in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_program(require_postgres, pg_caisse):
    year = timezone.localdate().year - 1
    program = f.ProgramFactory(caisse_regionale=pg_caisse, year=year, code="closed-program")
    fav = f.AssociationFactory(caisse_regionale=pg_caisse)
    f.EnrollmentFactory(association=fav, program=program)
    members = f.MemberFactory.create_batch(60, caisse_regionale=pg_caisse)
    for i, m in enumerate(members):
        credit(m, program, 5 + i, period=f"{year}-04")
        if i % 3:
            Favourite.objects.create(member=m, association=fav)
    return program


def assert_each_wallet_moved_once(program):
    assert not Wallet.objects.filter(program=program, balance__gt=0).exists()
    per_wallet = (
        LedgerEntry.objects.filter(wallet__program=program, kind__in=["sweep", "return"])
        .values("wallet_id")
        .annotate(n=Count("pk"))
    )
    assert len(per_wallet) == 60
    assert {row["n"] for row in per_wallet} == {1}
    assert_ledger_consistent()


def test_a_second_run_is_told_the_program_is_being_swept(closed_program):
    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    )
    try:
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)", [sweep.SWEEP_LOCK_NAMESPACE, closed_program.pk]
        )
        with pytest.raises(sweep.SweepBusy, match="déjà en cours"):
            sweep.sweep_program(program=closed_program)
        assert not LedgerEntry.objects.filter(kind__in=["sweep", "return"]).exists()
    finally:
        # Released before the close returns: a closed session's locks are dropped by its
        # backend a moment later, which a run started at once could still meet.
        other.execute(
            "SELECT pg_advisory_unlock(%s, %s)", [sweep.SWEEP_LOCK_NAMESPACE, closed_program.pk]
        )
        other.close()
    assert sweep.sweep_program(program=closed_program).figures.wallets == 60


def test_two_runs_at_once_move_each_balance_once(closed_program):
    def run(i):
        return sweep.sweep_program(program=closed_program, batch_size=7, pause=0.05)

    outcomes = run_in_threads(2, run)
    busy = [o for o in outcomes if isinstance(o, sweep.SweepBusy)]
    done = [o for o in outcomes if isinstance(o, sweep.SweepOutcome)]
    assert len(busy) + len(done) == 2, outcomes
    assert sum(o.figures.wallets for o in done) == 60
    assert_each_wallet_moved_once(closed_program)


def test_killed_half_way_then_rerun_finishes_with_nothing_doubled(closed_program):
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{settings.DATABASES['default']['USER']}@"
            f"{settings.DATABASES['default']['HOST']}:{settings.DATABASES['default']['PORT']}/"
            f"{connection.settings_dict['NAME']}"
        ),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "sweep_campaign",
            "--program",
            closed_program.code,
            "--batch-size",
            "5",
            "--pause",
            "0.5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = LedgerEntry.objects.filter(kind__in=["sweep", "return"]).count()
            if done >= 10 or process.poll() is not None:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, process.stderr.read()
    half = LedgerEntry.objects.filter(kind__in=["sweep", "return"]).count()
    assert 10 <= half < 60, half
    assert Wallet.objects.filter(program=closed_program, balance__gt=0).count() == 60 - half
    closed_program.refresh_from_db()
    assert closed_program.swept_at is None
    assert SweepRun.objects.get().finished_at is None  # the killed run says it did not finish

    # The killed session's lock went with it: the rerun takes it and finishes the job.
    outcome = sweep.sweep_program(program=closed_program, batch_size=5)
    assert outcome.figures.wallets == 60 - half
    assert outcome.swept
    assert_each_wallet_moved_once(closed_program)


def test_a_wallet_credited_while_its_batch_is_written_is_swept_whole(closed_program):
    """The fast statement reads a batch without locking it; a wallet credited between that read
    and its update (the update waits for the credit's lock, then sees a new balance) makes the
    batch roll back and go again through the safe statement, which moves the new balance."""
    wallet = Wallet.objects.filter(program=closed_program).order_by("pk")[3]
    db = connection.settings_dict
    other = psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    try:
        other.execute("UPDATE cagnotte_wallet SET balance = balance + 7 WHERE id = %s", [wallet.pk])
        other.execute(
            "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, memo,"
            " created_at, year) VALUES (%s, 'credit', 7, 'late-credit', '', '', now(), %s)",
            [wallet.pk, closed_program.year],
        )

        def run(i):
            return sweep.sweep_program(program=closed_program)

        def commit_once_the_sweep_waits():
            # Another session watches (a transaction sees one snapshot of pg_stat_activity).
            with psycopg.connect(
                dbname=db["NAME"],
                user=db["USER"],
                host=db["HOST"],
                port=db["PORT"],
                autocommit=True,
            ) as watcher:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE %s",
                        [sweep.FAST_LABEL + "%"],
                    ).fetchone()[0]
                    if waiting:
                        break
                    time.sleep(0.05)
            other.commit()
            return waiting

        outcomes = run_in_threads(2, lambda i: run(i) if i == 0 else commit_once_the_sweep_waits())
    finally:
        other.close()
    outcome, waited = outcomes
    assert waited == 1, outcomes
    assert isinstance(outcome, sweep.SweepOutcome), outcome
    assert outcome.swept and outcome.figures.wallets == 60
    moved = LedgerEntry.objects.get(wallet=wallet, kind__in=["sweep", "return"])
    assert moved.amount == -(5 + 3 + 7)  # its credit (5 + its rank), then the late 7
    assert_each_wallet_moved_once(closed_program)
