"""The member gives Tookets in a real browser and sees her balance and the association's
figures change."""

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from cagnotte.figures import read_figures
from cagnotte.models import Wallet
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tookets.periods import current_period

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def close_connections_opened_beside_playwright(page):
    """Playwright's sync API runs the test in a greenlet of its own, with its own context: a
    database connection opened there is not the one pytest-django closes, and would block
    the test database's teardown. Close it while still in that context."""
    yield
    connections.close_all()


def log_in(page, live_server, user):
    """Inject a session cookie: the login page is another issue's work."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_member_gives_and_sees_balance_and_figures_change(
    page, live_server, member, program, association
):
    credit(member, program, 300, period="2000-01")
    credit(member, program, 410, period=current_period())
    log_in(page, live_server, member)

    page.goto(reverse("cagnotte:wallet"))
    assert page.locator("h1").inner_text() == "MA CAGNOTTE DE TOOKETS"
    assert page.locator('[data-figure="collected"]').inner_text() == "410\u00a0K"
    assert page.locator('[data-figure="balance"]').inner_text() == "710\u00a0K"

    page.goto(reverse("cagnotte:give", args=[association.pk]))
    assert page.locator('[data-figure="supporters"]').inner_text() == "0 personne nous a soutenu"
    amount = page.get_by_label("Montant du don pour le programme Carte Sociétaire - GERS")
    assert amount.input_value() == "710"  # the whole balance by default
    amount.fill("600")
    page.get_by_role("button", name="VALIDER LA DEMANDE").click()

    page.wait_for_url("**/donner/recu/*/")
    assert (
        page.locator('[data-receipt="gift"]').inner_text()
        == "Merci ! Vous avez donné 600\u00a0K à Les Amis du Gers."
    )
    assert (
        "Il vous reste 110\u00a0K à distribuer"
        in page.locator('[data-receipt="left"]').inner_text()
    )
    page.get_by_role("link", name="Voir ma cagnotte").click()
    assert page.locator('[data-figure="balance"]').inner_text() == "110\u00a0K"
    assert "\u2212600\u00a0K" in page.locator(".history").inner_text()

    page.goto(reverse("cagnotte:give", args=[association.pk]))
    assert page.locator('[data-figure="supporters"]').inner_text() == "1 personne nous a soutenu"
    assert page.locator('[data-figure="received-this-year"]').inner_text() == "600\u00a0K"

    figures = read_figures([association.pk])[0][association.pk]
    assert (figures.supporters, figures.received_total) == (1, 600)
    assert Wallet.objects.get(member=member).balance == 110
    assert_ledger_consistent()


def test_too_much_is_refused_in_french(page, live_server, member, program, association):
    credit(member, program, 50)
    log_in(page, live_server, member)
    page.goto(reverse("cagnotte:give", args=[association.pk]))
    amount = page.get_by_label("Montant du don pour le programme Carte Sociétaire - GERS")
    # Past the browser's own checks (max=50) to reach the server's message.
    amount.evaluate("el => el.removeAttribute('max')")
    amount.fill("51")
    page.get_by_role("button", name="VALIDER LA DEMANDE").click()
    page.wait_for_load_state()
    assert "Le montant dépasse les Tookets qu’il vous reste à distribuer." in page.content()
    assert Wallet.objects.get(member=member).balance == 50
