"""Closing an account while a credit import holds one of its wallets (issue 18).

Real concurrent transactions on PostgreSQL: a thread holds the wallet's row lock, as a long
credit import does until it commits, while the member closes the account. The closure waits
``GIFT_LOCK_TIMEOUT`` at most, then the member reads « réessayez dans un instant »: no hang,
no error page, nothing half-applied.
"""

import time

import pytest

from accounts import services
from accounts.models import User
from cagnotte.ledger import WalletBusy
from cagnotte.models import LedgerEntry, Wallet
from tests import factories as f
from tests.accounts.test_closure import CONFIRM, close_through_pages
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tests.cagnotte.test_lock_timeout import BUSY, WalletLockHolder

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def two_wallets(require_postgres, jeanne_member, program, pg_caisse):
    """Two wallets with a balance: the closure settles the first before it meets the lock on
    the second, so a half-applied closure would show."""
    credit(jeanne_member, program, 300)
    other = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme")
    credit(jeanne_member, other, 50)
    return list(Wallet.objects.filter(member=jeanne_member).order_by("pk"))


def assert_nothing_changed(member, wallets):
    member = User.objects.get(pk=member.pk)
    assert member.closed_at is None and member.is_active
    assert member.display_name == "Jeanne Dupont"
    assert sorted(Wallet.objects.values_list("balance", flat=True)) == [50, 300]
    assert not LedgerEntry.objects.exclude(kind=LedgerEntry.Kind.CREDIT).exists()
    assert_ledger_consistent()


def test_closure_behind_an_import_gives_up_within_the_timeout(settings, jeanne_member, two_wallets):
    settings.GIFT_LOCK_TIMEOUT = 0.3
    started = time.monotonic()
    with WalletLockHolder(two_wallets[1].pk), pytest.raises(WalletBusy):
        services.close_account(
            member=jeanne_member, choices={w.pk: services.TO_BANK for w in two_wallets}
        )
    assert time.monotonic() - started < 5
    assert_nothing_changed(jeanne_member, two_wallets)
    # Once the import committed, the same closure goes through.
    services.close_account(
        member=jeanne_member, choices={w.pk: services.TO_BANK for w in two_wallets}
    )
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.RETURN).count() == 2
    assert_ledger_consistent()


def test_the_member_closing_is_told_to_retry(settings, jeanne_client, jeanne_member, two_wallets):
    settings.GIFT_LOCK_TIMEOUT = 0.3
    choices = {w.pk: services.TO_BANK for w in two_wallets}
    started = time.monotonic()
    with WalletLockHolder(two_wallets[1].pk):
        response = close_through_pages(jeanne_client, choices)
    assert time.monotonic() - started < 10
    assert response.status_code == 400
    assert BUSY in response.content.decode()
    assert_nothing_changed(jeanne_member, two_wallets)
    # Still logged in, on the same confirmation: confirming again closes the account.
    again = jeanne_client.post(CONFIRM, {"confirm": "yes"})
    assert again.status_code == 302
    assert User.objects.get(pk=jeanne_member.pk).closed_at is not None
