"""Campaigns named by their year and state, everywhere (issue 19, item 1): one label and one
state (cagnotte/campaigns.py) read by the wallet, the history, the gift form, the receipt and
the emails; the wallet's cached content follows every input of the closed campaign's notice."""

import datetime
import re

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from associations.models import Association
from cagnotte.campaigns import CampaignState, Enrollment, Program, campaign_state
from cagnotte.models import Favourite, Wallet
from cagnotte.payouts import compute_payout_statement, mark_statement_paid, mark_statement_sent
from cagnotte.selectors import year_end_state_sql
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


@pytest.fixture
def last_year(pg_caisse, association):
    """Last year's campaign, closed and waiting for its sweep, the association enrolled."""
    year = timezone.localdate().year - 1
    program = f.ProgramFactory(caisse_regionale=pg_caisse, code=f"carte-{year}", year=year)
    f.EnrollmentFactory(association=association, program=program)
    return program


def states(day):
    return dict(Program.objects.annotate(state=campaign_state(day)).values_list("code", "state"))


def test_the_label_carries_the_year_once(pg_caisse):
    program = f.ProgramFactory(
        caisse_regionale=pg_caisse, name="Carte Sociétaire - GERS", year=2025
    )
    assert program.label == "Carte Sociétaire - GERS 2025" == str(program)
    program.name = "Campagne 2025 du Gers"
    assert program.label == "Campagne 2025 du Gers"


def test_the_state_through_the_year_follows_the_rules(pg_caisse, staff_pg):
    program = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="c2020",
        year=2020,
        opens_on=datetime.date(2020, 1, 1),
        closes_on=datetime.date(2020, 12, 31),
    )
    assert states(datetime.date(2019, 12, 31))["c2020"] == CampaignState.UPCOMING
    assert states(datetime.date(2020, 12, 31))["c2020"] == CampaignState.OPEN
    assert states(datetime.date(2021, 1, 1))["c2020"] == CampaignState.CLOSED
    assert program.status(on=datetime.date(2020, 6, 1)).text == "ouverte jusqu’au 31/12/2020"
    member = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(member, program, 40, period="2020-02")
    sweep_program(program=program)
    program.refresh_from_db()
    # Swept, even on a day it would be open: a swept program is closed everywhere.
    assert states(datetime.date(2020, 6, 1))["c2020"] == CampaignState.SWEPT
    assert program.status().text.startswith("soldée le ")
    statement = compute_payout_statement(program=program, actor=staff_pg)
    mark_statement_sent(statement=statement, actor=staff_pg)
    assert program.status().state == CampaignState.SWEPT  # sent is not paid
    mark_statement_paid(statement=statement, actor=staff_pg)
    status = program.status()
    assert status.state == CampaignState.PAID and status.is_over
    assert status.text == (f"soldée, versée aux associations le {timezone.localdate():%d/%m/%Y}")


def test_the_wallet_tells_the_years_apart(member_client, member, program, last_year, association):
    credit(member, program, 410, period=current_period())
    credit(member, last_year, 1741, period=f"{last_year.year}-12")
    html = page(member_client)
    this_year = timezone.localdate().year
    # The figures list the open campaign only, named with its year and its close.
    assert html.count('data-figure="balance"') == 2  # the open row and the closed notice
    assert f"Carte Sociétaire - GERS {this_year}" in html
    assert f"ouverte jusqu’au 31/12/{this_year}" in html
    start = html.index("RÉCOLTÉ CE MOIS CI")
    figures = html[start : html.index("</div>", start)]  # the two panels of figures
    assert figures.count(f"Carte Sociétaire - GERS {this_year} ") == 2
    # The closed campaign: what it holds cannot be given, and goes back to the bank.
    closed = html[html.index(f"Carte Sociétaire - GERS {last_year.year} : campagne close") :]
    assert "1\u202f741\u00a0K" in closed and "retourneront à votre Caisse régionale" in closed
    assert reverse("associations:favourites") in closed
    # Only this year's Tookets are « left to give ».
    assert "Pensez à les distribuer" in html


def test_the_closed_notice_follows_the_favourite(member_client, member, last_year, association):
    credit(member, last_year, 1741, period=f"{last_year.year}-12")
    assert "retourneront à votre Caisse régionale" in page(member_client)
    Favourite.objects.create(member=member, association=association)
    html = page(member_client)
    assert "seront versés à <strong>Les Amis du Gers</strong>" in html
    assert "Pensez à les distribuer" not in html  # closed: nothing left to give
    # The favourite leaves that campaign: the notice says so at once.
    last_year.enrollments.filter(association=association).delete()
    assert "retourneront à votre Caisse régionale" in page(member_client)


