"""The public pages and the staff dashboard in Chromium: axe and the Nu Html Checker look at
each (``page`` fixture); the staff dashboard's charts come with their tables."""

import pytest
from playwright.sync_api import expect

from cagnotte.models import Wallet
from cagnotte.services import give_tookets
from tests.cagnotte.helpers import credit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_public_pages_a_visitor_looks_for(page, member, program, association):
    credit(member, program, 500)
    give_tookets(
        member=member,
        wallet_id=Wallet.objects.get(member=member).pk,
        association_id=association.pk,
        amount=320,
        token="pub",
    )
    page.goto("/")
    expect(page.get_by_role("heading", name="Le sociétariat, c’est quoi ?")).to_be_visible()
    page.get_by_role("link", name="Comment ça marche").first.click()
    expect(page.locator("h1")).to_have_text("Comment ça marche")
    page.get_by_role("link", name="Résultats", exact=True).click()
    page.get_by_label("Caisse régionale").select_option(label="Pyrénées Gascogne")
    page.get_by_role("button", name="Voir les résultats").click()
    expect(page.locator("h1")).to_have_text("Résultats – Pyrénées Gascogne")
    expect(page.locator('[data-figure="given"]')).to_have_text("320\u00a0K")
    expect(page.locator('[data-figure="euros"]')).to_have_text("3,20\u00a0€")
    response = page.goto("/cette-page-n-existe-pas/")
    assert response.status == 404
    page.get_by_role("link", name="Revenir à l’accueil").click()
    expect(page).to_have_title("Accueil — Tookets")


def test_staff_dashboard_charts(page, live_server, staff_pg, member, program, association):
    credit(member, program, 500)
    give_tookets(
        member=member,
        wallet_id=Wallet.objects.get(member=member).pk,
        association_id=association.pk,
        amount=120,
        token="dash",
    )
    staff_pg.set_password("staff-password")
    staff_pg.save(update_fields=["password"])
    page.goto("/admin/")
    page.get_by_label("Nom d’utilisateur").fill(staff_pg.username)
    page.get_by_label("Mot de passe").fill("staff-password")
    page.get_by_role("button", name="Connexion").click()
    page.goto("/admin/associations/association/tableau-de-bord/")
    charts = page.get_by_role("img")
    expect(page.locator("svg.bar-chart")).to_have_count(2)
    assert charts.count() >= 2
    expect(page.locator("#chart-given-per-month-table")).to_contain_text("120\u00a0K")
