"""Payout statements: equal to the ledger, IBANs, CSV and SEPA exports, steps, staff scope,
and what the association space shows."""

import io
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from schwifty import IBAN

from cagnotte import payouts, sweep
from cagnotte.ledger import post_entry
from cagnotte.ledger_checks import check_ledger
from cagnotte.models import Favourite, PayoutLine, PayoutStatement
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tookets.money import euros

SCHEMA = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"


def iban_for(caisse, account):
    return str(
        IBAN.generate("FR", bank_code=caisse.bank_code, branch_code="00001", account_code=account)
    )


@pytest.fixture
def swept(pg_caisse):
    """A program closed last year and swept: gifts and sweeps to three associations, one
    with a valid IBAN in the bank's data, one with none, one with a broken one."""
    year = timezone.localdate().year - 1
    program = f.ProgramFactory(caisse_regionale=pg_caisse, year=year, code="gers-last-year")
    good, missing, broken = (
        f.AssociationFactory(caisse_regionale=pg_caisse, name=name)
        for name in ["Bonne Asso", "Sans IBAN", "IBAN cassé"]
    )
    for a in (good, missing, broken):
        f.EnrollmentFactory(association=a, program=program)
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number=good.account_number,
        kind="association",
        iban=iban_for(pg_caisse, good.account_number),
    )
    bad = iban_for(pg_caisse, broken.account_number)
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number=broken.account_number,
        kind="association",
        iban=bad[:-1] + ("1" if bad[-1] == "0" else "0"),
    )
    givers = f.MemberFactory.create_batch(4, caisse_regionale=pg_caisse)
    from django.db import transaction

    for i, m in enumerate(givers):
        wallet = credit(m, program, 1000 + i, period=f"{year}-02").wallet
        with transaction.atomic():
            wallet.refresh_from_db()
            post_entry(
                wallet=wallet,
                kind="gift",
                amount=-(100 + i),
                reference=f"past-gift-{i}",
                association_id=[good, missing, broken][i % 3].pk,
            )
        Favourite.objects.create(member=m, association=good if i < 2 else missing)
    sweep.sweep_caisse(caisse_regionale_id=pg_caisse.pk)
    statement = PayoutStatement.objects.get(program=program)
    return statement, good, missing, broken


def test_statement_equals_the_ledger_and_lists_bad_ibans_apart(swept):
    statement, good, missing, broken = swept
    lines = {line.association_id: line for line in statement.lines.all()}
    ledger = payouts.ledger_received(program_id=statement.program_id)
    assert set(lines) == set(ledger) == {good.pk, missing.pk, broken.pk}
    for association_id, (gifts, sweeps, matched) in ledger.items():
        line = lines[association_id]
        assert (line.gifts_k, line.sweeps_k, line.matched_k) == (gifts, sweeps, matched)
        assert matched == 0  # no matching offer in this program
        assert line.amount_cents == line.total_k == gifts + sweeps
    # Givers 0 and 3 gave to « Bonne Asso » (100 + 103), givers 0-1 swept to it.
    assert lines[good.pk].gifts_k == 203
    assert lines[good.pk].sweeps_k == (1000 - 100) + (1001 - 101)
    assert statement.total_k == statement.total_cents == sum(li.total_k for li in lines.values())
    assert lines[good.pk].payable and lines[good.pk].bic == "AGRIFRPP869"
    assert lines[missing.pk].iban_problem == payouts.IBAN_MISSING
    assert lines[broken.pk].iban_problem == payouts.IBAN_INVALID
    assert_ledger_consistent()


def test_statement_is_frozen(swept):
    statement, good, *_ = swept
    again = payouts.compute_payout_statement(program=statement.program)
    assert again.pk == statement.pk
    assert PayoutLine.objects.filter(statement=statement).count() == 3


def test_check_ledger_fails_when_a_statement_differs_from_the_ledger(swept):
    statement, good, *_ = swept
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cagnotte_payoutline SET gifts_k = gifts_k + 1, total_k = total_k + 1, "
            "amount_cents = amount_cents + 1 WHERE statement_id = %s AND association_id = %s",
            [statement.pk, good.pk],
        )
    result = check_ledger()
    assert not result.ok
    assert any("gers-last-year" in p and str(good.pk) in p for p in result.statements)


def test_sepa_file_is_schema_valid_totals_the_payable_lines_and_re_exports_identically(swept):
    statement, good, missing, broken = swept
    xml = payouts.export_sepa(statement=statement)
    schema = xmlschema.XMLSchema(str(SCHEMA))
    schema.validate(xml.decode())  # raises when invalid
    assert payouts.sepa_total_cents(xml) == statement.lines.get(association=good).amount_cents
    assert payouts.sepa_total_cents(xml) == payouts.payable_total_cents(statement)
    text = xml.decode()
    assert f"TOOKETS-{statement.program_id}-{good.pk}" in text
    assert "Sans IBAN" not in text and "IBAN casse" not in text
    assert text.count("<CdtTrfTxInf>") == 1
    assert payouts.export_sepa(statement=statement) == xml


def test_sepa_file_not_valid_is_caught_by_the_schema(swept):
    statement, *_ = swept
    xml = payouts.export_sepa(statement=statement).decode()
    broken = xml.replace("<ChrgBr>SLEV</ChrgBr>", "<ChrgBr>NOPE</ChrgBr>")
    assert not xmlschema.XMLSchema(str(SCHEMA)).is_valid(broken)