def test_the_page_follows_the_day(member_client, member, program, monkeypatch):
    credit(member, program, 99, period=current_period())
    assert "ouverte jusqu’au" in page(member_client)
    after_close = program.closes_on + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: after_close)
    html = page(member_client)
    assert "campagne close" in html and "ouverte jusqu’au" not in html


def test_a_paid_campaign_shows_at_once(member_client, member, pg_caisse, staff_pg):
    past = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="ancien",
        year=2020,
        opens_on=datetime.date(2020, 1, 1),
        closes_on=datetime.date(2020, 12, 31),
    )
    credit(member, past, 250, period="2020-03")
    sweep_program(program=past)
    assert 'data-campaign-state="swept"' in page(member_client)
    statement = compute_payout_statement(program=Program.objects.get(pk=past.pk), actor=staff_pg)
    mark_statement_sent(statement=statement, actor=staff_pg)
    mark_statement_paid(statement=statement, actor=staff_pg)
    assert 'data-campaign-state="paid"' in page(member_client)


def test_history_gift_form_receipt_and_emails_name_the_year(
    member_client, member, program, association, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    credit(member, program, 300, period=current_period())
    label = f"Carte Sociétaire - GERS {program.year}"
    give = reverse("cagnotte:give", args=[association.pk])
    form = member_client.get(give).content.decode()
    assert f"Montant du don pour le programme {label}" in form
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    wallet = Wallet.objects.get(member=member)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            give, {"wallet": wallet.pk, "amount": 100, "token": token}, follow=True
        )
    assert f"dans le programme « {label} »" in response.content.decode()
    assert f'Les Amis du Gers <small class="campaign">{label}</small>' in page(member_client)
    assert len(mail.outbox) == 1 and f"« {label} »" in mail.outbox[0].body


# --- The year end, shown before it happens (item 2) --------------------------------------------

FAVOURITES = reverse("associations:favourites")


def test_the_year_end_is_previewed_from_the_reminder(
    member_client, member, program, association, monkeypatch, django_assert_num_queries
):
    credit(member, program, 110, period=current_period())
    early = program.closes_on - datetime.timedelta(days=program.reminder_days_before + 1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: early)
    assert "data-year-end" not in page(member_client)
    assert "data-year-end" not in member_client.get(FAVOURITES).content.decode()
    due = program.closes_on - datetime.timedelta(days=program.reminder_days_before)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: due)
    closes = program.closes_on.strftime("%d/%m/%Y")
    for html in (page(member_client), member_client.get(FAVOURITES).content.decode()):
        assert f"Le {closes}, vos <strong>110\u00a0K</strong> retourneront à votre Caisse" in html
    assert "Choisir mon association favorite" in page(member_client)
    Favourite.objects.create(member=member, association=association)
    expected = f"Le {closes}, vos <strong>110\u00a0K</strong> iront à <strong>Les Amis du Gers"
    assert expected in page(member_client)
    member_client.get(FAVOURITES)
    # user, then the figures with the version and the preview in one statement: no more
    with django_assert_num_queries(2):
        favourites = member_client.get(FAVOURITES).content.decode()
    assert expected in favourites
    # A gift moves the balance the preview shows, at once.
    give_tookets(
        member=member, association_id=association.pk, amount=10, token="preview", program=program
    )
    assert "vos <strong>100\u00a0K</strong> iront à <strong>Les Amis du Gers" in (
        member_client.get(FAVOURITES).content.decode()
    )


def test_the_year_end_is_previewed_without_a_favourite_nor_a_card(
    member_client, member, program, monkeypatch, django_assert_num_queries
):
    """No favourite and a search matching nothing: no row of the figures' statement carries
    the year end, so it is read on its own, and still shown."""
    credit(member, program, 110, period=current_period())
    due = program.closes_on - datetime.timedelta(days=program.reminder_days_before)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: due)
    closes = program.closes_on.strftime("%d/%m/%Y")
    expected = f"Le {closes}, vos <strong>110\u00a0K</strong> retourneront à votre Caisse"
    nothing = {"q": "zzqxw nothing matches this"}
    member_client.get(FAVOURITES, nothing)
    # user, the figures under the version assumed (no row to check it with), the version, the
    # figures again (no row), then the version with the year end
    with django_assert_num_queries(5):
        html = member_client.get(FAVOURITES, nothing).content.decode()
    assert expected in html


def test_a_closed_campaign_waiting_for_its_sweep_is_previewed_as_closed(
    member_client, member, last_year, association
):
    credit(member, last_year, 1741, period=f"{last_year.year}-12")
    Favourite.objects.create(member=member, association=association)
    html = member_client.get(FAVOURITES).content.decode()
    closes = last_year.closes_on.strftime("%d/%m/%Y")
    assert (
        f"Campagne close le {closes} : lors du soldage, vos <strong>1\u202f741\u00a0K</strong>"
        " iront à <strong>Les Amis du Gers" in html
    )
    assert "d’ici là" not in html  # a closed campaign can no longer be given


