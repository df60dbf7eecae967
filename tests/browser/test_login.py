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


# --- The code field beside the keypad (WCAG 2.2, 3.3.8) --------------------------------------


def test_demo_member_logs_in_by_pasting_the_code_into_the_field(page, jeanne):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _identify(page)
    field = page.get_by_label("Ou saisissez votre code personnel dans ce champ")
    expect(field).to_have_attribute("autocomplete", "current-password")
    expect(field).to_have_attribute("inputmode", "numeric")
    # A real paste: the code copied to the clipboard, then Control+V in the field.
    page.evaluate("navigator.clipboard.writeText(' 123 456\\n')")
    field.focus()
    page.keyboard.press("Control+V")
    expect(field).to_have_value("123456")
    # One way per post: the keypad is left empty, the button can send the field.
    assert page.locator("input[name=positions]").input_value() == ""
    submit = page.get_by_role("button", name="VALIDER")
    expect(submit).to_be_enabled()
    submit.click()
    expect(page).to_have_url(re.compile(r"/cagnotte/$"))
    expect(page.get_by_text("Jeanne Dupont")).to_be_visible()


def test_a_paste_event_on_the_field_and_on_the_keypad(page, jeanne):
    _identify(page)
    paste = """([selector, text]) => {
        const target = document.querySelector(selector);
        target.focus();
        const data = new DataTransfer();
        data.setData("text/plain", text);
        target.dispatchEvent(new ClipboardEvent("paste", {
            clipboardData: data, bubbles: true, cancelable: true }));
    }"""
    # Pasted outside the field, the code is typed on the keypad (positions, not digits).
    page.evaluate(paste, ["[data-keypad]", "123456"])
    expect(page.locator("[data-keypad-status]")).to_have_text(re.compile("6 chiffres saisis"))
    assert page.locator("input[name=positions]").input_value() != "123456"
    # Pasted into the field, it goes there and empties the keypad.
    page.evaluate(paste, ["[data-keypad-code]", "654321"])
    expect(page.locator("[data-keypad-code]")).to_have_value("654321")
    expect(page.locator("[data-keypad-status]")).to_have_text("Aucun chiffre saisi sur 6")
    page.get_by_role("button", name="VALIDER").click()
    expect(page.get_by_role("alert")).to_contain_text("Identifiant ou code personnel incorrect.")


def test_demo_member_logs_in_with_a_password_manager(page, jeanne):
    _identify(page)
    # A password manager finds the identifier it saved with the code on this step.
    username = page.locator("input[autocomplete=username]")
    expect(username).to_have_value("98652706859")
    # It fills the field as managers do: sets the value, fires input and change, submits.
    page.evaluate(
        """() => {
            const field = document.querySelector("input[autocomplete=current-password]");
            field.value = "123456";
            field.dispatchEvent(new Event("input", { bubbles: true }));
            field.dispatchEvent(new Event("change", { bubbles: true }));
            field.form.requestSubmit();
        }"""
    )
    expect(page).to_have_url(re.compile(r"/cagnotte/$"))
    expect(page.get_by_text("Jeanne Dupont")).to_be_visible()


def test_a_bad_value_in_the_field_is_told_next_to_it(page, jeanne):
    _identify(page)
    field = page.get_by_label("Ou saisissez votre code personnel dans ce champ")
    field.fill("12345")
    page.keyboard.press("Enter")
    field = page.get_by_label("Ou saisissez votre code personnel dans ce champ")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#keypad-code-error-login")).to_have_text(
        "Le code personnel doit comporter exactement 6 chiffres."
    )
    expect(page).to_have_title(re.compile("^Erreur"))


def test_demo_member_logs_in_by_tapping_the_keypad(page, live_server, page_checks, jeanne):
    context = page.context.browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        viewport={"width": 360, "height": 740},
        has_touch=True,
        is_mobile=True,
    )
    phone = context.new_page()
    phone.set_default_timeout(10_000)
    page_checks.watch(phone)
    _identify(phone)
    for digit in "123456":
        phone.get_by_role("button", name=f"Chiffre {digit}", exact=True).tap()
    expect(phone.locator("[data-keypad-status]")).to_have_text(re.compile("6 chiffres saisis"))
    phone.get_by_role("button", name="VALIDER").tap()
    expect(phone).to_have_url(re.compile(r"/cagnotte/$"))
    context.close()
