import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from cagnotte.figures import read_figures
from cagnotte.models import (
    AssociationTotals,
    AssociationYearTotals,
    LedgerEntry,
    Supporter,
    Wallet,
)
from cagnotte.services import (
    InsufficientBalance,
    InvalidAmount,
    NotEligible,
    credit_wallet,
    give_tookets,
)
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit


@pytest.fixture
def wallet(member, program):
    credit(member, program, 500)
    return Wallet.objects.get(member=member, program=program)


def test_credit_creates_the_wallet_and_is_idempotent(member, program):
    first = credit(member, program, 120, reference="bank-1")
    again = credit(member, program, 120, reference="bank-1")
    assert first.pk == again.pk
    assert Wallet.objects.get(member=member, program=program).balance == 120
    assert LedgerEntry.objects.count() == 1
    assert_ledger_consistent()


def test_negative_adjustment_cannot_overdraw(member, program, wallet):
    with pytest.raises(InsufficientBalance):
        credit_wallet(
            member=member, program=program, amount=-501, reference="adj-1", kind="adjustment"
        )
    credit_wallet(member=member, program=program, amount=-1, reference="adj-2", kind="adjustment")
    wallet.refresh_from_db()
    assert wallet.balance == 499
    assert_ledger_consistent()


def test_give_moves_tookets_and_keeps_the_figures_in_step(member, program, wallet, association):
    entry = give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=200, token="t1"
    )
    assert entry.kind == "gift" and entry.amount == -200 and entry.reference == "gift:t1"
    assert entry.created_by == member and entry.association_id == association.pk
    wallet.refresh_from_db()
    assert wallet.balance == 300
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=50, token="t2"
    )
    figures = read_figures([association.pk], year=program.year)[0]
    assert figures[association.pk].supporters == 1
    assert figures[association.pk].received_total == 250
    assert figures[association.pk].received_this_year == 250
    assert figures[association.pk].first_year == program.year
    assert Supporter.objects.filter(association=association).count() == 1
    assert_ledger_consistent()


def test_a_replayed_token_gives_once(member, wallet, association):
    first = give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=100, token="x"
    )
    again = give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=100, token="x"
    )
    assert first.pk == again.pk
    wallet.refresh_from_db()
    assert wallet.balance == 400
    assert AssociationTotals.objects.get(association=association).received_total == 100
    assert_ledger_consistent()


def test_a_gift_looks_its_reference_up_once(member, wallet, association):
    # The replay check reads it under the wallet's lock; the ledger's writer does not read it
    # again (its unique index meets a writer that raced it). The statements as sent (the query
    # log holds no text for the prepared ones on PostgreSQL).
    sent = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=10, token="1"
        )
    assert len([sql for sql in sent if '"cagnotte_ledgerentry"."reference" =' in sql]) == 1
    assert LedgerEntry.objects.filter(reference="gift:1").count() == 1


RECEIPT_TASK = "accounts.tasks.send_gift_receipt"


def receipts_queued(entry_id=None):
    from tookets.models import OutboxMessage

    queued = OutboxMessage.objects.filter(task=RECEIPT_TASK)
    if entry_id is not None:
        queued = queued.filter(kwargs={"entry_id": entry_id})
    return queued.count()


def test_the_gift_queues_its_receipt_once_and_a_replay_queues_nothing(
    member, wallet, association, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as published:
        first = give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=100, token="r"
        )
    assert receipts_queued(first.pk) == 1
    assert len(published) == 1  # handed to the broker once the gift committed
    with django_capture_on_commit_callbacks() as published:
        again = give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=100, token="r"
        )
    assert again.pk == first.pk
    assert receipts_queued() == 1
    assert published == []


def test_a_refused_gift_queues_no_receipt(member, wallet, association):
    with pytest.raises(InsufficientBalance):
        give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=501, token="n"
        )
    with pytest.raises(NotEligible):
        give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk + 999,
            amount=1,
            token="m",
        )
    assert receipts_queued() == 0


def test_a_replay_still_answers_once_the_balance_is_spent(member, wallet, association):
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=500, token="y"
    )
    again = give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=500, token="y"
    )
    assert again.amount == -500
    assert LedgerEntry.objects.filter(kind="gift").count() == 1


