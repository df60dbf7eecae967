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


def test_the_ledger_list_never_reads_the_whole_ledger(staff_client, member, program):
    """Built for millions of entries: the count stops past a cap, no date hierarchy (first and
    last dates, years), no filter whose choices come from the entries, the newest first by
    id (the partitions' primary keys walked backwards)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cagnotte.admin import LedgerPaginator

    for n in range(3):
        credit(member, program, 5, reference=f"list-{n}")
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse("admin:cagnotte_ledgerentry_changelist"))
    assert response.status_code == 200
    ledger = [q["sql"] for q in queries.captured_queries if "cagnotte_ledgerentry" in q["sql"]]
    assert len(ledger) == 2, ledger  # the capped count, the page
    count, page = ledger
    assert "COUNT(" in count and f"LIMIT {LedgerPaginator.CAP + 1}" in count, count
    assert 'ORDER BY "cagnotte_ledgerentry"."id" DESC' in page, page
    assert not any("DISTINCT" in sql or "MIN(" in sql or "MAX(" in sql for sql in ledger)
    html = response.content.decode()
    assert "list-0" in html and "list-2" in html and "3 mouvements" in html
    assert html.index("list-2") < html.index("list-0")


def test_a_ledger_longer_than_the_cap_says_so(staff_client, member, program, monkeypatch):
    from cagnotte.admin import LedgerPaginator

    monkeypatch.setattr(LedgerPaginator, "CAP", 2)
    for n in range(3):
        credit(member, program, 5, reference=f"cap-{n}")
    html = staff_client.get(reverse("admin:cagnotte_ledgerentry_changelist")).content.decode()
    assert "Plus de 2 mouvements" in html and "3 mouvements" not in html


def test_the_ledger_search_reads_exact_values(
    staff_client, member, other_member, program, association, other_caisse
):
    """A reference or an account number exactly, or part of an association's name; never
    another bank's entries."""
    from cagnotte.services import give_tookets

    other_program = f.ProgramFactory(caisse_regionale=other_caisse)
    credit(member, program, 100, reference="ref-exacte-1")
    credit(member, program, 7, reference="ref-exacte-2")
    neighbour = f.MemberFactory(caisse_regionale=member.caisse_regionale)
    credit(neighbour, program, 3, reference="voisin-1")
    credit(other_member, other_program, 9, reference="t31-2")
    wallet = Wallet.objects.get(member=member, program=program)
    gift = give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=10, token="s"
    )
    url = reverse("admin:cagnotte_ledgerentry_changelist")

    def found(term):
        response = staff_client.get(url, {"q": term})
        return {entry.reference for entry in response.context["cl"].result_list}

    assert found("ref-exacte-1") == {"ref-exacte-1"}
    assert found("ref-exacte") == set()  # a reference is searched exactly
    assert found(member.account_number) == {"ref-exacte-1", "ref-exacte-2", gift.reference}
    assert found("voisin-1") == {"voisin-1"}
    assert found(association.name[3:9]) == {gift.reference}
    assert found(other_member.account_number) == set()  # another bank's member
    assert found("t31-2") == set()


def test_the_ledger_filters_read_no_entries(staff_client, member, program, other_caisse):
    f.ProgramFactory(caisse_regionale=other_caisse, code="autre-2031", year=2031)
    credit(member, program, 5, reference="janvier", period=f"{program.year}-01")
    credit(member, program, 6, reference="fevrier", period=f"{program.year}-02")
    url = reverse("admin:cagnotte_ledgerentry_changelist")
    html = staff_client.get(url).content.decode()
    assert f"?annee={program.year}" in html and "annee=2031" not in html  # their programs
    html = staff_client.get(url, {"annee": program.year, "periode": f"{program.year}-02"})
    html = html.content.decode()
    assert "fevrier" in html and "janvier" not in html
    assert f"periode={program.year}-12" in html
    html = staff_client.get(url, {"annee": "9" * 30, "periode": "²"}).content.decode()
    assert "fevrier" in html and "janvier" in html  # garbage is ignored


def test_the_ledger_list_refuses_lookups_other_than_its_filters(staff_client, member, program):
    credit(member, program, 5, reference="lookup-1")
    url = reverse("admin:cagnotte_ledgerentry_changelist")
    assert staff_client.get(url, {"kind__exact": "credit"}).status_code == 200
    for query in ({"created_at__year": "2026"}, {"amount__gt": "1"}, {"reference": "lookup-1"}):
        assert staff_client.get(url, query).status_code == 400, query
