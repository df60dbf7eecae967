"""Server-side accessibility fixes (issue 12): page titles per step, error and search; an
error summary that takes the focus and links to the fields; one error per field; the keypad's
names and its alert tied to it. The browser suite checks the rest with axe and vnu."""

import re

import pytest
from django.urls import reverse

from tests import factories as f
from tests.accounts.helpers import LOGIN_URL, layout_shown, positions_for, post_code, show_keypad

pytestmark = pytest.mark.django_db
AUTH_URL = reverse("associations:register_auth")


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1)


@pytest.fixture
def jeanne(pg_caisse):
    return f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number="98652706859")


def test_login_steps_have_titles_of_their_own(client, jeanne):
    assert title(client.get(LOGIN_URL)) == "Se connecter : identifiant — Tookets"
    assert title(show_keypad(client)) == "Se connecter : code personnel — Tookets"


def test_a_failed_submit_says_erreur_in_the_title_and_focuses_a_summary(client, pg_caisse):
    response = show_keypad(client, account="123")
    html = response.content.decode()
    assert title(response) == "Erreur – Se connecter : identifiant — Tookets"
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert 'role="alert"' in summary and "autofocus" in summary and 'tabindex="-1"' in summary
    assert 'href="#id_account_number"' in summary
    assert html.count("autofocus") == 1  # nothing else competes for the focus


def test_a_wrong_code_ties_the_alert_to_the_keypad(client, jeanne):
    layout = layout_shown(show_keypad(client))
    response = post_code(client, positions_for("000000", layout))
    html = response.content.decode()
    assert title(response).startswith("Erreur – ")
    assert 'role="alert" id="keypad-error-login"' in html
    assert 'aria-describedby="keypad-error-login keypad-help-login"' in html


def test_the_corriger_key_is_named_by_what_it_shows(client, jeanne):
    html = show_keypad(client).content.decode()
    key = re.search(r"<button[^>]*data-keypad-clear[^>]*>([^<]*)</button>", html)
    label = re.search(r'aria-label="([^"]*)"', key.group(0)).group(1)
    assert key.group(1) == "Corriger" and label.startswith("Corriger")


@pytest.mark.parametrize("account", ["123", "abcdefghijk", "123456789012"])
def test_the_11_digit_error_shows_once_at_the_field(client, pg_caisse, account):
    client.get(AUTH_URL)
    response = client.post(
        AUTH_URL, {"caisse": pg_caisse.pk, "account_number": account, "positions": "012345"}
    )
    errors = response.context["form"].errors["account_number"]
    assert len(errors) == 1 and "11 chiffres" in errors[0]
    html = response.content.decode()
    # The summary has the focus; the first field's own autofocus steps aside.
    assert 'class="error-summary"' in html and html.count("autofocus") == 1


def test_search_results_have_a_title_of_their_own(client, member, association):
    client.force_login(member)
    directory = reverse("associations:directory")
    assert title(client.get(directory)) == "Distribuer mes Tookets — Tookets"
    assert (
        title(client.get(directory, {"q": "amis"}))
        == "Recherche : 1 association – Distribuer mes Tookets — Tookets"
    )


def test_the_favourite_card_is_not_anchored_twice(client, member, association):
    client.force_login(member)
    client.post(reverse("associations:set_favourite"), {"association": association.pk})
    html = client.get(reverse("associations:favourites")).content.decode()
    assert html.count(f'id="association-{association.pk}"') == 1


def test_map_container_has_a_role_for_its_label(client, member, association):
    client.force_login(member)
    html = client.get(reverse("associations:directory"), {"vue": "carte"}).content.decode()
    assert re.search(r'id="directory-map"[^>]*role="region"[^>]*aria-label=', html)


def test_the_list_switch_is_a_real_button(client, member, association):
    client.force_login(member)
    html = client.get(reverse("associations:directory")).content.decode()
    switch = re.search(r"<button[^>]*id=\"show-list\"[^>]*>", html).group(0)
    assert 'aria-pressed="true"' in switch and 'type="submit"' in switch
    assert 'role="switch"' not in html
