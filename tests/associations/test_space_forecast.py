"""What is coming, for associations (issue 19, item 3): per campaign running or waiting for
its sweep, how many members chose it as favourite and what the sweep should bring (a
forecast), never who they are; the payout calendar. The space's cache follows each write."""

import pytest
from django.urls import reverse

from cagnotte.models import Favourite, Wallet
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

SPACE = reverse("associations:space")


@pytest.fixture
def asso_user(pg_caisse):
    return f.UserFactory(kind="association", caisse_regionale=pg_caisse)


@pytest.fixture
def asso(asso_user, program):
    association = f.AssociationFactory(
        caisse_regionale=asso_user.caisse_regionale,
        user=asso_user,
        account_number=asso_user.account_number,
        name="Les Amis du Gers",
    )
    f.EnrollmentFactory(association=association, program=program)
    return association


def page(client) -> str:
    response = client.get(SPACE)
    assert response.status_code == 200
    return response.content.decode()


def test_the_forecast_follows_favourites_and_balances(
    client, asso_user, asso, program, pg_caisse, association, django_assert_max_num_queries
):
    jeanne = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Jeanne Secrète")
    paul = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Paul Secret")
    credit(jeanne, program, 300, reference="j1")
    credit(paul, program, 80, reference="p1")
    Favourite.objects.create(member=jeanne, association=asso)
    Favourite.objects.create(member=paul, association=association)  # another one
    client.force_login(asso_user)
    html = page(client)
    assert "1 sociétaire a choisi votre association comme favorite." in html
    assert 'data-figure="forecast">300\u00a0K<' in html
    assert f"Carte Sociétaire - GERS {program.year}" in html
    assert "Jeanne" not in html and "Paul" not in html  # never who they are
    with django_assert_max_num_queries(2):  # user, the state with the forecast: no more
        page(client)
    credit(jeanne, program, 50, reference="j2")
    assert 'data-figure="forecast">350\u00a0K<' in page(client)
    Favourite.objects.filter(member=paul).update(association=asso)
    html = page(client)
    assert "2 sociétaires ont choisi votre association comme favorite." in html
    assert 'data-figure="forecast">430\u00a0K<' in html
    wallet = Wallet.objects.get(member=jeanne)
    give_tookets(member=jeanne, wallet_id=wallet.pk, association_id=asso.pk, amount=100, token="g")
    assert 'data-figure="forecast">330\u00a0K<' in page(client)


def test_no_forecast_once_swept_and_the_payout_calendar(
    client, asso_user, asso, pg_caisse, staff_pg
):

    from django.utils import timezone

    from cagnotte.payouts import compute_payout_statement, mark_statement_sent
    from cagnotte.sweep import sweep_program

    year = timezone.localdate().year - 1
    past = f.ProgramFactory(caisse_regionale=pg_caisse, code="passee", year=year)
    f.EnrollmentFactory(association=asso, program=past)
    member = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(member, past, 500, period=f"{year}-03", reference="past-1")
    Favourite.objects.create(member=member, association=asso)
    client.force_login(asso_user)
    html = page(client)
    assert f"Carte Sociétaire - GERS {year}" in html and "en attente du soldage" in html
    assert 'data-figure="forecast">500\u00a0K<' in html
    sweep_program(program=past)
    statement = compute_payout_statement(program=past, actor=staff_pg)
    html = page(client)
    assert 'data-figure="forecast">500\u00a0K<' not in html
    today = timezone.localdate().strftime("%d/%m/%Y")
    assert f"état établi le {today}." in html and "Versement prévu : 5,00 €" in html
    mark_statement_sent(statement=statement, actor=staff_pg)
    assert f"envoyé à la banque le {today}." in page(client)


def test_without_favourites_the_space_says_so_in_french(client, asso_user, asso):
    client.force_login(asso_user)
    html = page(client)
    assert "Aucun sociétaire n’a encore choisi votre association comme favorite." in html
    assert 'data-figure="forecast">0\u00a0K<' in html and "0 sociétaires" not in html
