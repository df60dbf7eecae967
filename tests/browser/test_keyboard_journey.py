"""The whole member journey with the keyboard alone (WCAG 2.1.1, 2.4.3, 2.4.7, 2.4.11).

Login (regional bank, identifier, the code typed on the keypad), the directory list and its
search, the map and a marker's card, a gift, the favourite, the settings: only Tab, Enter,
Space and typed characters. After every Tab the focused element must be visible, have a
visible focus indicator and lie inside the viewport (a phone-sized one: where clipping and
scrolling go wrong first). axe and the Nu Html Checker look at every page on the way
(``page`` fixture).
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.backends import username_for
from cagnotte.models import Favourite, Wallet
from tests import factories as f
from tests.cagnotte.helpers import credit
from tookets.periods import current_period

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ACCOUNT = "98652706859"
MAX_TABS = 120

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    name: (el.getAttribute("aria-label") || el.innerText || el.value || "").trim().slice(0, 80),
    classes: el.className && el.className.baseVal === undefined ? el.className : "",
    visible: box.width > 0 && box.height > 0 && style.visibility !== "hidden"
      && style.display !== "none" && parseFloat(style.opacity || "1") > 0,
    inViewport: box.left >= -1 && box.top >= -1 && box.right <= innerWidth + 1
      && box.bottom <= innerHeight + 1,
    indicator: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== "none",
    box: [Math.round(box.left), Math.round(box.top), Math.round(box.right), Math.round(box.bottom)],
  };
}"""


def check_focus(page, seen):
    focused = page.evaluate(FOCUSED)
    if focused is None:
        return None
    where = f"{page.url}: <{focused['tag']} class={focused['classes']!r}> {focused['name']!r}"
    assert focused["visible"], f"focused element not visible: {where}"
    assert focused["inViewport"], f"focused element outside the viewport {focused['box']}: {where}"
    assert focused["indicator"], f"focused element without a visible focus indicator: {where}"
    seen.append(where)
    return focused


def tab_to(page, seen, matches, *, backwards=False):
    """Press Tab until ``matches(focused)``; every stop on the way is checked."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = check_focus(page, seen)
        if focused is not None and matches(focused):
            return focused
    raise AssertionError(f"not reached with {MAX_TABS} Tabs on {page.url}; last: {seen[-3:]}")


def press_and_load(page, key="Enter"):
    """A key that follows a link or sends a form: wait for the next page before going on."""
    with page.expect_navigation():
        page.keyboard.press(key)


def named(text):
    return lambda focused: focused["name"].casefold() == text.casefold()


@pytest.fixture
def jeanne(pg_caisse, program):
    member = f.MemberFactory(
        caisse_regionale=pg_caisse,
        account_number=ACCOUNT,
        username=username_for(pg_caisse.code, ACCOUNT),
        display_name="Jeanne Dupont",
    )
    f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number=ACCOUNT, name="Jeanne Dupont")
    credit(member, program, 410, period=current_period())
    return member


def test_member_journey_with_the_keyboard_alone(
    page, page_checks, live_server, settings, jeanne, program, association
):
    settings.MAP_TILES_URL = live_server.url + "/no-tiles/{z}/{x}/{y}.png"
    page.set_viewport_size({"width": 390, "height": 844})
    seen = []

    # --- Login: regional bank (type-ahead in the select), identifier, code on the keypad ---
    page.goto("/connexion/")
    tab_to(page, seen, lambda el: el["tag"] == "select")
    page.keyboard.type("Pyr")
    expect(page.get_by_label("Caisse")).to_have_value(re.compile(".+"))
    assert "Pyrénées Gascogne" in page.get_by_label("Caisse").evaluate(
        "el => el.options[el.selectedIndex].text"
    )
    tab_to(page, seen, lambda el: el["tag"] == "input")
    page.keyboard.type(ACCOUNT)
    tab_to(page, seen, named("ENTRER MON CODE PERSONNEL"))
    press_and_load(page)
    status = page.locator("[data-keypad-status]")
    expect(status).to_have_text("Aucun chiffre saisi sur 6")
    check_focus(page, seen)  # the keypad took the focus
    page.keyboard.type("123456")
    expect(status).to_have_text("6 chiffres saisis sur 6 : vous pouvez valider")
    press_and_load(page)
    expect(page).to_have_url(re.compile(r"/cagnotte/$"))

    # --- Directory list, searched by name ----------------------------------------------------
    tab_to(page, seen, named("Distribuer les Tookets"))
    press_and_load(page)
    expect(page.locator("h1")).to_have_text("DISTRIBUER MES TOOKETS")
    tab_to(page, seen, lambda el: el["tag"] == "input")  # the name search
    page.keyboard.type("amis gers")
    press_and_load(page)
    expect(page.locator(".association-name")).to_have_text(["Les Amis du Gers"])

    # --- The map, a marker, its card ---------------------------------------------------------
    tab_to(page, seen, named("Afficher en liste"))
    press_and_load(page, " ")
    expect(page).to_have_url(re.compile(r"vue=carte"))
    page.wait_for_selector("#directory-map[data-markers='1']")
    tab_to(page, seen, lambda el: "leaflet-marker-icon" in el["classes"])
    page.keyboard.press("Enter")
    card = page.locator("#map-card .association-card")
    expect(card).to_contain_text("Les Amis du Gers")
    expect(page.locator("#map-card")).to_be_focused()
    page_checks.run_axe(page)  # the map with its markers and the card the script added

    # --- Give from the card ------------------------------------------------------------------
    tab_to(page, seen, named("J'AIDE L'ASSOCIATION"))
    press_and_load(page)
    expect(page.locator("h1")).to_have_text("J'AIDE L'ASSOCIATION")
    tab_to(page, seen, lambda el: el["tag"] == "input")
    page.keyboard.press("Control+A")
    page.keyboard.type("110")
    tab_to(page, seen, named("VALIDER LA DEMANDE"))
    press_and_load(page)
    # The receipt: the gift is recorded, what is left is said.
    expect(page).to_have_url(re.compile(r"/donner/recu/\d+/$"))
    expect(page.locator('[data-receipt="gift"]')).to_contain_text("Vous avez donné 110")
    assert Wallet.objects.get(member=jeanne).balance == 300

    # --- The favourite -----------------------------------------------------------------------
    tab_to(page, seen, named("Associations favorites"))
    press_and_load(page)
    tab_to(page, seen, named("Mettre en favoris"))
    press_and_load(page)
    expect(page.locator(".message-success")).to_contain_text("Les Amis du Gers")
    assert Favourite.objects.get(member=jeanne).association == association

    # --- Settings ----------------------------------------------------------------------------
    tab_to(page, seen, named("Paramètres"))
    press_and_load(page)
    expect(page.locator("h1")).to_have_text("Paramètres")
    tab_to(page, seen, lambda el: el["tag"] == "input")  # the recap e-mails checkbox
    assert len(seen) > 10, seen
