import re

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.remember import COOKIE_NAME
from tests import factories as f
from tests.accounts.helpers import (
    LOGIN_URL,
    layout_shown,
    login_with_code,
    positions_for,
    post_code,
    show_keypad,
)

pytestmark = pytest.mark.django_db


def test_login_page_shows_the_guide_labels(client):
    response = client.get(LOGIN_URL)
    html = response.content.decode()
    assert response.status_code == 200
    for label in [
        "SÉLECTIONNEZ VOTRE CAISSE RÉGIONALE",
        "Choisissez votre caisse régionale",
        "Saisissez votre identifiant à 11 chiffres",
        "Ex: 98652706859",
        "ENTRER MON CODE PERSONNEL",
        "Perdu / Oublié ?",
    ]:
        assert label in html
    assert html.count("<option") == 21  # the 20 regional banks and the empty choice


def test_member_logs_in_with_the_keypad_and_lands_on_the_wallet(client, jeanne):
    response = login_with_code(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("cagnotte:wallet")
    user = User.objects.get(account_number="98652706859")
    assert user.kind == User.Kind.MEMBER
    assert user.display_name == "Jeanne Dupont"
    assert user.username == "pyrenees-gascogne:98652706859"
    assert int(client.session["_auth_user_id"]) == user.pk


def test_existing_member_row_is_reused(client, jeanne, member):
    member.account_number = "98652706859"
    member.save()
    login_with_code(client)
    assert int(client.session["_auth_user_id"]) == member.pk
    assert User.objects.filter(account_number="98652706859").count() == 1


def test_association_account_lands_on_its_space(client, pg_caisse, jeanne):
    association = f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number="98652790001",
        kind="association",
        name="Association Sportive Gersoise",
        personal_code="",
    )
    association.managers.add(jeanne)
    response = login_with_code(client, account="98652790001")
    assert response["Location"] == reverse("associations:space")
    assert User.objects.get(account_number="98652790001").kind == User.Kind.ASSOCIATION


def test_a_safe_next_is_honoured_and_an_external_one_ignored(client, jeanne):
    response = login_with_code(client, next="/favoris/")
    assert response["Location"] == "/favoris/"
    client.post(reverse("accounts:logout"))
    response = login_with_code(client, next="https://evil.example/")
    assert response["Location"] == reverse("cagnotte:wallet")


def test_wrong_code_refuses_without_saying_which_part_was_wrong(client, jeanne):
    response = login_with_code(client, code="654321")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Identifiant ou code personnel incorrect." in html
    assert "_auth_user_id" not in client.session
    # A fresh layout comes with the error.
    assert 'data-position="0"' in html


def test_unknown_account_gets_the_same_message_as_a_wrong_code(client, jeanne):
    response = login_with_code(client, account="98652706850")
    assert "Identifiant ou code personnel incorrect." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_regional_bank_does_not_log_in(client, jeanne):
    response = login_with_code(client, caisse="toulouse-31")
    assert "Identifiant ou code personnel incorrect." in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "account", ["9865270685", "986527068591", "9865270685a", "abcdefghijk", "98652 70685"]
)
def test_identifier_must_be_exactly_eleven_digits(client, account):
    response = show_keypad(client, account=account)
    html = response.content.decode()
    assert response.status_code == 200
    assert "L’identifiant doit comporter exactement 11 chiffres." in html
    assert "data-keypad" not in html  # no keypad for a malformed identifier


def test_identifier_printed_with_spaces_is_accepted(client, jeanne):
    response = show_keypad(client, account="986 527 068 59")
    assert "data-keypad" in response.content.decode()


def test_regional_bank_is_required(client):
    response = show_keypad(client, caisse="")
    assert "Choisissez votre caisse régionale." in response.content.decode()
    response = show_keypad(client, caisse="atlantide")
    assert "Choisissez votre caisse régionale dans la liste." in response.content.decode()


def test_tampered_identifier_at_the_code_step_is_refused_on_the_field(client, jeanne):
    shown = show_keypad(client)
    layout = layout_shown(shown)
    response = post_code(client, positions_for("123456", layout), account="98652")
    assert "L’identifiant doit comporter exactement 11 chiffres." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post(client, jeanne):
    login_with_code(client)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_logged_in_member_visiting_login_goes_to_the_wallet(client, member):
    client.force_login(member)
    response = client.get(LOGIN_URL)
    assert response["Location"] == reverse("cagnotte:wallet")


