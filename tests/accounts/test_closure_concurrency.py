"""Two closures of one account at once (two tabs, a double submit): real transactions on PG."""

import pytest

from accounts import services
from accounts.models import User
from cagnotte.models import LedgerEntry, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tests.cagnotte.test_concurrency import run_in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_two_closures_at_once_close_once_and_settle_once(
    require_postgres, member, program, pg_caisse
):
    credit(member, program, 300)
    second_program = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme")
    credit(member, second_program, 50)
    wallets = list(Wallet.objects.filter(member=member).order_by("pk"))

    def close(_i):
        return services.close_account(
            member=member, choices={w.pk: services.TO_BANK for w in wallets}
        )

    outcomes = run_in_threads(2, close)

    closed = [o for o in outcomes if isinstance(o, services.ClosureResult)]
    refused = [o for o in outcomes if isinstance(o, services.AccountClosed)]
    assert (len(closed), len(refused)) == (1, 1), outcomes
    assert LedgerEntry.objects.filter(kind="return").count() == 2
    assert sorted(Wallet.objects.values_list("balance", flat=True)) == [0, 0]
    assert User.objects.get(pk=member.pk).closed_at is not None
    assert_ledger_consistent()


def test_closure_racing_a_gift_never_overdraws(require_postgres, member, program, association):
    """The gift and the closure lock the same wallet: whichever comes second sees the first."""
    from cagnotte.services import InsufficientBalance, NotEligible, give_tookets

    credit(member, program, 300)
    wallet = Wallet.objects.get(member=member)

    def act(i):
        if i == 0:
            return services.close_account(member=member, choices={})
        return give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=200,
            token="race",
        )

    outcomes = run_in_threads(2, act)
    assert isinstance(outcomes[0], services.ClosureResult), outcomes
    assert isinstance(outcomes[1], LedgerEntry | InsufficientBalance | NotEligible), outcomes
    wallet.refresh_from_db()
    assert wallet.balance == 0
    returned = -LedgerEntry.objects.get(kind="return").amount
    gifts = -sum(LedgerEntry.objects.filter(kind="gift").values_list("amount", flat=True))
    assert returned + gifts == 300
    assert_ledger_consistent()
