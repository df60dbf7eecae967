"""The last Tookets of a matching budget raced by real concurrent gifts on PostgreSQL."""

import pytest

from cagnotte.ledger import WalletBusy
from cagnotte.models import AssociationTotals, LedgerEntry, MatchingOffer
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tests.cagnotte.test_concurrency import run_in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _gifts_wait_for_each_other(settings):
    # Forty gifts queue on one offer's row: on a loaded machine the last may wait longer than
    # the production timeout (test_lock_timeout.py checks the timeout on its own).
    settings.GIFT_LOCK_TIMEOUT = 60


def test_forty_gifts_race_for_the_last_thousand_tookets(
    require_postgres, pg_caisse, program, association
):
    offer = MatchingOffer.objects.create(
        program=program,
        name="Dons doublés",
        starts_on=program.opens_on,
        ends_on=program.closes_on,
        budget=5_000,
    )
    # 4,000 K spent already: 1,000 K left.
    MatchingOffer.objects.filter(pk=offer.pk).update(spent=4_000)
    members = f.MemberFactory.create_batch(40, caisse_regionale=pg_caisse)
    for m in members:
        credit(m, program, 100)

    def give(i):
        return give_tookets(
            member=members[i],
            program=program,
            association_id=association.pk,
            amount=60,
            token=f"race-{i}",
        )

    outcomes = run_in_threads(40, give)
    assert not [o for o in outcomes if isinstance(o, (Exception, WalletBusy))], outcomes
    matched = [o.matching.amount for o in outcomes]
    # 16 gifts matched in full (960 K), one cut to the last 40 K, 23 told the budget is spent.
    assert sum(matched) == 1_000
    assert sorted(matched, reverse=True)[:17] == [60] * 16 + [40]
    # Every loser is told: matched partly, or not at all because the budget is spent.
    assert all(o.matching.cut for o in outcomes if o.matching.amount < 60)
    assert sum(1 for o in outcomes if o.matching.amount == 0) == 23
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched) == (5_000, 17)
    entries = LedgerEntry.objects.filter(kind="matching")
    assert entries.count() == 17
    assert -sum(e.amount for e in entries) == 1_000
    totals = AssociationTotals.objects.get(association=association)
    assert (totals.received_total, totals.matched_total) == (40 * 60 + 1_000, 1_000)
    # The 4,000 K set aside by hand have no entries: check_ledger says so, and only that.
    MatchingOffer.objects.filter(pk=offer.pk).update(spent=1_000)
    assert_ledger_consistent()
