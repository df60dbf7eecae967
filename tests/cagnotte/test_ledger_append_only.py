"""Ledger entries are never changed nor deleted, except the blanking account closure needs."""

import pytest
from django.db import IntegrityError, connection, transaction

from cagnotte.models import LedgerEntry
from cagnotte.services import credit_wallet
from tookets.append_only import ImmutableRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(member, program, staff_pg):
    return credit_wallet(
        member=member,
        program=program,
        amount=50,
        reference="adj-1",
        kind=LedgerEntry.Kind.ADJUSTMENT,
        created_by=staff_pg,
        memo="Geste commercial pour Jeanne Dupont",
    )


def test_the_model_refuses_to_change_or_delete_an_entry(entry):
    entry.amount = 5000
    with pytest.raises(ImmutableRecord):
        entry.save()
    with pytest.raises(ImmutableRecord):
        entry.delete()
    with pytest.raises(ImmutableRecord):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=5000)
    with pytest.raises(ImmutableRecord):
        LedgerEntry.objects.filter(pk=entry.pk).update(created_by=None, amount=1)
    with pytest.raises(ImmutableRecord):
        LedgerEntry.objects.filter(pk=entry.pk).update(memo="autre motif")
    with pytest.raises(ImmutableRecord):
        LedgerEntry.objects.all().delete()
    entry.refresh_from_db()
    assert entry.amount == 50


def test_anonymising_blanks_the_author_and_the_memo_only(entry):
    assert LedgerEntry.objects.filter(pk=entry.pk).anonymise() == 1
    entry.refresh_from_db()
    assert (entry.created_by_id, entry.memo, entry.amount, entry.reference) == (
        None,
        "",
        50,
        "adj-1",
    )


@pytest.mark.postgres
def test_postgresql_refuses_raw_updates_and_deletes(require_postgres, entry, other_member):
    for sql, params in [
        ("UPDATE cagnotte_ledgerentry SET amount = 5000 WHERE id = %s", [entry.pk]),
        ("UPDATE cagnotte_ledgerentry SET reference = 'x' WHERE id = %s", [entry.pk]),
        ("UPDATE cagnotte_ledgerentry SET memo = 'réécrit' WHERE id = %s", [entry.pk]),
        (
            "UPDATE cagnotte_ledgerentry SET created_by_id = %s WHERE id = %s",
            [other_member.pk, entry.pk],
        ),
        (
            "UPDATE cagnotte_ledgerentry SET created_by_id = NULL, amount = 1 WHERE id = %s",
            [entry.pk],
        ),
        ("DELETE FROM cagnotte_ledgerentry WHERE id = %s", [entry.pk]),
    ]:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cagnotte_ledgerentry SET created_by_id = NULL, memo = '' WHERE id = %s",
            [entry.pk],
        )
    entry.refresh_from_db()
    assert (entry.created_by_id, entry.memo, entry.amount) == (None, "", 50)


@pytest.mark.postgres
def test_a_gift_still_writes_and_closing_its_givers_account_forgets_them(
    require_postgres, member, program, association
):
    from cagnotte.services import give_tookets
    from tests.cagnotte.helpers import assert_ledger_consistent, credit

    credit(member, program, 100)
    gift = give_tookets(
        member=member, program=program, association_id=association.pk, amount=30, token="g"
    )
    assert LedgerEntry.objects.filter(created_by=member).anonymise() == 1
    gift.refresh_from_db()
    assert (gift.created_by_id, gift.amount) == (None, -30)
    assert_ledger_consistent()
