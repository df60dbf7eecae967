"""A gift waits a bounded time for a wallet that another transaction (an import) holds.

Real concurrent transactions on PostgreSQL: a thread holds the wallet's row lock, as a credit
import does until it commits, while the member gives.
"""

import re
import threading

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from cagnotte.models import LedgerEntry, Wallet
from cagnotte.services import WalletBusy, _waiting_at_most, give_tookets
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


def test_the_timeout_holds_inside_the_gift_and_is_put_back_for_the_caller(require_postgres):
    def lock_timeout():
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            return cursor.fetchone()[0]

    with transaction.atomic():
        before = lock_timeout()
        with _waiting_at_most(1.5):
            inside = lock_timeout()
        after = lock_timeout()
    assert (inside, after) == ("1500ms", before)


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
