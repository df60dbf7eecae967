"""``tookets.compiled``: a queryset compiled once gives what the ORM gives, for any member, and
is not compiled again; the wallet page's two statements built on it (``wallets_of``, the
history's pages) against the ORM's own answers."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, OuterRef, Subquery
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from cagnotte import selectors
from cagnotte.campaigns import Program
from cagnotte.matching import ASSOCIATION_FIELDS, _running_offers, _running_queryset
from cagnotte.models import LedgerEntry, MatchingOffer, Wallet
from cagnotte.selectors import (
    givable_wallets,
    givable_wallets_of,
    history_of,
    history_page,
    wallet_state,
    wallets_of,
    wallets_queryset,
)
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit
from tookets.compiled import PLACEHOLDER, CompiledQuery
from tookets.periods import current_period

pytestmark = pytest.mark.django_db


def _entries(member_id):
    match = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.MATCHING, matches=OuterRef("pk"))
    return (
        LedgerEntry.objects.filter(wallet__member_id=member_id)
        .select_related("wallet__program", "association")
        .annotate(matched=-Subquery(match.values("amount")[:1]), doubled=F("amount") * 2)
        .order_by("-id")
    )


def _shown(entries):
    """Every field of each entry, of its wallet, program and association, and the
    annotations: what a page could read of them."""

    def fields(obj):
        if obj is None:
            return None
        # Columns: a join path without a column (Wallet.member_favourite) holds no value.
        return tuple(
            (field.attname, getattr(obj, field.attname)) for field in obj._meta.concrete_fields
        )

    return [
        (
            fields(e),
            fields(e.wallet),
            fields(e.wallet.program),
            fields(e.association),
            e.matched,
            e.doubled,
            e._state.db,
        )
        for e in entries
    ]


@pytest.fixture
def last_year(pg_caisse, association):
    """Last year's campaign, closed and waiting for its sweep (a wallet there is previewed)."""
    program = f.ProgramFactory(caisse_regionale=pg_caisse, year=timezone.localdate().year - 1)
    f.EnrollmentFactory(association=association, program=program)
    return program


@pytest.fixture
def two_members(member, program, association):
    other = f.MemberFactory(caisse_regionale=member.caisse_regionale)
    for who, amount in ((member, 500), (other, 300)):
        credit(who, program, amount, period=current_period())
        credit(who, program, 7, period="2000-01")
    give_tookets(
        member=member, association_id=association.pk, amount=40, token="a", program=program
    )
    give_tookets(member=other, association_id=association.pk, amount=5, token="b", program=program)
    return member, other


def test_a_compiled_query_gives_the_orm_s_instances_for_each_member(two_members):
    compiled = CompiledQuery(_entries(PLACEHOLDER))
    for who in two_members:
        got = compiled.fetch(who.pk)
        assert _shown(got) == _shown(_entries(who.pk))
        assert {e.wallet.member_id for e in got} == {who.pk}
        assert any(e.association is not None for e in got)
    assert compiled.fetch(10**9) == []  # nobody's


def test_it_is_compiled_once(two_members, monkeypatch):
    compiled = CompiledQuery(_entries(PLACEHOLDER))
    calls = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    for who in two_members:
        compiled.fetch(who.pk)
    assert calls == []
    # And the wallet page's statements are kept per (period, day) and page position.
    selectors._wallets_query.cache_clear()
    selectors._history_query.cache_clear()
    compiled_before = False
    for who in (*two_members, *two_members):
        calls.clear()
        wallets_of(who, period=current_period(), day=timezone.localdate())
        history_page(who, count=wallet_state(who)[1], number=1, per_page=20)
        # The first display compiles them (their subqueries one by one), no other does.
        assert bool(calls) == (who == two_members[0] and not compiled_before), len(calls)
        compiled_before = True


def test_wallets_of_is_the_orm_s_query(two_members, last_year):
    period, day = current_period(), timezone.localdate()
    credit(two_members[0], last_year, 12, period=f"{last_year.year}-12")
    for who in two_members:
        got = wallets_of(who, period=period, day=day)
        expected = list(wallets_queryset(who.pk, period=period, day=day))
        names = ("collected", "campaign_state", "campaign_paid_at", "swept_amount")
        names += ("swept_to_name", "year_end", "sweep_to_id", "sweep_to_name")

        def shown(wallets, names=names):
            return [
                (
                    [(x.attname, getattr(w, x.attname)) for x in Wallet._meta.concrete_fields],
                    [
                        (x.attname, getattr(w.program, x.attname))
                        for x in Program._meta.concrete_fields
                    ],
                    [getattr(w, name) for name in names],
                )
                for w in wallets
            ]

        assert shown(got) == shown(expected)
        assert len(got) == (2 if who == two_members[0] else 1)
        assert {w.member_id for w in got} == {who.pk}
        assert all(w.campaign.state == w.campaign_state for w in got)


@pytest.mark.parametrize("per_page", [2, 3, 20])
@pytest.mark.parametrize("number", [None, 1, 2, 3, "last", "abc", 999, -1])
def test_history_pages_are_the_paginator_s(two_members, per_page, number):
    member = two_members[0]
    for i in range(4):
        credit(member, LedgerEntry.objects.first().wallet.program, 1 + i, period="2001-01")
    expected = Paginator(history_of(member), per_page).get_page(number)
    got = history_page(member, count=wallet_state(member)[1], number=number, per_page=per_page)
    assert [e.pk for e in got] == [e.pk for e in expected]
    assert [getattr(e, "matched", None) for e in got] == [e.matched for e in expected]
    assert (got.number, got.paginator.num_pages) == (expected.number, expected.paginator.num_pages)
    assert (got.has_next(), got.has_previous()) == (expected.has_next(), expected.has_previous())


