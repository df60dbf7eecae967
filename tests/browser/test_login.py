"""The demo member logs in through the keypad, by mouse and by keyboard (Debian's Chromium)."""

import re

import pytest
from playwright.sync_api import expect

from tests import factories as f

# serialized_rollback: the flush after each test would drop the regional banks loaded by a
# data migration; they are restored for the next test.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def jeanne(db):
    return f.BankCustomerFactory(
        caisse_regionale=f.caisse("pyrenees-gascogne"),
        account_number="98652706859",
        name="Jeanne Dupont",
    )


def _identify(page):
    page.goto("/connexion/")
    page.get_by_label("Caisse").select_option(label="Pyrénées Gascogne")
    page.get_by_label("IDENTIFIANT", exact=True).fill("98652706859")
    page.get_by_role("button", name="ENTRER MON CODE PERSONNEL").click()
    expect(page.get_by_role("group", name="Code personnel")).to_be_visible()
    # keypad.js is deferred: wait until it listens (it announces the empty code), or the
    # first keys could be pressed before it does and be lost.
    expect(page.locator("[data-keypad-status]")).to_have_text("Aucun chiffre saisi sur 6")


def test_demo_member_logs_in_by_clicking_the_keypad(page, jeanne):
    _identify(page)
    status = page.locator("[data-keypad-status]")
    submit = page.get_by_role("button", name="VALIDER")
    expect(submit).to_be_disabled()
    for digit in "123456":
        page.get_by_role("button", name=f"Chiffre {digit}", exact=True).click()
    expect(status).to_have_text(re.compile("6 chiffres saisis sur 6"))
    # What is posted is the positions, not the code.
    assert page.locator("input[name=positions]").input_value() != "123456"
    expect(submit).to_be_enabled()
    submit.click()
    expect(page).to_have_url(re.compile(r"/cagnotte/$"))
    expect(page.get_by_role("navigation", name="Menu principal")).to_be_visible()
    expect(page.get_by_text("Jeanne Dupont")).to_be_visible()

    # Next time the identifier is pre-filled on this device.
    page.get_by_role("button", name="Se déconnecter").click()
    page.goto("/connexion/")
    expect(page.get_by_label("IDENTIFIANT", exact=True)).to_have_value("98652706859")


def test_demo_member_logs_in_by_typing_on_the_keyboard(page, jeanne):
    page.set_viewport_size({"width": 360, "height": 740})
    _identify(page)
    status = page.locator("[data-keypad-status]")
    page.keyboard.type("12")
    expect(status).to_have_text("2 chiffres saisis sur 6")
    page.keyboard.press("Backspace")
    expect(status).to_have_text("1 chiffre saisi sur 6")
    page.keyboard.type("9")
    page.keyboard.press("Escape")
    expect(status).to_have_text("Aucun chiffre saisi sur 6")
    page.keyboard.type("123456")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cagnotte/$"))


def test_a_wrong_code_shows_a_fresh_keypad(page, jeanne):
    _identify(page)
    first = page.locator(".keypad-key[data-position]").all_inner_texts()
    page.keyboard.type("000000")
    page.get_by_role("button", name="VALIDER").click()
    expect(page.get_by_role("alert")).to_contain_text("Identifiant ou code personnel incorrect.")
    second = page.locator(".keypad-key[data-position]").all_inner_texts()
    assert sorted(second) == list("0123456789")
    assert len(first) == len(second) == 10