def test_csv_lists_every_line(swept):
    statement, good, missing, broken = swept
    rows = payouts.export_csv(statement=statement).decode().splitlines()
    assert rows[0].split(";") == payouts.CSV_HEADER
    assert len(rows) == 4
    by_name = {row.split(";")[1]: row.split(";") for row in rows[1:]}
    assert by_name["Sans IBAN"][-2:] == ["non", payouts.IBAN_MISSING]
    assert by_name["Bonne Asso"][-2:] == ["oui", ""]


def test_export_payouts_command(swept, tmp_path):
    statement, *_ = swept
    out = io.StringIO()
    target = tmp_path / "sepa.xml"
    call_command(
        "export_payouts",
        "--program",
        statement.program.code,
        "--format",
        "sepa",
        "--output",
        str(target),
        stdout=out,
    )
    assert target.read_bytes() == payouts.export_sepa(statement=statement)
    assert "à part : Sans IBAN" in out.getvalue()


def test_sent_then_paid_with_who_and_when(swept, staff_pg):
    statement, *_ = swept
    with pytest.raises(payouts.PayoutError):
        payouts.mark_statement_paid(statement=statement, actor=staff_pg)
    payouts.mark_statement_sent(statement=statement, actor=staff_pg)
    payouts.mark_statement_paid(statement=statement, actor=staff_pg)
    statement.refresh_from_db()
    assert statement.status == "paid"
    assert statement.sent_by == statement.paid_by == staff_pg
    assert statement.sent_at <= statement.paid_at
    with pytest.raises(payouts.PayoutError):
        payouts.mark_statement_sent(statement=statement, actor=staff_pg)


def test_staff_of_another_bank_cannot_see_or_export_a_statement(swept, client, staff_other):
    statement, *_ = swept
    client.force_login(staff_other)
    listing = client.get(reverse("admin:cagnotte_payoutstatement_changelist"))
    assert listing.status_code == 200
    assert (
        reverse("admin:cagnotte_payoutstatement_change", args=[statement.pk])
        not in listing.content.decode()
    )
    change = client.get(reverse("admin:cagnotte_payoutstatement_change", args=[statement.pk]))
    assert change.status_code in (302, 404)
    for action in ["export_csv_action", "export_sepa_action", "mark_sent_action"]:
        response = client.post(
            reverse("admin:cagnotte_payoutstatement_changelist"),
            {"action": action, "index": 0, "_selected_action": [statement.pk]},
        )
        assert response.get("Content-Disposition") is None
    statement.refresh_from_db()
    assert statement.status == "computed"


def test_own_bank_staff_exports_and_marks(swept, client, staff_pg):
    statement, *_ = swept
    client.force_login(staff_pg)
    url = reverse("admin:cagnotte_payoutstatement_changelist")
    change_url = reverse("admin:cagnotte_payoutstatement_change", args=[statement.pk])
    assert change_url in client.get(url).content.decode()
    assert (
        client.get(
            reverse("admin:cagnotte_payoutstatement_change", args=[statement.pk])
        ).status_code
        == 200
    )
    response = client.post(
        url, {"action": "export_sepa_action", "index": 0, "_selected_action": [statement.pk]}
    )
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    assert response["Content-Disposition"].startswith("attachment"), [
        str(m) for m in response.wsgi_request._messages
    ]
    assert response.content == payouts.export_sepa(statement=statement)
    client.post(url, {"action": "mark_sent_action", "index": 0, "_selected_action": [statement.pk]})
    statement.refresh_from_db()
    assert (statement.status, statement.sent_by) == ("sent", staff_pg)
    runs = client.get(reverse("admin:cagnotte_sweeprun_changelist"))
    assert "Carte Sociétaire" in runs.content.decode()


def test_association_space_shows_planned_then_paid(swept, client, staff_pg):
    statement, good, *_ = swept
    user = f.UserFactory(kind="association", account_number=good.account_number)
    good.user = user
    good.save(update_fields=["user"])
    client.force_login(user)
    amount = statement.lines.get(association=good).euros
    page = client.get(reverse("associations:space")).content.decode()
    assert f"Versement prévu : {amount} €" in page
    payouts.mark_statement_sent(statement=statement, actor=staff_pg)
    payouts.mark_statement_paid(statement=statement, actor=staff_pg)
    statement.refresh_from_db()
    page = client.get(reverse("associations:space")).content.decode()
    assert f"Versé le {timezone.localtime(statement.paid_at):%d/%m/%Y} : {amount} €" in page
    assert "Versement prévu" not in page


def test_public_results_show_euros_paid_once_the_statement_is_paid(swept, client, staff_pg):
    statement, *_ = swept
    url = reverse("cagnotte:results_of", args=[statement.program.caisse_regionale.code])
    assert 'data-figure="paid">versement à venir<' in client.get(url).content.decode()
    payouts.mark_statement_sent(statement=statement, actor=staff_pg)
    payouts.mark_statement_paid(statement=statement, actor=staff_pg)
    html = client.get(url).content.decode()
    assert f'data-figure="paid">{euros(statement.total_cents)}<' in html