def test_the_gift_page_s_wallets_are_the_orm_s(two_members, program, association, last_year):
    member = two_members[0]
    other = f.AssociationFactory(caisse_regionale=association.caisse_regionale)
    for who in two_members:
        for target in (association, other):
            got = givable_wallets_of(who, association_id=target.pk)
            assert [w.pk for w in got] == [
                w.pk for w in givable_wallets(who, association_id=target.pk)
            ]
            assert all(w.program.pk == w.program_id for w in got)
    # Enrolled and funded: one wallet (not last year's, closed); not enrolled: none.
    assert len(givable_wallets_of(member, association_id=association.pk)) == 1
    assert givable_wallets_of(member, association_id=other.pk) == []


@pytest.mark.parametrize("empty", [(), ("domain_id",), ("activity_id", "caisse_locale_id")])
def test_the_offers_a_gift_page_shows_are_the_orm_s(pg_caisse, empty):
    """Compiled per number of programs and per empty column (the ORM writes IS NULL there),
    the offers are the ORM's for each association, whatever rule each offer has."""
    programs = [f.ProgramFactory(caisse_regionale=pg_caisse, name=f"P{i}") for i in range(2)]
    associations = [f.AssociationFactory(caisse_regionale=pg_caisse) for _ in range(3)]
    MatchingOffer.objects.filter(program__in=programs).delete()
    day = timezone.localdate()
    offers = []
    for i, p in enumerate(programs):
        for rule in ("all", "domain", "activity", "locale", "association"):
            offer = MatchingOffer.objects.create(
                program=p, name=f"{rule} {i}", starts_on=p.opens_on, ends_on=p.closes_on, budget=9
            )
            target = associations[i]
            if rule == "domain":
                offer.domains.add(target.domain)
            elif rule == "activity":
                offer.activities.add(target.activity)
            elif rule == "locale":
                offer.caisses_locales.add(target.caisse_locale)
            elif rule == "association":
                offer.associations.add(target)
            offers.append(offer)
    for a in associations:
        row = {name: getattr(a, name) for name in ASSOCIATION_FIELDS}
        row.update(dict.fromkeys(empty))
        for ids in ([programs[0].pk], [p.pk for p in programs]):
            expected = [o.pk for o in _running_queryset(day, ids, row)]
            assert [o.pk for o in _running_offers(day, ids, row)] == expected
            assert expected  # the offer for all, at least


def test_a_gift_locks_and_checks_through_statements_compiled_once(
    two_members, program, association
):
    """The gift's wallet lock, open rule, eligibility and offers' lock are compiled on the
    first gift only; the lock is still the one ``locked_wallets`` takes (own rows, id order)."""
    from cagnotte import matching, services

    builders = (
        services._givers_wallet_query,
        services._open_program_query,
        services._receiving_association_query,
        matching._offers_lock_query,
    )
    MatchingOffer.objects.create(
        program=program,
        name="Doublé",
        starts_on=program.opens_on,
        ends_on=program.closes_on,
        budget=100,
    )
    for builder in builders:
        builder.cache_clear()
    member, other = two_members
    first = give_tookets(
        member=member, association_id=association.pk, amount=3, token="c1", program=program
    )
    assert first.matching is not None and first.matching.amount == 3
    compiled = [builder.cache_info().misses for builder in builders]
    assert compiled == [1, 1, 1, 1]
    wallet = Wallet.objects.get(member=other, program=program)
    give_tookets(
        member=other, association_id=association.pk, amount=2, token="c2", wallet_id=wallet.pk
    )
    give_tookets(
        member=member, association_id=association.pk, amount=1, token="c3", program=program
    )
    # A second way to name the wallet (by its id) is its own statement; nothing else compiles.
    assert [builder.cache_info().misses for builder in builders] == [2, 1, 1, 1]
    if connection.vendor == "postgresql":
        locks = [
            services._givers_wallet_query("wallet").sql,
            services._givers_wallet_query("program").sql,
            # The association has a domain, an activity and a local bank: none empty.
            matching._offers_lock_query(timezone.localdate(), (True, True, True)).sql,
        ]
        assert sum('FOR UPDATE OF "cagnotte_wallet"' in sql for sql in locks) == 2, locks
        assert sum('FOR UPDATE OF "cagnotte_matchingoffer"' in sql for sql in locks) == 1, locks
        assert all('ORDER BY "cagnotte_' in sql and '"id" ASC' in sql for sql in locks), locks
    # And the money moved as the rules say: the balances and the budget.
    assert Wallet.objects.get(member=member, program=program).balance == 500 + 7 - 40 - 3 - 1
    assert Wallet.objects.get(pk=wallet.pk).balance == 300 + 7 - 5 - 2
    assert MatchingOffer.objects.get(name="Doublé").spent == 3 + 2 + 1


def test_choosing_a_favourite_asks_the_visibility_rule_compiled_once(
    two_members, association, other_member
):
    from cagnotte import services
    from cagnotte.models import Favourite

    services._visible_association_query.cache_clear()
    for who in two_members:
        services.set_favourite(member=who, association_id=association.pk)
    assert services._visible_association_query.cache_info().misses == 1
    assert Favourite.objects.filter(association=association).count() == 2
    # Another bank's member asks the same statement, and may not choose it.
    with pytest.raises(services.NotEligible):
        services.set_favourite(member=other_member, association_id=association.pk)
    assert services._visible_association_query.cache_info().misses == 1
