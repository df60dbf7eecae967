import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cagnotte.models import LedgerEntry, Program, Wallet
from tests import factories as f
from tests.cagnotte.helpers import credit
from tests.cagnotte.test_matching import give, make_offer


@pytest.fixture
def staff_client(client, staff_pg):
    staff_pg.user_permissions.set(Permission.objects.filter(content_type__app_label="cagnotte"))
    client.force_login(staff_pg)
    return client


def test_staff_see_only_their_regional_banks_rows(
    staff_client, member, other_member, program, other_caisse
):
    other_program = f.ProgramFactory(caisse_regionale=other_caisse, name="Programme T31")
    credit(member, program, 10, reference="pg-1")
    credit(other_member, other_program, 20, reference="t31-1")
    programs = staff_client.get(reverse("admin:cagnotte_program_changelist")).content.decode()
    assert program.name in programs and "Programme T31" not in programs
    entries = staff_client.get(reverse("admin:cagnotte_ledgerentry_changelist")).content.decode()
    assert "pg-1" in entries and "t31-1" not in entries
    other_entry = LedgerEntry.objects.get(reference="t31-1")
    url = reverse("admin:cagnotte_ledgerentry_change", args=[other_entry.pk])
    assert staff_client.get(url).status_code == 302  # outside the queryset: « not found »
    other_wallet = Wallet.objects.get(member=other_member)
    response = staff_client.get(reverse("admin:cagnotte_wallet_change", args=[other_wallet.pk]))
    assert response.status_code == 302  # « not found » for a row outside the staff's bank


def test_ledger_and_wallets_are_read_only(staff_client, member, program):
    entry = credit(member, program, 10, reference="ro-1")
    assert staff_client.get(reverse("admin:cagnotte_ledgerentry_add")).status_code == 403
    assert staff_client.get(reverse("admin:cagnotte_wallet_add")).status_code == 403
    delete = reverse("admin:cagnotte_ledgerentry_delete", args=[entry.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:cagnotte_ledgerentry_change", args=[entry.pk])
    staff_client.post(change, {"amount": "999999"})
    entry.refresh_from_db()
    assert entry.amount == 10
    assert Program.objects.count() == 1


def test_staff_see_their_banks_matching_entries_not_anothers(
    staff_client, member, other_member, program, association, other_caisse
):
    """A matching entry has no wallet: it belongs to the bank of its offer's program."""
    other_program = f.ProgramFactory(caisse_regionale=other_caisse)
    theirs = f.EnrollmentFactory(
        association=f.AssociationFactory(caisse_regionale=other_caisse), program=other_program
    ).association
    make_offer(program)
    make_offer(other_program)
    credit(member, program, 100)
    credit(other_member, other_program, 100)
    mine = give(member, association, 40, program=program)
    other = give(other_member, theirs, 30, program=other_program)
    matches = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.MATCHING)
    mine_match, other_match = matches.get(matches=mine), matches.get(matches=other)
    entries = staff_client.get(
        reverse("admin:cagnotte_ledgerentry_changelist"), {"kind": "matching"}
    ).content.decode()
    assert mine_match.reference in entries and other_match.reference not in entries
    url = reverse("admin:cagnotte_ledgerentry_change", args=[mine_match.pk])
    assert staff_client.get(url).status_code == 200
    url = reverse("admin:cagnotte_ledgerentry_change", args=[other_match.pk])
    assert staff_client.get(url).status_code == 302  # « not found » for another bank's
