"""settle_wallet: a closed account's balance settled with the sweep's machinery."""

import pytest

from cagnotte.models import AssociationTotals, Favourite, LedgerEntry, Wallet
from cagnotte.services import NotEligible, settle_wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit


def test_to_the_favourite(member, program, association):
    Favourite.objects.create(member=member, association=association)
    wallet = credit(member, program, 90).wallet
    entry = settle_wallet(wallet=wallet, to_favourite=True, reason="clôture")
    assert (entry.kind, entry.amount, entry.association_id, entry.reference) == (
        "sweep",
        -90,
        association.pk,
        f"settle:{wallet.pk}",
    )
    assert Wallet.objects.get(pk=wallet.pk).balance == 0
    assert AssociationTotals.objects.get(association=association).received_total == 90
    # A replay returns the first entry and moves nothing.
    assert settle_wallet(wallet=wallet, to_favourite=True, reason="clôture") == entry
    assert LedgerEntry.objects.filter(kind="sweep").count() == 1
    assert_ledger_consistent()


def test_favourite_that_cannot_receive_is_refused(member, program, pg_caisse):
    not_enrolled = f.AssociationFactory(caisse_regionale=pg_caisse)
    Favourite.objects.create(member=member, association=not_enrolled)
    wallet = credit(member, program, 30).wallet
    with pytest.raises(NotEligible):
        settle_wallet(wallet=wallet, to_favourite=True, reason="clôture")
    assert Wallet.objects.get(pk=wallet.pk).balance == 30


def test_back_to_the_bank_and_zero_balance(member, program):
    wallet = credit(member, program, 30).wallet
    entry = settle_wallet(wallet=wallet, to_favourite=False, reason="clôture")
    assert (entry.kind, entry.amount, entry.association_id) == ("return", -30, None)
    empty = Wallet.objects.create(member=f.MemberFactory(), program=program)
    assert settle_wallet(wallet=empty, to_favourite=False, reason="clôture") is None
    assert_ledger_consistent()
