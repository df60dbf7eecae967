"""A president registers the association in Chromium: keypad, steps, map, review, submit."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from associations.models import Activity, Association, Domain
from tests import factories as f

ASSO_ACCOUNT = "98652790001"
PRESIDENT_ACCOUNT = "98652700001"


@pytest.fixture
def demo_bank_association(pg_caisse):
    local = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, name="Auch Centre")
    f.bank_association(pg_caisse, local, account=ASSO_ACCOUNT, manager_account=PRESIDENT_ACCOUNT)
    return local


def type_code_on_keypad(page, code):
    for digit in code:
        page.get_by_role("button", name=f"Chiffre {digit}", exact=True).click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_president_registers_the_association(page, pg_caisse, demo_bank_association):
    page.goto("/")
    page.get_by_role("link", name="Association ? Créez votre compte").first.click()
    page.get_by_role("link", name="J'ai un compte Crédit Agricole").click()

    page.get_by_label("Caisse régionale dont l’association est cliente").select_option(
        label="Pyrénées Gascogne"
    )
    page.get_by_label("Numéro de compte de l’association").fill(ASSO_ACCOUNT)
    page.wait_for_load_state("load")  # the keypad's deferred script listens: no click is lost
    type_code_on_keypad(page, f.DEMO_CODE)
    assert page.locator(".keypad-dot.is-filled").count() == 6
    page.get_by_role("button", name="VALIDER").click()

    # Identity: the bank's data is already there.
    assert (
        page.get_by_label("Nom de l’association").input_value() == "Association Sportive Gersoise"
    )
    page.get_by_label("Numéro RNA").fill("W321000123")
    page.get_by_label("Date de parution au Journal Officiel").fill("2010-05-01")
    page.get_by_label("Président(e) / représentant(e) légal(e)").fill("Marie Curie")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # Presentation: too short first, the French error shows next to the field.
    page.get_by_label("Présentation").fill("Trop court.")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    assert (
        page.locator("#id_presentation_error")
        .inner_text()
        .startswith("La présentation doit comporter au moins 30 caractères")
    )
    page.get_by_label("Présentation").fill(
        "Club de rugby des jeunes du Gers depuis 1950, ouvert à toutes et tous."
    )
    page.get_by_role("button", name="Enregistrer et continuer").click()

    page.locator("#id_activity").select_option(label=Activity.objects.first().label)
    page.locator("#id_domain").select_option(label=Domain.objects.first().label)
    page.get_by_label("Caisse locale (votre agence)").select_option(label="Auch Centre")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # Address: the bank's address is pre-filled; a click on the map places the marker and
    # fills the coordinates (the map opens on the regional bank's territory).
    assert page.locator("#id_address").input_value() == "2 rue du Stade"
    map_box = page.locator("#registration-map")
    map_box.wait_for()
    # A locator, not wait_for_function: the page's CSP forbids the eval a string predicate
    # needs whenever it has to poll.
    page.locator(".leaflet-marker-icon").wait_for()
    box = map_box.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2 + 10)
    latitude = float(page.locator("#id_latitude").input_value())
    longitude = float(page.locator("#id_longitude").input_value())
    assert pg_caisse.min_lat <= latitude <= pg_caisse.max_lat
    assert pg_caisse.min_lng <= longitude <= pg_caisse.max_lng
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # Review, declaration, submit.
    assert "W321000123" in page.content()
    page.get_by_label("Je certifie être le représentant légal").check()
    page.get_by_role("button", name="Envoyer l’inscription").click()
    assert "En cours de vérification" in page.locator(".status-text").inner_text()

    association = Association.objects.get(account_number=ASSO_ACCOUNT)
    assert association.status == Association.Status.SUBMITTED
    assert association.latitude == pytest.approx(latitude)
    assert association.caisse_locale == demo_bank_association


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_president_types_the_code_on_the_keyboard(page, pg_caisse, demo_bank_association):
    # The wizard uses the login page's keypad: same keyboard entry, same status messages.
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(reverse("associations:register_auth"))
    status = page.locator("[data-keypad-status]")
    page.get_by_label("Caisse régionale dont l’association est cliente").select_option(
        label="Pyrénées Gascogne"
    )
    # Digits typed into the account number go there, not to the keypad.
    page.get_by_label("Numéro de compte de l’association").press_sequentially(ASSO_ACCOUNT)
    expect(status).to_have_text("Aucun chiffre saisi sur 6")
    expect(page.get_by_role("button", name="VALIDER")).to_be_disabled()

    page.get_by_text("Code personnel", exact=True).click()  # the keypad takes the keys
    page.keyboard.type("12")
    expect(status).to_have_text("2 chiffres saisis sur 6")
    page.keyboard.press("Backspace")
    expect(status).to_have_text("1 chiffre saisi sur 6")
    page.keyboard.press("Escape")
    page.keyboard.type(f.DEMO_CODE)
    expect(status).to_have_text("6 chiffres saisis sur 6 : vous pouvez valider")
    assert page.locator("input[name=positions]").input_value() != f.DEMO_CODE
    page.keyboard.press("Enter")

    expect(page.get_by_label("Nom de l’association")).to_have_value("Association Sportive Gersoise")
