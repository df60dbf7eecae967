"""The « attestation de soutien »: its figures against the ledger, its PDF, the public check."""

import datetime
import re
import zlib

import pytest
from django.urls import reverse
from django.utils import timezone

from associations.certificates import CODE_LENGTH, normalise_code
from associations.models import SupportCertificate
from cagnotte.campaigns import Program
from cagnotte.models import LedgerEntry, PayoutLine, PayoutStatement
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(association, pg_caisse):
    user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    association.user = user
    association.save()
    return user


@pytest.fixture
def closed(program, association, member, pg_caisse):
    """A campaign with gifts from two members (one gave twice), then closed and paid."""
    second = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Zoé Secrète")
    for giver, amount, token in [(member, 300, "a"), (member, 200, "b"), (second, 1000, "c")]:
        credit(giver, program, amount)
        give_tookets(
            member=giver, association_id=association.pk, amount=amount, token=token, program=program
        )
    Program.objects.filter(pk=program.pk).update(
        closes_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    now = timezone.now()
    statement = PayoutStatement.objects.create(
        program=program, status="paid", total_k=1500, total_cents=1500, sent_at=now, paid_at=now
    )
    PayoutLine.objects.create(
        statement=statement,
        association=association,
        gifts_k=1500,
        sweeps_k=0,
        total_k=1500,
        amount_cents=1500,
    )
    return program


def pdf_text(body: bytes) -> str:
    return "".join(
        zlib.decompress(s).decode("latin-1")
        for s in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
    )


def test_the_certificate_and_its_public_page_say_the_ledger_figures(
    client, association, account, closed
):
    ledger = LedgerEntry.objects.filter(association=association, wallet__program=closed)
    received = -sum(ledger.values_list("amount", flat=True))
    supporters = len(set(ledger.values_list("wallet__member", flat=True)))
    assert (received, supporters) == (1500, 2)
    client.force_login(account)
    space = client.get(reverse("associations:certificates")).content.decode()
    assert closed.name in space
    pdf = client.get(reverse("associations:certificate_pdf", args=[closed.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Soutiens distincts : 2" in text
    assert "Tookets re\xe7us : 1 500 K" in text
    assert "Vers\xe9 par la Caisse r\xe9gionale : 15,00 euros" in text
    certificate = SupportCertificate.objects.get()
    assert len(certificate.code) == CODE_LENGTH and certificate.code_display in text
    # A second download: the same code.
    client.get(reverse("associations:certificate_pdf", args=[closed.pk]))
    assert SupportCertificate.objects.get().code == certificate.code
    client.logout()
    page = client.get(reverse("associations:certificate", args=[certificate.code]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-figure="supporters">2<' in html
    assert 'data-figure="received">1\u202f500\xa0K<' in html
    assert 'data-figure="paid">15,00\xa0€<' in html
    assert "Zoé" not in html and "Jeanne" not in html
    # Typed with dashes and in lower case, it still opens.
    typed = client.get(
        reverse("associations:certificate_verify"), {"code": certificate.code_display.lower()}
    )
    assert typed.status_code == 302 and typed["Location"].endswith(f"/{certificate.code}/")


def test_a_wrong_code_is_a_plain_404_and_guessing_is_limited(client):
    assert (
        client.get(reverse("associations:certificate", args=["0" * CODE_LENGTH])).status_code == 404
    )
    assert client.get(reverse("associations:certificate", args=["<script>"])).status_code == 404
    statuses = [
        client.get(reverse("associations:certificate", args=[f"{i:016d}"])).status_code
        for i in range(25)
    ]
    assert statuses[0] == 404 and statuses[-1] == 429


def test_no_certificate_for_an_open_campaign_or_another_association(
    client, association, account, program
):
    client.force_login(account)
    assert client.get(reverse("associations:certificate_pdf", args=[program.pk])).status_code == 404
    other_program = f.ProgramFactory(caisse_regionale=program.caisse_regionale, year=2020)
    assert (
        client.get(reverse("associations:certificate_pdf", args=[other_program.pk])).status_code
        == 404
    )


def test_codes_are_normalised():
    assert normalise_code("abcd-efgh-jkmn-pqrs") == "ABCDEFGHJKMNPQRS"
    assert normalise_code("ABCD") is None
    assert normalise_code("IIII-IIII-IIII-IIII") is None
