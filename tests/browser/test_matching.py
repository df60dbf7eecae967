"""The demo's matching offer in a real browser: a member gives 100 K to a sports association
and sees 100 K added, on the form as she types and on the receipt (axe on each page)."""

import pytest
from django.urls import reverse

from associations.models import Activity
from cagnotte import demo
from cagnotte.models import MatchingOffer
from tests import factories as f
from tests.browser.test_give import close_connections_opened_beside_playwright, log_in  # noqa: F401
from tests.cagnotte.helpers import assert_ledger_consistent, credit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NBSP = "\u00a0"


def test_a_gift_to_a_sports_association_is_doubled_on_the_form_and_the_receipt(
    page, page_checks, live_server, member, program, pg_caisse
):
    sports = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        name="Rugby Club de Mirande",
        activity=Activity.objects.get(code="sport"),
    )
    f.EnrollmentFactory(association=sports, program=program)
    offer = demo.ensure_demo_offer(program)
    credit(member, program, 300)
    log_in(page, live_server, member)

    page.goto(reverse("cagnotte:give", args=[sports.pk]))
    offer_text = page.locator("[data-matching-offer]").inner_text()
    assert demo.DEMO_OFFER_NAME in offer_text
    assert f"jusqu’au {program.closes_on:%d/%m/%Y}" in offer_text
    amount = page.get_by_label("Montant du don pour le programme Carte Sociétaire - GERS")
    amount.fill("100")
    line = page.locator("[data-give-match]")
    assert line.inner_text() == (
        f"Votre don de 100{NBSP}K sera complété de 100{NBSP}K par votre Caisse régionale."
    )
    page_checks.run_axe(page)  # the sentence changed under the script
    page.get_by_role("button", name="VALIDER LA DEMANDE").click()

    page.wait_for_url("**/donner/recu/*/")
    assert page.locator('[data-receipt="matched"]').inner_text() == (
        f"Votre Caisse régionale a complété votre don de 100{NBSP}K ({demo.DEMO_OFFER_NAME})."
    )
    page.get_by_role("link", name="Voir ma cagnotte").click()
    assert f"+ 100{NBSP}K d’abondement" in page.locator(".history").inner_text()
    page.goto(reverse("cagnotte:give", args=[sports.pk]))
    assert page.locator('[data-figure="received-this-year"]').inner_text() == f"200{NBSP}K"
    assert page.locator('[data-figure="matched-this-year"]').inner_text() == (
        f"dont 100{NBSP}K d’abondement"
    )
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched) == (100, 1)
    assert MatchingOffer.objects.count() == 1
    assert_ledger_consistent()
