"""The wallet page's cached content stays exact: every write that changes the page shows on
the next request, one member's content is never served to another (PostgreSQL and SQLite)."""

import datetime

import pytest
from django.urls import reverse

from associations.models import Association
from cagnotte.campaigns import Program
from cagnotte.models import Wallet
from cagnotte.services import give_tookets
from cagnotte.sweep import sweep_program
from tests import factories as f
from tests.cagnotte.helpers import credit
from tookets.periods import current_period

WALLET = reverse("cagnotte:wallet")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def page(client) -> str:
    response = client.get(WALLET)
    assert response.status_code == 200
    return response.content.decode()


def test_a_gift_and_a_credit_show_at_once(member_client, member, program, association):
    credit(member, program, 500, period=current_period())
    assert 'data-figure="balance">500\u00a0K<' in page(member_client)
    assert 'data-figure="balance">500\u00a0K<' in page(member_client)  # from the cache
    wallet = Wallet.objects.get(member=member)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=120, token="t1"
    )
    html = page(member_client)
    assert 'data-figure="balance">380\u00a0K<' in html and "\u2212120\u00a0K" in html
    credit(member, program, 7, period=current_period())
    html = page(member_client)
    assert 'data-figure="collected">507\u00a0K<' in html
    assert 'data-figure="balance">387\u00a0K<' in html


def test_a_first_wallet_without_entries_shows(member_client, member, program):
    assert "Vous n’avez pas encore reçu de Tookets" in page(member_client)
    Wallet.objects.create(member=member, program=program)
    assert 'data-figure="balance">0\u00a0K<' in page(member_client)


def test_renames_show(member_client, member, program, association):
    credit(member, program, 500)
    wallet = Wallet.objects.get(member=member)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=100, token="t"
    )
    assert "Les Amis du Gers" in page(member_client)
    Program.objects.filter(pk=program.pk).update(name="Carte sociétaire renommée")
    assert "Carte sociétaire renommée" in page(member_client)
    Association.objects.filter(pk=association.pk).update(name="Les Nouveaux Amis")
    assert "Les Nouveaux Amis" in page(member_client)
    # An association that is no longer validated leaves the directory (its version is not
    # bumped by its later edits), yet the history still names it as it is now.
    Association.objects.filter(pk=association.pk).update(status=Association.Status.REJECTED)
    page(member_client)
    Association.objects.filter(pk=association.pk).update(name="Renommée après retrait")
    assert "Renommée après retrait" in page(member_client)


def test_the_sweep_shows(member_client, member, pg_caisse):
    past = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="ancien",
        year=2020,
        opens_on=datetime.date(2020, 1, 1),
        closes_on=datetime.date(2020, 12, 31),
    )
    credit(member, past, 250, period="2020-03")
    assert 'data-figure="balance">250\u00a0K<' in page(member_client)
    sweep_program(program=past)
    html = page(member_client)
    # Swept: the campaign leaves the figures (its balance is 0 K: nothing left to show) and
    # stays in the history, where the return to the bank shows.
    assert 'data-figure="balance">' not in html
    assert 'data-campaign-state="swept"' in html
    assert "Retour à la caisse régionale" in html and "\u2212250\u00a0K" in html


def test_history_pages_are_cached_apart(member_client, member, program):
    for month in range(1, 26):
        credit(member, program, month, period=f"2000-{(month - 1) % 12 + 1:02d}")
    first = page(member_client)
    second = member_client.get(WALLET, {"page": 2}).content.decode()
    assert "Page 1 sur 2" in first and "Page 2 sur 2" in second
    assert first != second


def test_one_members_content_is_never_anothers(client, member, program, pg_caisse):
    twin = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Jumelle")
    credit(member, program, 111)
    credit(twin, program, 222)
    client.force_login(member)
    assert 'data-figure="balance">111\u00a0K<' in page(client)
    client.force_login(twin)
    html = page(client)
    assert 'data-figure="balance">222\u00a0K<' in html and "111\u00a0K" not in html