def test_help_page(client):
    response = client.get(reverse("accounts:help"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Perdu / Oublié ?" in html
    assert "Après 3 codes erronés" in html


# --- Refusals --------------------------------------------------------------------------------


def test_non_societaire_gets_a_refusal_and_no_login(client, pg_caisse):
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse, account_number="98652700002", is_societaire=False
    )
    response = login_with_code(client, account="98652700002")
    assert response.status_code == 403
    assert "réservé aux clients sociétaires" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(account_number="98652700002").exists()
    assert COOKIE_NAME not in response.cookies


def test_customer_without_online_banking_gets_a_refusal(client, pg_caisse):
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse, account_number="98652700003", is_online_banking=False
    )
    response = login_with_code(client, account="98652700003")
    assert response.status_code == 403
    assert "Crédit Agricole Banque en ligne" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_refusal_is_not_a_failed_attempt(client, pg_caisse):
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse, account_number="98652700002", is_societaire=False
    )
    for _ in range(4):
        response = login_with_code(client, account="98652700002")
        assert response.status_code == 403


def test_closed_account_cannot_log_in(client, jeanne, member):
    from django.utils import timezone

    member.account_number = "98652706859"
    member.closed_at = timezone.now()
    member.save()
    response = login_with_code(client)
    assert "_auth_user_id" not in client.session
    assert "Identifiant ou code personnel incorrect." in response.content.decode()


# --- Remembered identifier -------------------------------------------------------------------


def test_identifier_is_remembered_after_login_but_never_the_code(client, jeanne):
    response = login_with_code(client)
    cookie = response.cookies[COOKIE_NAME]
    assert "98652706859" in cookie.value
    assert "pyrenees-gascogne" in cookie.value
    assert cookie["httponly"]
    assert int(cookie["max-age"]) >= 300 * 24 * 3600
    for morsel in response.cookies.values():
        assert "123456" not in morsel.value
    client.post(reverse("accounts:logout"))

    page = client.get(LOGIN_URL).content.decode()
    assert 'value="98652706859"' in page
    assert '<option value="pyrenees-gascogne" selected>' in page
    assert "Oublier cet identifiant" in page
    assert "123456" not in page


def test_forget_identifier_clears_the_cookie(client, jeanne):
    login_with_code(client)
    client.post(reverse("accounts:logout"))
    response = client.post(reverse("accounts:forget_identifier"))
    assert response.cookies[COOKIE_NAME].value == ""
    page = client.get(LOGIN_URL).content.decode()
    assert 'value="98652706859"' not in page
    assert "Oublier cet identifiant" not in page


def test_a_forged_remember_cookie_is_ignored(client, jeanne):
    client.cookies[COOKIE_NAME] = "pyrenees-gascogne:98652706859"  # not signed
    page = client.get(LOGIN_URL).content.decode()
    assert 'value="98652706859"' not in page


def test_failed_login_does_not_remember_the_identifier(client, jeanne):
    response = login_with_code(client, code="000000")
    assert COOKIE_NAME not in response.cookies


def test_remembering_is_offered_and_ticked_by_default(client, jeanne):
    page = client.get(LOGIN_URL).content.decode()
    assert "Mémoriser mon identifiant sur cet appareil" in page
    assert re.search(
        r'<input type="checkbox" name="remember" value="1" id="id_remember" checked>', page
    )
    assert '<label for="id_remember">' in page


def test_an_unticked_box_sets_no_cookie_and_clears_the_old_one(client, jeanne):
    login_with_code(client)  # remembered, as by default
    client.post(reverse("accounts:logout"))
    # Unticked: the identifier page posts only its hidden "0"; the keypad carries it on.
    keypad = show_keypad(client, remember="0")
    assert '<input type="hidden" name="remember" value="0">' in keypad.content.decode()
    response = post_code(client, positions_for("123456", layout_shown(keypad)), remember="0")
    assert response.status_code == 302
    assert response.cookies[COOKIE_NAME].value == ""  # the identifier is forgotten
    page = client.get(LOGIN_URL).content.decode()
    assert 'value="98652706859"' not in page


def test_a_ticked_box_remembers(client, jeanne):
    keypad = show_keypad(client, remember=["0", "1"])  # the hidden "0", then the box
    assert '<input type="hidden" name="remember" value="1">' in keypad.content.decode()
    response = post_code(client, positions_for("123456", layout_shown(keypad)), remember="1")
    assert "98652706859" in response.cookies[COOKIE_NAME].value


def test_the_choice_survives_an_identifier_in_error(client, jeanne):
    page = client.post(
        LOGIN_URL, {"caisse": "pyrenees-gascogne", "account_number": "12", "remember": "0"}
    ).content.decode()
    assert "L’identifiant doit comporter exactement 11 chiffres." in page
    assert re.search(r'id="id_remember">', page)  # shown again, not ticked
