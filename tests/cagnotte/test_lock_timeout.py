"""A gift waits a bounded time for a wallet that another transaction (an import) holds.

Real concurrent transactions on PostgreSQL: a thread holds the wallet's row lock, as a credit
import does until it commits, while the member gives.
"""

import re
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from cagnotte.ledger import WalletBusy, locked_wallets
from cagnotte.models import LedgerEntry, Wallet
from cagnotte.services import give_tookets
from tests.cagnotte.helpers import assert_ledger_consistent, credit

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BUSY = "Votre cagnotte est en cours de mise à jour, réessayez dans un instant"


class WalletLockHolder:
    """Holds the wallet's row lock in its own connection until ``release()``."""

    def __init__(self, wallet_id):
        self.wallet_id = wallet_id
        self.locked = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with transaction.atomic():
                Wallet.objects.select_for_update().get(pk=self.wallet_id)
                self.locked.set()
                self.done.wait(timeout=60)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(timeout=30)
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


@pytest.fixture
def wallet(require_postgres, member, program, association):
    credit(member, program, 100)
    return Wallet.objects.get(member=member, program=program)


def test_a_gift_on_a_locked_wallet_gives_up_and_gives_nothing(
    settings, member, wallet, association
):
    settings.GIFT_LOCK_TIMEOUT = 0.2
    with WalletLockHolder(wallet.pk), pytest.raises(WalletBusy):
        give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=40, token="t1"
        )
    wallet.refresh_from_db()
    assert wallet.balance == 100
    assert not LedgerEntry.objects.filter(kind="gift").exists()
    # Once the lock is released, the same gift goes through.
    entry = give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=40, token="t1"
    )
    assert entry.amount == -40
    assert_ledger_consistent()


def _lock_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        return cursor.fetchone()[0]


def test_the_timeout_holds_inside_the_block_and_is_put_back_for_the_caller(wallet):
    with transaction.atomic():
        before = _lock_timeout()
        with locked_wallets(Wallet.objects.filter(pk=wallet.pk), wait=1.5) as locked:
            inside = _lock_timeout()
        after = _lock_timeout()
    assert [w.pk for w in locked] == [wallet.pk]
    assert (inside, after) == ("1500ms", before)


def test_a_batch_job_waits_without_limit(wallet):
    with transaction.atomic():
        before = _lock_timeout()
        with locked_wallets(Wallet.objects.filter(pk=wallet.pk), wait=None):
            inside = _lock_timeout()
    assert inside == before == "0"


def test_wallets_are_locked_in_id_order_whatever_the_order_asked(
    require_postgres, member, program, pg_caisse
):
    from django.test.utils import CaptureQueriesContext

    from tests import factories as f

    others = [f.ProgramFactory(caisse_regionale=pg_caisse, name=f"Programme {i}") for i in (1, 2)]
    for p in [program, *others]:
        credit(member, p, 10)
    ids = sorted(Wallet.objects.filter(member=member).values_list("pk", flat=True))
    asked = Wallet.objects.filter(pk__in=ids).order_by("-pk")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with locked_wallets(asked, wait=1) as locked:
            pass
    assert [w.pk for w in locked] == ids
    (statement,) = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert 'ORDER BY "cagnotte_wallet"."id" ASC' in statement
    # In the database only (a credit import): the same order, the rows kept in a table.
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with locked_wallets(asked.values("id", "balance"), wait=None, into="t_locked"):
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM t_locked ORDER BY id")
                kept = [row[0] for row in cursor.fetchall()]
    assert kept == ids
    (statement,) = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert statement.startswith("CREATE TEMP TABLE t_locked ON COMMIT DROP AS SELECT")
    assert 'ORDER BY "cagnotte_wallet"."id" ASC FOR UPDATE' in statement


def test_a_lock_held_longer_than_the_wait_raises_wallet_busy(wallet):
    started = time.monotonic()
    with WalletLockHolder(wallet.pk), pytest.raises(WalletBusy):
        with transaction.atomic():
            with locked_wallets(Wallet.objects.filter(pk=wallet.pk), wait=0.2):
                pytest.fail("the lock was taken while another transaction held it")
    assert time.monotonic() - started < 5
    # The connection is usable again: the aborted transaction was rolled back.
    with transaction.atomic():
        with locked_wallets(Wallet.objects.filter(pk=wallet.pk), wait=0.2) as locked:
            assert [w.pk for w in locked] == [wallet.pk]


def test_the_member_is_told_to_retry(settings, client, member, wallet, association):
    settings.GIFT_LOCK_TIMEOUT = 0.2
    client.force_login(member)
    url = reverse("cagnotte:give", args=[association.pk])
    html = client.get(url).content.decode()
    data = {
        "token": re.search(r'name="token" value="([^"]+)"', html).group(1),
        "wallet": str(wallet.pk),
        "amount": "40",
    }
    with WalletLockHolder(wallet.pk):
        response = client.post(url, data)
    assert response.status_code == 200
    assert BUSY in response.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance == 100
    assert not LedgerEntry.objects.filter(kind="gift").exists()
