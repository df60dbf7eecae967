"""Property-based: random offers and random sequences of gifts, the matching rules hold.

Whatever the offers (ratio, caps, budget) and the gifts (who, to whom, how much): the sum
matched never exceeds an offer's budget and equals what it spent, no match exceeds its ratio
or a cap, every match points at one gift and a gift is matched at most once, and
``check_ledger`` passes.
"""

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cagnotte.models import LedgerEntry, MatchingOffer
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit

caps = st.none() | st.integers(min_value=1, max_value=300)
offers = st.lists(
    st.fixed_dictionaries(
        {
            "ratio_matched": st.integers(min_value=1, max_value=3),
            "ratio_given": st.integers(min_value=1, max_value=3),
            "cap_per_gift": caps,
            "cap_per_member": caps,
            "cap_per_association": caps,
            "budget": st.integers(min_value=1, max_value=600),
        }
    ),
    min_size=1,
    max_size=3,
)
gifts = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # which member
        st.integers(min_value=0, max_value=1),  # which association
        st.integers(min_value=1, max_value=200),  # how much
    ),
    min_size=1,
    max_size=15,
)


class _Rollback(Exception):
    pass


@pytest.fixture
def cast(program, association):
    members = f.MemberFactory.create_batch(3, caisse_regionale=program.caisse_regionale)
    other = f.AssociationFactory(caisse_regionale=program.caisse_regionale)
    f.EnrollmentFactory(association=other, program=program)
    return members, [association, other]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(offers=offers, gifts=gifts)
def test_matching_never_breaks_its_rules(program, cast, offers, gifts):
    members, associations = cast
    try:
        with transaction.atomic():
            _run(program, members, associations, offers, gifts)
            raise _Rollback
    except _Rollback:
        pass


def _run(program, members, associations, offers, gifts):
    made = [
        MatchingOffer.objects.create(
            program=program,
            name=f"Offre {i}",
            starts_on=program.opens_on,
            ends_on=program.closes_on,
            **terms,
        )
        for i, terms in enumerate(offers)
    ]
    for m in members:
        credit(m, program, 10_000)
    results = []
    for n, (who, to, amount) in enumerate(gifts):
        gift = give_tookets(
            member=members[who],
            program=program,
            association_id=associations[to].pk,
            amount=amount,
            token=f"prop-{n}",
        )
        results.append(gift)
        match = gift.matching
        assert match is not None  # every offer takes every association here
        assert 0 <= match.amount <= match.full
    by_offer = {o.pk: o for o in made}
    entries = list(LedgerEntry.objects.filter(kind="matching").select_related("matches__wallet"))
    assert len({e.matches_id for e in entries}) == len(entries)  # a gift matched once
    for offer in made:
        offer.refresh_from_db()
        spent = -(
            LedgerEntry.objects.filter(kind="matching", offer=offer).aggregate(s=Sum("amount"))["s"]
            or 0
        )
        assert spent == offer.spent <= offer.budget
    per_member, per_association = {}, {}
    for e in entries:
        offer, gift = by_offer[e.offer_id], e.matches
        matched = -e.amount
        assert gift.kind == "gift" and gift.association_id == e.association_id
        assert matched * offer.ratio_given <= -gift.amount * offer.ratio_matched
        assert offer.cap_per_gift is None or matched <= offer.cap_per_gift
        key_m = (offer.pk, gift.wallet.member_id)
        key_a = (offer.pk, e.association_id)
        per_member[key_m] = per_member.get(key_m, 0) + matched
        per_association[key_a] = per_association.get(key_a, 0) + matched
    for (offer_id, _), total in per_member.items():
        cap = by_offer[offer_id].cap_per_member
        assert cap is None or total <= cap
    for (offer_id, _), total in per_association.items():
        cap = by_offer[offer_id].cap_per_association
        assert cap is None or total <= cap
    # What each gift was told is what the ledger holds.
    told = {g.pk: g.matching.amount for g in results}
    held = {e.matches_id: -e.amount for e in entries}
    assert {pk: amount for pk, amount in told.items() if amount} == held
    assert_ledger_consistent()
