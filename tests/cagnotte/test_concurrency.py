"""Real concurrent transactions on PostgreSQL: each thread has its own connection."""

import threading

import pytest
from django.db import connection, connections

from cagnotte.figures import month_of
from cagnotte.imports import import_credits
from cagnotte.models import (
    AssociationMonthTotals,
    AssociationTotals,
    AssociationYearTotals,
    LedgerEntry,
    Wallet,
)
from cagnotte.services import InsufficientBalance, give_tookets
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _gifts_wait_for_each_other(settings):
    # These races check that gifts queue on the wallet lock and never overdraw: on a loaded
    # machine the fiftieth gift may wait longer than the production timeout, which
    # test_lock_timeout.py checks on its own.
    settings.GIFT_LOCK_TIMEOUT = 60


def run_in_threads(count, target):
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def worker(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def test_fifty_concurrent_gifts_never_overdraw(require_postgres, member, program, association):
    credit(member, program, 1000)
    wallet = Wallet.objects.get(member=member, program=program)

    def give(i):
        return give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=30,
            token=f"race-{i}",
        )

    outcomes = run_in_threads(50, give)
    gifts = [o for o in outcomes if isinstance(o, LedgerEntry)]
    refused = [o for o in outcomes if isinstance(o, InsufficientBalance)]
    assert len(gifts) == 33, outcomes
    assert len(refused) == 17, outcomes
    wallet.refresh_from_db()
    assert wallet.balance == 10
    assert LedgerEntry.objects.filter(wallet=wallet, kind="gift").count() == 33
    totals = AssociationTotals.objects.get(association=association)
    assert (totals.received_total, totals.supporters) == (990, 1)
    assert_ledger_consistent()


def test_twenty_members_giving_at_once_to_one_association_are_all_counted(
    require_postgres, pg_caisse, program, association
):
    # Different wallets: nothing serialises the gifts but the figures' own rows, which each
    # gift's upserts add to (totals, year, month) without losing one.
    members = [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(20)]
    for member in members:
        credit(member, program, 100)

    def give(i):
        return give_tookets(
            member=members[i],
            program=program,
            association_id=association.pk,
            amount=7,
            token=f"many-{i}",
        )

    outcomes = run_in_threads(20, give)
    assert all(isinstance(o, LedgerEntry) for o in outcomes), outcomes
    totals = AssociationTotals.objects.get(association=association)
    assert (totals.received_total, totals.supporters) == (140, 20)
    assert AssociationYearTotals.objects.get(association=association).received == 140
    month = month_of(outcomes[0].created_at)
    assert AssociationMonthTotals.objects.get(association=association, month=month).received == 140
    assert_ledger_consistent()


def test_the_same_token_posted_fifty_times_at_once_gives_once(
    require_postgres, member, program, association
):
    credit(member, program, 1000)
    wallet = Wallet.objects.get(member=member, program=program)

    def give(i):
        return give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=30,
            token="double-click",
        )

    outcomes = run_in_threads(20, give)
    assert all(isinstance(o, LedgerEntry) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1
    wallet.refresh_from_db()
    assert wallet.balance == 970
    assert_ledger_consistent()


def test_import_and_gifts_race_on_the_same_wallets(
    require_postgres, member, program, association, tmp_path
):
    from tests import factories as f

    others = [f.MemberFactory(caisse_regionale=member.caisse_regionale) for _ in range(5)]
    for m in [member, *others]:
        credit(m, program, 100)
    path = tmp_path / "credits.csv"
    rows = ["caisse_code,account_number,program_code,period,amount,reference"]
    for n in range(200):
        m = [member, *others][n % 6]
        rows.append(f"pyrenees-gascogne,{m.account_number},{program.code},2026-02,5,race-{n}")
    path.write_text("\n".join(rows) + "\n")
    wallet = Wallet.objects.get(member=member, program=program)

    def act(i):
        if i == 0:
            return import_credits(path=path)
        return give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=10,
            token=f"imp-{i}",
        )

    outcomes = run_in_threads(12, act)
    report = outcomes[0]
    assert report.applied == 200, report
    gifts = [o for o in outcomes[1:] if isinstance(o, LedgerEntry)]
    assert len(gifts) + sum(isinstance(o, InsufficientBalance) for o in outcomes[1:]) == 11
    wallet.refresh_from_db()
    # 100 + 34 credits of 5 (every sixth row is this member's), minus the gifts made.
    assert wallet.balance == 100 + 34 * 5 - 10 * len(gifts)
    assert connection.vendor == "postgresql"
    assert_ledger_consistent()


def test_a_wallet_created_while_the_import_creates_it_is_credited_once(
    require_postgres, member, program, tmp_path
):
    """The import's fast path creates the file's missing wallets with a COPY, after their
    entries. A wallet that another transaction creates meanwhile (here: inserted before the
    import starts, committed while the import waits on it in the unique index) makes that
    COPY fail: the import undoes its fast path and takes the general path, which locks that
    wallet like any wallet that existed, and credits it."""
    import time

    from django.db import transaction

    from tests import factories as f

    other = f.MemberFactory(caisse_regionale=member.caisse_regionale)
    path = tmp_path / "credits.csv"
    rows = ["caisse_code,account_number,program_code,period,amount,reference"]
    for n in range(40):
        m = (member, other)[n % 2]
        rows.append(f"pyrenees-gascogne,{m.account_number},{program.code},2026-02,5,late-{n}")
    path.write_text("\n".join(rows) + "\n")
    inserted, blocked = threading.Event(), threading.Event()
    outcome = {}

    def first_gift_creates_the_wallet():
        try:
            with transaction.atomic():
                Wallet.objects.create(member=member, program=program, balance=0)
                inserted.set()
                # Commit only once the import waits on this row's unique-index entry.
                outcome["import waited"] = blocked.wait(timeout=60)
        finally:
            connections.close_all()

    def import_waits():
        # The import's backend waiting on a transaction lock: the unique index's wait.
        with connections["default"].cursor() as cursor:
            for _ in range(600):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND wait_event = 'transactionid' AND query LIKE %s",
                    ["COPY cagnotte_wallet (%"],
                )
                if cursor.fetchone()[0]:
                    blocked.set()
                    return
                time.sleep(0.05)

    creator = threading.Thread(target=first_gift_creates_the_wallet)
    creator.start()
    assert inserted.wait(timeout=30)

    def watch():
        try:
            import_waits()
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    report = import_credits(path=path)
    creator.join(timeout=60)
    watcher.join(timeout=60)
    assert outcome["import waited"], "the import never waited on the other transaction's wallet"
    assert (report.applied, report.wallets_created, report.errors) == (40, 1, [])
    assert Wallet.objects.filter(member__in=[member, other], program=program).count() == 2
    assert Wallet.objects.get(member=member, program=program).balance == 20 * 5
    assert Wallet.objects.get(member=other, program=program).balance == 20 * 5
    assert_ledger_consistent()