def test_after_the_sweep_the_wallet_says_what_went_where(
    member_client, member, last_year, association
):
    credit(member, last_year, 1741, period=f"{last_year.year}-12")
    Favourite.objects.create(member=member, association=association)
    sweep_program(program=last_year)
    html = page(member_client)
    assert "1\u202f741\u00a0K donnés à Les Amis du Gers, votre association favorite" in html
    favourites = member_client.get(FAVOURITES).content.decode()
    assert (
        f"Au soldage de Carte Sociétaire - GERS {last_year.year}, vos 1\u202f741\u00a0K "
        "restants sont allés à Les Amis du Gers, votre association favorite." in favourites
    )


def test_the_kept_year_end_follows_every_write_it_reads(
    member_client, member, last_year, association, django_assert_num_queries
):
    """On PostgreSQL the favourites page reads only what names its year end (each wallet's
    row version, the favourite, the directory's version) and shows the preview kept under it:
    every write the preview reads must still show at once, raw writes included — among them
    the rename of an association the last sweep went to, no longer validated."""

    def favourites(count=None) -> str:
        if count is None:
            return member_client.get(FAVOURITES).content.decode()
        with django_assert_num_queries(count):
            return member_client.get(FAVOURITES).content.decode()

    kept = connection.vendor == "postgresql"
    credit(member, last_year, 1741, period=f"{last_year.year}-12")
    Favourite.objects.create(member=member, association=association)
    bravo = f.AssociationFactory(caisse_regionale=last_year.caisse_regionale, name="Bravo")
    enrolled = f.EnrollmentFactory(association=bravo, program=last_year)
    assert "vos <strong>1\u202f741\u00a0K</strong> iront à <strong>Les Amis du Gers" in (
        favourites()
    )
    # user, then the figures with what names the year end: its preview is kept
    favourites(2)

    credit(member, last_year, 9, period=f"{last_year.year}-11")
    # user, the figures, then the year end with its state (new): one statement more
    assert "vos <strong>1\u202f750\u00a0K</strong>" in favourites(3 if kept else 2)
    favourites(2)

    Favourite.objects.filter(member=member).update(association=bravo)
    assert "iront à <strong>Bravo" in favourites()
    Enrollment.objects.filter(pk=enrolled.pk).delete()
    assert "vos <strong>1\u202f750\u00a0K</strong> retourneront à votre Caisse" in favourites()
    Favourite.objects.filter(member=member).update(association=association)
    assert "iront à <strong>Les Amis du Gers" in favourites()

    sweep_program(program=last_year)
    label = f"Carte Sociétaire - GERS {last_year.year}"
    assert f"Au soldage de {label}, vos 1\u202f750\u00a0K restants sont allés à Les Amis" in (
        favourites()
    )
    Program.objects.filter(pk=last_year.pk).update(name="Carte Jeune")
    assert f"Au soldage de Carte Jeune {last_year.year}, vos" in favourites()
    # No longer validated (that bumps the version), then renamed: a write to a row no page of
    # the directory shows, which the year end still names.
    Association.objects.filter(pk=association.pk).update(status=Association.Status.REJECTED)
    assert "sont allés à Les Amis du Gers" in favourites()
    favourites()  # the directory's guess of its version, checked again after it moved
    favourites(2)
    Association.objects.filter(pk=association.pk).update(name="Les Anciens du Gers")
    assert "sont allés à Les Anciens du Gers" in favourites()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="xmin is PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_year_ends_state_survives_a_freeze(member, last_year):
    """The state names a wallet row by its ``xmin``: a VACUUM FREEZE must not change it (or a
    row frozen, rewritten, then frozen again would name two balances alike). PostgreSQL keeps
    the row's own transaction id when it freezes it; this checks it does."""
    credit(member, last_year, 1741, period=f"{last_year.year}-12")
    sql, params = year_end_state_sql(member)

    def state():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {sql}", params)
            return cursor.fetchone()[0]

    before = state()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (FREEZE) cagnotte_wallet")
        # Frozen: every transaction id older than the table's relfrozenxid is.
        cursor.execute(
            "SELECT w.xmin::text::bigint < c.relfrozenxid::text::bigint "
            "FROM cagnotte_wallet w, pg_class c "
            "WHERE c.relname = 'cagnotte_wallet' AND w.member_id = %s",
            [member.pk],
        )
        assert cursor.fetchone() == (True,)
    assert state() == before
    credit(member, last_year, 9, period=f"{last_year.year}-11")
    assert state() != before