def test_insufficient_balance(member, wallet, association):
    with pytest.raises(InsufficientBalance):
        give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=501, token="z"
        )
    wallet.refresh_from_db()
    assert wallet.balance == 500
    assert not LedgerEntry.objects.filter(kind="gift").exists()


@pytest.mark.parametrize("amount", [0, -5, 2.5, "10", True, None])
def test_invalid_amounts(member, wallet, association, amount):
    with pytest.raises(InvalidAmount):
        give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=amount,
            token="bad",
        )


def test_association_of_another_regional_bank_is_not_eligible(member, wallet, other_caisse):
    other_program = f.ProgramFactory(caisse_regionale=other_caisse)
    elsewhere = f.AssociationFactory(caisse_regionale=other_caisse)
    f.EnrollmentFactory(association=elsewhere, program=other_program)
    with pytest.raises(NotEligible):
        give_tookets(
            member=member, wallet_id=wallet.pk, association_id=elsewhere.pk, amount=1, token="o"
        )


def test_association_not_enrolled_in_that_wallets_program(member, program, pg_caisse):
    other_program = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme")
    enrolled_elsewhere = f.AssociationFactory(caisse_regionale=pg_caisse)
    f.EnrollmentFactory(association=enrolled_elsewhere, program=other_program)
    credit(member, program, 100)
    wallet = Wallet.objects.get(member=member, program=program)
    with pytest.raises(NotEligible):
        give_tookets(
            member=member,
            wallet_id=wallet.pk,
            association_id=enrolled_elsewhere.pk,
            amount=10,
            token="w",
        )
    wallet.refresh_from_db()
    assert wallet.balance == 100


def test_validated_but_unenrolled_and_unvalidated_associations(member, wallet, pg_caisse, program):
    unenrolled = f.AssociationFactory(caisse_regionale=pg_caisse)
    draft = f.AssociationFactory(caisse_regionale=pg_caisse, status="submitted")
    f.EnrollmentFactory(association=draft, program=program)
    for i, association in enumerate([unenrolled, draft]):
        with pytest.raises(NotEligible):
            give_tookets(
                member=member,
                wallet_id=wallet.pk,
                association_id=association.pk,
                amount=1,
                token=f"n{i}",
            )


def test_someone_elses_wallet_is_not_usable(member, other_member, wallet, association):
    with pytest.raises(InsufficientBalance):
        give_tookets(
            member=other_member,
            wallet_id=wallet.pk,
            association_id=association.pk,
            amount=1,
            token="steal",
        )


def test_database_refuses_a_negative_balance_even_bypassing_python(wallet):
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(pk=wallet.pk).update(balance=F("balance") - 501)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE cagnotte_wallet SET balance = -1 WHERE id = %s", [wallet.pk])


def test_database_refuses_badly_signed_entries(wallet, association):
    bad = [
        {"kind": "credit", "amount": -1},
        {"kind": "gift", "amount": 5, "association": association},
        {"kind": "gift", "amount": -5},
        {"kind": "adjustment", "amount": 0},
    ]
    for i, fields in enumerate(bad):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(
                wallet=wallet, reference=f"bad-{i}", year=wallet.program.year, **fields
            )


def test_year_totals_are_per_program_year(member, pg_caisse, association):
    last_year = f.ProgramFactory(caisse_regionale=pg_caisse, year=2020, name="Ancien")
    f.EnrollmentFactory(association=association, program=last_year)
    credit(member, last_year, 10)
    wallet = Wallet.objects.get(member=member, program=last_year)
    # A gift of a closed program is refused: its campaign is over.
    with pytest.raises(NotEligible):
        give_tookets(
            member=member, wallet_id=wallet.pk, association_id=association.pk, amount=1, token="c"
        )
    assert not AssociationYearTotals.objects.exists()


def test_post_entry_refused_leaves_no_entry_in_the_callers_transaction(wallet, association):
    from cagnotte.ledger import post_entry

    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().select_related("program").get(pk=wallet.pk)
        with pytest.raises(InsufficientBalance):
            post_entry(
                wallet=wallet,
                kind="sweep",
                amount=-501,
                reference="sweep:1",
                association_id=association.pk,
            )
        entry, created = post_entry(wallet=wallet, kind="return", amount=-500, reference="return:1")
        assert created
    assert not LedgerEntry.objects.filter(reference="sweep:1").exists()
    wallet.refresh_from_db()
    assert wallet.balance == 0
    assert_ledger_consistent()
