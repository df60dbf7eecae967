"""Matching gifts (« abondement »): ratio, caps, window, qualifying rules, several offers,
replay, closed offers and accounts, the sweep not matched, the database's refusals,
``check_ledger`` and the payout statement."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from schwifty import IBAN

from associations.models import Activity, Domain
from cagnotte import payouts, sweep
from cagnotte.ledger import BudgetSpent, post_entry
from cagnotte.ledger_checks import check_ledger
from cagnotte.matching import CUT_ASSOCIATION, CUT_BUDGET, CUT_GIFT, CUT_MEMBER
from cagnotte.models import (
    AssociationTotals,
    AssociationYearTotals,
    Favourite,
    LedgerEntry,
    MatchingOffer,
    PayoutStatement,
)
from cagnotte.services import give_tookets, settle_wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit

_tokens = iter(range(10**9))


def make_offer(program, **fields):
    values = {
        "name": "Dons doublés",
        "ratio_matched": 1,
        "ratio_given": 1,
        "starts_on": program.opens_on,
        "ends_on": program.closes_on,
        "budget": 10_000,
        **fields,
    }
    return MatchingOffer.objects.create(program=program, **values)


def give(member, association, amount, *, program, token=None):
    return give_tookets(
        member=member,
        program=program,
        association_id=association.pk,
        amount=amount,
        token=token or f"t-{next(_tokens)}",
    )


def matching_entries(**filters):
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.MATCHING, **filters)


@pytest.fixture
def funded(member, program):
    credit(member, program, 10_000)
    return member


def test_a_gift_is_doubled_in_its_transaction_and_counted(funded, program, association):
    offer = make_offer(program, budget=1000)
    gift = give(funded, association, 100, program=program)
    assert gift.matching.amount == 100 and not gift.matching.cut
    (entry,) = matching_entries()
    assert (entry.amount, entry.wallet_id, entry.offer_id, entry.matches_id) == (
        -100,
        None,
        offer.pk,
        gift.pk,
    )
    assert entry.association_id == association.pk
    assert entry.reference == f"match:{gift.pk}"
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched, offer.remaining) == (100, 1, 900)
    totals = AssociationTotals.objects.get(association=association)
    assert (totals.received_total, totals.matched_total, totals.supporters) == (200, 100, 1)
    year = AssociationYearTotals.objects.get(association=association, year=program.year)
    assert (year.received, year.matched) == (200, 100)
    assert_ledger_consistent()


def test_the_ratio_is_whole_tookets_rounded_down(funded, program, association):
    make_offer(program, ratio_matched=1, ratio_given=2)
    assert give(funded, association, 101, program=program).matching.amount == 50
    make_offer(program, name="Triplés", ratio_matched=3, ratio_given=1, budget=100_000)
    # Both offers take the gift: the most generous wins, never both.
    gift = give(funded, association, 7, program=program)
    assert gift.matching.amount == 21 and gift.matching.offer_name == "Triplés"
    assert matching_entries(matches=gift).count() == 1
    assert_ledger_consistent()


def test_cap_per_gift_cuts_and_says_so(funded, program, association):
    make_offer(program, cap_per_gift=30)
    match = give(funded, association, 100, program=program).matching
    assert (match.amount, match.full, match.cut, match.cut_by) == (30, 100, True, (CUT_GIFT,))
    assert_ledger_consistent()


def test_cap_per_member_over_the_offer(funded, program, association):
    make_offer(program, cap_per_member=150)
    other = f.AssociationFactory(caisse_regionale=program.caisse_regionale)
    f.EnrollmentFactory(association=other, program=program)
    assert give(funded, association, 100, program=program).matching.amount == 100
    second = give(funded, other, 100, program=program).matching
    assert (second.amount, second.cut_by) == (50, (CUT_MEMBER,))
    third = give(funded, association, 100, program=program)
    assert third.matching.amount == 0 and third.matching.cut
    assert not matching_entries(matches=third).exists()
    # Another member has their own cap.
    someone = f.MemberFactory(caisse_regionale=program.caisse_regionale)
    credit(someone, program, 500)
    assert give(someone, association, 100, program=program).matching.amount == 100
    assert_ledger_consistent()


def test_cap_per_association_over_the_offer(funded, program, association):
    make_offer(program, cap_per_association=120)
    someone = f.MemberFactory(caisse_regionale=program.caisse_regionale)
    credit(someone, program, 500)
    assert give(funded, association, 100, program=program).matching.amount == 100
    match = give(someone, association, 100, program=program).matching
    assert (match.amount, match.cut_by) == (20, (CUT_ASSOCIATION,))
    assert_ledger_consistent()


def test_the_budget_is_never_overrun(funded, program, association):
    offer = make_offer(program, budget=150)
    assert give(funded, association, 100, program=program).matching.amount == 100
    match = give(funded, association, 100, program=program).matching
    assert (match.amount, match.cut_by) == (50, (CUT_BUDGET,))
    offer.refresh_from_db()
    assert offer.spent == offer.budget == 150
    # Spent: the offer is no longer in effect (no badge), and the next gift is told so.
    assert not MatchingOffer.objects.in_effect_on().exists()
    match = give(funded, association, 100, program=program).matching
    assert (match.amount, match.cut_by) == (0, (CUT_BUDGET,))
    assert matching_entries().count() == 2
    assert_ledger_consistent()


def test_window_and_early_close(funded, program, association):
    today = timezone.localdate()
    make_offer(program, starts_on=today + datetime.timedelta(days=1), ends_on=program.closes_on)
    make_offer(program, starts_on=program.opens_on, ends_on=today - datetime.timedelta(days=1))
    assert give(funded, association, 10, program=program).matching is None
    closed = make_offer(program, closed_at=timezone.now())
    assert give(funded, association, 10, program=program).matching is None
    closed.refresh_from_db()
    assert closed.spent == 0 and not matching_entries().exists()


def test_qualifying_rules(funded, program, association):
    sport = Domain.objects.get(code="sport-loisirs")
    culture = Activity.objects.get(code="culture")
    association.domain = Domain.objects.get(code="nature")
    association.save()
    by_domain = make_offer(program, name="Sport")
    by_domain.domains.add(sport)
    assert give(funded, association, 10, program=program).matching is None
    association.domain = sport
    association.activity = Activity.objects.get(code="sport")
    association.save()
    assert give(funded, association, 10, program=program).matching.offer_name == "Sport"
    # Lists filled must all take the association: a domain and an activity.
    by_domain.activities.add(culture)
    assert give(funded, association, 10, program=program).matching is None
    by_domain.activities.clear()
    by_domain.caisses_locales.add(f.CaisseLocaleFactory(caisse_regionale=program.caisse_regionale))
    assert give(funded, association, 10, program=program).matching is None
    by_domain.caisses_locales.add(association.caisse_locale)
    assert give(funded, association, 10, program=program).matching is not None
    chosen = make_offer(program, name="Choisies", ratio_matched=5, budget=100_000)
    chosen.associations.add(f.AssociationFactory(caisse_regionale=program.caisse_regionale))
    assert give(funded, association, 10, program=program).matching.offer_name == "Sport"
    chosen.associations.add(association)
    assert give(funded, association, 10, program=program).matching.offer_name == "Choisies"
    assert_ledger_consistent()


def test_an_offer_of_another_program_does_not_match(funded, program, association):
    other_program = f.ProgramFactory(
        caisse_regionale=program.caisse_regionale, code="autre", name="Autre programme"
    )
    make_offer(other_program)
    assert give(funded, association, 10, program=program).matching is None


def test_a_replayed_gift_is_matched_once(funded, program, association):
    offer = make_offer(program)
    first = give(funded, association, 100, program=program, token="once")
    again = give(funded, association, 100, program=program, token="once")
    assert again.pk == first.pk
    assert again.matching.amount == 100
    assert matching_entries().count() == 1
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched) == (100, 1)


def test_a_closed_account_keeps_its_matched_gifts(funded, program, association):
    make_offer(program)
    give(funded, association, 100, program=program)
    wallet = funded.wallets.get(program=program)
    settle_wallet(wallet=wallet, to_favourite=False, reason="Clôture du compte")
    # The settling of a closed account is not a gift: not matched; the earlier match stays.
    assert matching_entries().count() == 1
    assert_ledger_consistent()


def test_the_writer_moves_the_budget_first_and_writes_nothing_beyond_it(
    funded, program, association
):
    gift = give(funded, association, 200, program=program)  # no offer yet: not matched
    gift = LedgerEntry.objects.select_related("wallet__program").get(pk=gift.pk)
    offer = make_offer(program, budget=100)
    version = offer.version

    def match(amount):
        return post_entry(
            wallet=None,
            kind=LedgerEntry.Kind.MATCHING,
            amount=-amount,
            reference=f"match:{gift.pk}",
            association_id=association.pk,
            offer=offer,
            matches=gift,
        )

    with transaction.atomic():
        with pytest.raises(BudgetSpent):
            match(101)
        # Nothing was written, and the gift's transaction goes on.
        assert not matching_entries().exists()
        offer.refresh_from_db()
        assert (offer.spent, offer.gifts_matched) == (0, 0)
        entry, created = match(100)
    assert created and entry.pk is not None and not entry._state.adding
    saved = matching_entries().get()
    assert (saved.pk, saved.amount, saved.offer_id, saved.matches_id, saved.year) == (
        entry.pk,
        -100,
        offer.pk,
        gift.pk,
        gift.year,
    )
    assert saved.created_at == entry.created_at
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched, offer.version) == (100, 1, version + 1)
    totals = AssociationTotals.objects.get(association=association)
    assert (totals.received_total, totals.matched_total) == (300, 100)
    assert_ledger_consistent()
    # A second match of the same gift is refused by the database, and fails its transaction.
    offer.budget = 1000
    offer.save(update_fields=["budget"])
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            match(10)
        # Even caught, the refusal undoes the block (SQLite would otherwise keep the budget
        # moved: it does not fail the transaction as PostgreSQL does).
        assert transaction.get_rollback()
    assert matching_entries().count() == 1
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched) == (100, 1)


def test_the_database_refuses_an_overrun_and_a_matching_entry_without_its_gift(
    funded, program, association
):
    offer = make_offer(program, budget=100)
    gift = give(funded, association, 10, program=program)
    with pytest.raises(IntegrityError), transaction.atomic():
        MatchingOffer.objects.filter(pk=offer.pk).update(spent=101)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            kind="matching",
            amount=-5,
            reference="m-x",
            association=association,
            offer=offer,
            year=gift.year,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        # A second match of the same gift.
        LedgerEntry.objects.create(
            kind="matching",
            amount=-5,
            reference="m-y",
            association=association,
            offer=offer,
            matches=gift,
            year=gift.year,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        # A gift has a wallet, never an offer.
        LedgerEntry.objects.create(
            kind="gift",
            amount=-5,
            reference="g-z",
            association=association,
            offer=offer,
            wallet=gift.wallet,
            year=gift.year,
        )


def test_check_ledger_finds_a_spent_budget_that_differs_and_matches_beyond_the_rules(
    funded, program, association
):
    offer = make_offer(program, cap_per_gift=50)
    gift = give(funded, association, 100, program=program)
    assert check_ledger().ok
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cagnotte_matchingoffer SET spent = spent + 1 WHERE id = %s", [offer.pk]
        )
    assert any(f"offre d’abondement {offer.pk}" in p for p in check_ledger().matching)
    MatchingOffer.objects.filter(pk=offer.pk).update(spent=50)
    assert check_ledger().ok
    # A matching entry pointing at a credit, not at a gift.
    credit_entry = LedgerEntry.objects.filter(kind="credit").first()
    LedgerEntry.objects.create(
        kind="matching",
        amount=-1,
        reference="bad-1",
        association=association,
        offer=offer,
        matches=credit_entry,
        year=credit_entry.year,
    )
    problems = check_ledger().matching
    assert any("bad-1" in p and "aucun don" in p for p in problems), problems
    assert gift.matching.amount == 50


def test_check_ledger_finds_a_match_beyond_its_ratio_and_a_member_cap(funded, program, association):
    offer = make_offer(program, cap_per_member=10)
    gift = give(funded, association, 8, program=program)
    other = give(funded, association, 8, program=program)  # cut to 2 by the member cap
    assert other.matching.amount == 2
    assert check_ledger().ok
    third = give(funded, association, 8, program=program)
    assert third.matching.amount == 0
    with transaction.atomic():
        LedgerEntry.objects.create(
            kind="matching",
            amount=-9,
            reference="beyond",
            association=association,
            offer=offer,
            matches=third,
            year=third.year,
        )
        MatchingOffer.objects.filter(pk=offer.pk).update(spent=19, gifts_matched=3)
    problems = check_ledger().matching
    assert any("beyond" in p for p in problems), problems  # 9 K for a gift of 8 at 1 for 1
    assert any("sociétaire" in p for p in problems), problems  # 19 K, cap 10
    assert gift.matching.amount == 8


def test_the_sweep_is_not_matched_and_the_statement_pays_the_matching(
    pg_caisse, member, program, association
):
    make_offer(program)
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number=association.account_number,
        kind="association",
        iban=payouts_iban(pg_caisse, association.account_number),
    )
    credit(member, program, 1000)
    give(member, association, 300, program=program)
    Favourite.objects.update_or_create(member=member, defaults={"association": association})
    program.closes_on = timezone.localdate() - datetime.timedelta(days=1)
    program.opens_on = min(program.opens_on, program.closes_on)
    program.save()
    sweep.sweep_caisse(caisse_regionale_id=pg_caisse.pk)
    # 700 K swept to the favourite; only the gift's 300 K were matched.
    assert LedgerEntry.objects.filter(kind="sweep").get().amount == -700
    assert matching_entries().count() == 1
    statement = PayoutStatement.objects.get(program=program)
    (line,) = statement.lines.all()
    assert (line.gifts_k, line.sweeps_k, line.matched_k, line.total_k) == (300, 700, 300, 1300)
    assert statement.total_k == statement.total_cents == 1300
    xml = payouts.export_sepa(statement=statement)
    assert payouts.sepa_total_cents(xml) == 1300
    rows = payouts.export_csv(statement=statement).decode().splitlines()
    header = rows[0].split(";")
    assert rows[1].split(";")[header.index("abondement_k")] == "300"
    assert_ledger_consistent()


def payouts_iban(caisse, account):
    return str(
        IBAN.generate("FR", bank_code=caisse.bank_code, branch_code="00001", account_code=account)
    )
