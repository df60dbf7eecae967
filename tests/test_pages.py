"""The pages people look for: error pages (DEBUG off), favicon, « Comment ça marche », the
home's sociétariat, and the public « Résultats » of a regional bank."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults
from django_ratelimit.exceptions import Ratelimited

from cagnotte.models import Wallet
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit
from tookets.views import too_many_requests

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]


def assert_site_page_with_a_way_back(html):
    assert 'lang="fr"' in html
    assert "css/tookets.css" in html and "TOOKETS" in html
    assert 'href="/"' in html and "Revenir à l’accueil" in html


def test_404_in_the_sites_style(client, production):
    response = client.get("/cette-page-n-existe-pas/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page introuvable" in html
    assert "<title>Page introuvable — Tookets</title>" in html
    assert_site_page_with_a_way_back(html)


def test_403_in_the_sites_style(rf, production):
    request = rf.get("/")
    request.user = f.MemberFactory.build()
    response = defaults.permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    html = response.content.decode()
    assert "Accès refusé" in html
    assert_site_page_with_a_way_back(html)


def test_429_when_a_rate_limit_blocks(client, production, settings):
    assert settings.RATELIMIT_VIEW == "tookets.views.too_many_requests"
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = too_many_requests(request, Ratelimited())
    assert response.status_code == 429
    html = response.content.decode()
    assert "Trop de demandes" in html
    assert_site_page_with_a_way_back(html)


def test_500_in_the_sites_style_without_a_request_context(rf, production):
    response = defaults.server_error(rf.get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Une erreur est survenue" in html
    assert_site_page_with_a_way_back(html)


def test_favicon(client):
    html = client.get(reverse("home")).content.decode()
    assert 'rel="icon"' in html and "favicon.svg" in html
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")


def test_how_it_works_follows_the_guide(client):
    response = client.get(reverse("how_it_works"))
    assert response.status_code == 200
    html = response.content.decode()
    for heading in (
        "Récolter des Tookets",
        "Comment et pourquoi choisir une association favorite ?",
        "Distribuer ses Tookets",
        "Inscrire son association",
        "Se désabonner des mails ou clôturer son compte",
    ):
        assert heading in html, heading
    assert "à la fin de l’année, le solde de vos Tookets est automatiquement affecté" in html
    assert "VALIDER LA DEMANDE" in html


def test_home_explains_the_societariat(client):
    html = client.get(reverse("home")).content.decode()
    assert "Le sociétariat, c’est quoi ?" in html
    assert "copropriétaire de sa banque coopérative" in html
    assert reverse("how_it_works") in html and reverse("cagnotte:results") in html


# --- « Résultats » ----------------------------------------------------------------------------


@pytest.fixture
def campaign(member, program, association, other_member, other_caisse):
    """Gifts in this year's program of Pyrénées Gascogne; another bank's gift beside it."""
    second = f.AssociationFactory(caisse_regionale=program.caisse_regionale, name="Chorale")
    f.EnrollmentFactory(association=second, program=program)
    credit(member, program, 1000)
    wallet = Wallet.objects.get(member=member, program=program)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=600, token="r1"
    )
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=second.pk, amount=150, token="r2"
    )
    other_program = f.ProgramFactory(caisse_regionale=other_caisse, code="carte-31")
    elsewhere = f.AssociationFactory(caisse_regionale=other_caisse, name="Club Toulousain")
    f.EnrollmentFactory(association=elsewhere, program=other_program)
    credit(other_member, other_program, 5000)
    other_wallet = Wallet.objects.get(member=other_member)
    give_tookets(
        member=other_member,
        wallet_id=other_wallet.pk,
        association_id=elsewhere.pk,
        amount=4000,
        token="r3",
    )
    return program


def test_results_of_a_regional_bank_without_personal_data(client, campaign, member):
    response = client.get(reverse("cagnotte:results_of", args=["pyrenees-gascogne"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Résultats – Pyrénées Gascogne" in html
    assert f"Campagne {campaign.year} – {campaign.name}" in html
    assert 'data-figure="given">750\u00a0K<' in html
    assert 'data-figure="euros">7,50\u00a0€<' in html
    assert 'data-figure="associations">2<' in html
    assert "Jeanne Dupont" not in html and member.account_number not in html
    assert "4\u202f000" not in html  # another bank's gift


def test_results_ask_for_a_bank_then_go_to_its_page(client, campaign):
    response = client.get(reverse("cagnotte:results"))
    assert response.status_code == 200
    assert "Pyrénées Gascogne" in response.content.decode()
    response = client.get(reverse("cagnotte:results"), {"caisse": "toulouse-31"})
    assert response.status_code == 302
    assert response["Location"] == reverse("cagnotte:results_of", args=["toulouse-31"])
    html = client.get(response["Location"]).content.decode()
    assert 'data-figure="given">4\u202f000\u00a0K<' in html


@pytest.mark.parametrize("bad", ["nope", "", "<script>", "../admin"])
def test_results_of_an_unknown_bank_is_a_404(client, bad):
    assert client.get(reverse("cagnotte:results"), {"caisse": bad}).status_code == 404


def test_results_query_count_does_not_grow(client, campaign, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        client.get(reverse("cagnotte:results_of", args=["pyrenees-gascogne"]))


def test_robots_txt_keeps_robots_out_of_the_admin(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines and "Disallow: /admin/" in lines
