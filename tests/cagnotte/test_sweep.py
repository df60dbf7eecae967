"""The year-end sweep: rules, idempotency, dry run, the one open rule (both engines)."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from associations.models import Association
from associations.selectors import associations_visible_to
from cagnotte import sweep
from cagnotte.campaigns import Program, enrollable_programs
from cagnotte.figures import month_of
from cagnotte.models import (
    AssociationMonthTotals,
    AssociationTotals,
    AssociationYearTotals,
    Favourite,
    LedgerEntry,
    PayoutStatement,
    Supporter,
    SweepRun,
    Wallet,
)
from cagnotte.selectors import givable_wallets
from cagnotte.services import NotEligible, give_tookets
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit


@pytest.fixture(params=["set-based", "python"])
def engine(request, monkeypatch, db):
    """Each scenario runs through the PostgreSQL statement and through the Python fallback."""
    if request.param == "set-based":
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("the set-based sweep is PostgreSQL's")
    else:
        monkeypatch.setattr(sweep, "set_based", lambda: False)
    return request.param


def closed_program(caisse, *, year=None, code=None):
    year = year or timezone.localdate().year - 1
    return f.ProgramFactory(caisse_regionale=caisse, year=year, code=code or f"closed-{year}")


def enrolled(program, **kwargs):
    association = f.AssociationFactory(caisse_regionale=program.caisse_regionale, **kwargs)
    f.EnrollmentFactory(association=association, program=program)
    return association


@pytest.fixture
def cast(pg_caisse):
    """One wallet per way a balance can end, in a program closed last year."""
    program = closed_program(pg_caisse)
    fav = enrolled(program, name="Favorite enrôlée")
    not_enrolled = f.AssociationFactory(caisse_regionale=pg_caisse, name="Pas enrôlée")
    no_longer_validated = enrolled(program, name="Plus validée")
    members = {
        name: f.MemberFactory(caisse_regionale=pg_caisse)
        for name in ["favourite", "none", "not_enrolled", "not_validated", "closed", "zero"]
    }
    balances = {
        "favourite": 300,
        "none": 120,
        "not_enrolled": 50,
        "not_validated": 70,
        "closed": 40,
        "zero": 0,
    }
    for name, member in members.items():
        if balances[name]:
            credit(member, program, balances[name], period=f"{program.year}-06")
        else:
            Wallet.objects.create(member=member, program=program)
    Favourite.objects.create(member=members["favourite"], association=fav)
    Favourite.objects.create(member=members["not_enrolled"], association=not_enrolled)
    Favourite.objects.create(member=members["not_validated"], association=no_longer_validated)
    Favourite.objects.create(member=members["closed"], association=fav)
    Association.objects.filter(pk=no_longer_validated.pk).update(status=Association.Status.REJECTED)
    members["closed"].__class__.objects.filter(pk=members["closed"].pk).update(
        closed_at=timezone.now()
    )
    return program, fav, members, balances


def entries_of(member, program):
    return list(
        LedgerEntry.objects.filter(
            wallet__member=member, wallet__program=program, kind__in=["sweep", "return"]
        ).values_list("kind", "amount", "association_id")
    )


def test_sweep_rules(engine, cast):
    program, fav, members, balances = cast
    outcome = sweep.sweep_program(program=program, run_by_label="test")

    assert entries_of(members["favourite"], program) == [("sweep", -300, fav.pk)]
    for name in ["none", "not_enrolled", "not_validated", "closed"]:
        assert entries_of(members[name], program) == [("return", -balances[name], None)], name
    assert entries_of(members["zero"], program) == []
    assert not Wallet.objects.filter(program=program, balance__gt=0).exists()
    assert (outcome.figures.wallets, outcome.figures.to_favourites, outcome.figures.returned) == (
        5,
        300,
        280,
    )
    program.refresh_from_db()
    assert program.swept_at is not None
    run = SweepRun.objects.get(program=program)
    assert (run.wallets, run.to_favourites, run.returned, run.run_by_label) == (5, 300, 280, "test")
    assert run.finished_at is not None
    # The association's figures count the sweep as a gift.
    totals = AssociationTotals.objects.get(association=fav)
    assert (totals.received_total, totals.supporters, totals.first_year) == (300, 1, program.year)
    assert AssociationYearTotals.objects.get(association=fav, year=program.year).received == 300
    # And in the month of its entries (the staff dashboard's chart).
    month = month_of(LedgerEntry.objects.get(kind="sweep", association=fav).created_at)
    assert AssociationMonthTotals.objects.get(association=fav, month=month).received == 300
    assert Supporter.objects.filter(association=fav, member=members["favourite"]).exists()
    assert_ledger_consistent()


def test_sweep_twice_changes_nothing(engine, cast):
    program, *_ = cast
    sweep.sweep_program(program=program)
    count = LedgerEntry.objects.count()
    totals = list(AssociationTotals.objects.values_list("association_id", "received_total"))
    second = sweep.sweep_program(program=program)
    assert second.already_swept and second.figures.wallets == 0
    # Even with the program's swept mark lost, the references keep the sweep to once.
    Program.objects.filter(pk=program.pk).update(swept_at=None)
    third = sweep.sweep_program(program=program)
    assert third.figures.wallets == 0
    assert LedgerEntry.objects.count() == count
    assert list(AssociationTotals.objects.values_list("association_id", "received_total")) == totals
    assert_ledger_consistent()


def test_dry_run_changes_nothing_and_tells_what_the_run_does(engine, cast):
    program, *_ = cast
    count = LedgerEntry.objects.count()
    out = io.StringIO()
    call_command("sweep_campaign", "--program", program.code, "--dry-run", stdout=out)
    assert LedgerEntry.objects.count() == count
    assert not SweepRun.objects.exists()
    program.refresh_from_db()
    assert program.swept_at is None
    planned = sweep.dry_run(program)
    assert "5 cagnottes à solder, 300 K aux associations favorites, 280 K rendus" in out.getvalue()
    done = sweep.sweep_program(program=program).figures
    assert (planned.wallets, planned.to_favourites, planned.returned) == (
        done.wallets,
        done.to_favourites,
        done.returned,
    )


def test_small_batches_sweep_everything_once(engine, pg_caisse):
    program = closed_program(pg_caisse)
    fav = enrolled(program)
    members = [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(23)]
    for i, m in enumerate(members):
        credit(m, program, 10 + i, period=f"{program.year}-03")
        if i % 2:
            Favourite.objects.create(member=m, association=fav)
    outcome = sweep.sweep_program(program=program, batch_size=4)
    assert outcome.figures.wallets == 23
    assert LedgerEntry.objects.filter(kind__in=["sweep", "return"]).count() == 23
    assert AssociationTotals.objects.get(association=fav).supporters == 11
    assert_ledger_consistent()


def test_several_programs_of_one_bank_and_a_statement_each(engine, pg_caisse, other_caisse):
    year = timezone.localdate().year - 1
    first = closed_program(pg_caisse, year=year, code="gers-a")
    second = f.ProgramFactory(caisse_regionale=pg_caisse, year=year, code="gers-b", name="Autre")
    elsewhere = closed_program(other_caisse, year=year, code="t31")
    fav = enrolled(first)
    f.EnrollmentFactory(association=fav, program=second)
    m = f.MemberFactory(caisse_regionale=pg_caisse)
    Favourite.objects.create(member=m, association=fav)
    credit(m, first, 100, period=f"{year}-05")
    credit(m, second, 40, period=f"{year}-05")
    credit(f.MemberFactory(caisse_regionale=other_caisse), elsewhere, 60, period=f"{year}-05")

    outcomes = sweep.sweep_caisse(caisse_regionale_id=pg_caisse.pk)
    assert sorted(o.program.code for o in outcomes) == ["gers-a", "gers-b"]
    assert Wallet.objects.get(program=elsewhere).balance == 60  # another bank's, untouched
    assert AssociationTotals.objects.get(association=fav).received_total == 140
    assert set(PayoutStatement.objects.values_list("program__code", flat=True)) == {
        "gers-a",
        "gers-b",
    }
    assert_ledger_consistent()


def test_an_open_program_is_refused(pg_caisse, program):
    with pytest.raises(CommandError, match="est ouvert jusqu’au"):
        call_command("sweep_campaign", "--program", program.code)
    with pytest.raises(sweep.SweepRefused):
        sweep.sweep_program(program=program)
    assert not SweepRun.objects.exists()


def test_a_program_closing_early_is_swept_and_offered_nowhere(engine, pg_caisse, member):
    today = timezone.localdate()
    if today.month == 1 and today.day == 1:
        pytest.skip("no earlier day this year")
    program = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="early",
        closes_on=today - datetime.timedelta(days=1),
    )
    association = enrolled(program)
    credit(member, program, 80)
    assert not associations_visible_to(member).filter(pk=association.pk).exists()
    call_command("sweep_campaign", "--program", program.code, stdout=io.StringIO())
    assert Wallet.objects.get(program=program).balance == 0


def test_a_swept_program_is_closed_everywhere(pg_caisse, member, program, association):
    """Swept before its closing date: no page, form, service or list offers it any more."""
    wallet = credit(member, program, 200).wallet
    assert associations_visible_to(member).filter(pk=association.pk).exists()
    assert list(givable_wallets(member, association_id=association.pk)) == [wallet]
    Program.objects.filter(pk=program.pk).update(swept_at=timezone.now())

    assert not associations_visible_to(member).filter(pk=association.pk).exists()
    assert not givable_wallets(member, association_id=association.pk).exists()
    assert not Program.objects.open_on().filter(pk=program.pk).exists()
    assert not program.is_open()
    assert (
        not enrollable_programs(caisse_regionale_ids=[pg_caisse.pk]).filter(pk=program.pk).exists()
    )
    with pytest.raises(NotEligible):
        give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=10,
            token="after-sweep",
        )
    assert not LedgerEntry.objects.filter(kind="gift").exists()


def test_gift_refused_after_the_sweep(engine, cast):
    program, fav, members, _ = cast
    sweep.sweep_program(program=program)
    wallet = Wallet.objects.get(member=members["favourite"], program=program)
    with pytest.raises(NotEligible):
        give_tookets(
            member=members["favourite"],
            wallet_id=wallet.pk,
            association_id=fav.pk,
            amount=1,
            token="late",
        )


def test_beat_task_fans_out_per_bank_and_runs_in_process(pg_caisse, other_caisse):
    from cagnotte.tasks import sweep_closed_programs
    from tookets.celery import app

    assert app.conf.beat_schedule["sweep-closed-programs"]["task"] == (
        "cagnotte.tasks.sweep_closed_programs"
    )
    gers = closed_program(pg_caisse, code="gers-closed")
    t31 = closed_program(other_caisse, code="t31-closed")
    still_open = f.ProgramFactory(caisse_regionale=pg_caisse, code="gers-open")
    for p in (gers, t31, still_open):
        credit(f.MemberFactory(caisse_regionale=p.caisse_regionale), p, 25)
    assert sweep_closed_programs.delay().get() == sorted([pg_caisse.pk, other_caisse.pk])
    assert set(Program.objects.filter(swept_at__isnull=False).values_list("code", flat=True)) == {
        "gers-closed",
        "t31-closed",
    }
    assert Wallet.objects.get(program=still_open).balance == 25
    assert SweepRun.objects.filter(run_by_label="tâche Celery (beat)").count() == 2


def test_a_wallet_credited_after_its_sweep_keeps_its_balance_and_the_rest_is_swept(engine, cast):
    """A batch holding a wallet whose sweep entry exists already: the fast statement refuses
    it (its reference), the safe one writes the batch's other wallets and leaves that one."""
    program, fav, members, balances = cast
    sweep.sweep_program(program=program)
    credit(members["favourite"], program, 25, period=f"{program.year}-12")
    late = f.MemberFactory(caisse_regionale=program.caisse_regionale)
    credit(late, program, 60, period=f"{program.year}-12")
    Favourite.objects.create(member=late, association=fav)
    Program.objects.filter(pk=program.pk).update(swept_at=None)
    count = LedgerEntry.objects.count()

    outcome = sweep.sweep_program(program=program)
    assert (outcome.figures.wallets, outcome.figures.to_favourites, outcome.remaining) == (1, 60, 1)
    assert not outcome.swept
    assert entries_of(members["favourite"], program) == [("sweep", -300, fav.pk)]
    assert entries_of(late, program) == [("sweep", -60, fav.pk)]
    assert Wallet.objects.get(member=members["favourite"], program=program).balance == 25
    assert LedgerEntry.objects.count() == count + 1
    totals = AssociationTotals.objects.get(association=fav)
    assert (totals.received_total, totals.supporters) == (360, 2)
    assert_ledger_consistent()


def test_a_member_already_supporting_the_favourite_is_not_counted_twice(engine, cast):
    program, fav, members, balances = cast
    open_program = f.ProgramFactory(caisse_regionale=program.caisse_regionale, code="open-now")
    f.EnrollmentFactory(association=fav, program=open_program)
    credit(members["favourite"], open_program, 30)
    wallet = Wallet.objects.get(member=members["favourite"], program=open_program)
    give_tookets(
        member=members["favourite"],
        wallet_id=wallet.pk,
        association_id=fav.pk,
        amount=10,
        token="before-sweep",
    )
    sweep.sweep_program(program=program)
    assert Supporter.objects.filter(association=fav).count() == 1
    assert AssociationTotals.objects.get(association=fav).supporters == 1
    assert AssociationTotals.objects.get(association=fav).received_total == 310
    assert_ledger_consistent()


def test_the_batches_start_at_the_programs_first_wallet(pg_caisse):
    year = timezone.localdate().year
    earlier = closed_program(pg_caisse, year=year - 2, code="earlier")
    for _ in range(3):
        credit(f.MemberFactory(caisse_regionale=pg_caisse), earlier, 10)
    program = closed_program(pg_caisse, year=year - 1, code="later")
    first = credit(f.MemberFactory(caisse_regionale=pg_caisse), program, 10).wallet
    credit(f.MemberFactory(caisse_regionale=pg_caisse), program, 10)
    assert sweep._first_after(program) == first.pk - 1
    assert sweep._first_after(closed_program(pg_caisse, year=year - 3, code="empty")) == 0


def test_the_wallets_favourite_is_a_join_path_only(pg_caisse, django_assert_num_queries):
    """``Wallet.member_favourite`` (the sweep's read) joins on the wallet's member column; it
    is neither a column nor serialized (a dump or a test's serialized rollback would otherwise
    look each wallet's favourite up)."""
    from django.core import serializers

    program = closed_program(pg_caisse)
    fav = enrolled(program)
    with_favourite = credit(f.MemberFactory(caisse_regionale=pg_caisse), program, 10).wallet
    without = credit(f.MemberFactory(caisse_regionale=pg_caisse), program, 10).wallet
    Favourite.objects.create(member=with_favourite.member, association=fav)
    rows = Wallet.objects.filter(program=program).values_list("pk", "member_favourite__association")
    assert sorted(rows) == sorted([(with_favourite.pk, fav.pk), (without.pk, None)])
    wallets = list(Wallet.objects.filter(program=program))
    with django_assert_num_queries(0):
        dumped = serializers.serialize("python", wallets)
    assert {name for row in dumped for name in row["fields"]} == {
        "member",
        "program",
        "balance",
        "created_at",
    }
