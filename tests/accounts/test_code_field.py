"""The code field beside the keypad (WCAG 2.2, 3.3.8): filled by a password manager or pasted.

It is a second way in to the same check: the typed code goes through ``authenticate`` as the
keypad's positions do, so the identifier lockout (django-axes), the per-address limit and the
session rotation of ``login`` apply to it; a post uses exactly one of the two ways.
"""

import re

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

from accounts import keypad
from tests import factories as f
from tests.accounts.helpers import (
    layout_shown,
    login_by_field,
    login_with_code,
    positions_for,
    post_code,
    post_typed,
    show_keypad,
)

pytestmark = pytest.mark.django_db

FIELD_ERROR = "Le code personnel doit comporter exactement 6 chiffres."


def test_the_code_step_offers_a_field_a_password_manager_can_fill(client, jeanne):
    html = show_keypad(client).content.decode()
    field = re.search(r"<input type=\"password\" name=\"code\"[^>]*>", html)
    assert field, html
    tag = field.group(0)
    assert 'autocomplete="current-password"' in tag
    assert 'inputmode="numeric"' in tag
    assert 'id="keypad-code-login"' in tag
    assert 'aria-describedby="keypad-code-help-login"' in tag
    assert '<label class="keypad-typed-label" for="keypad-code-login">' in html
    # The identifier, for the manager to pair with the code: not a named field (not posted).
    username = re.search(r"<input type=\"text\" hidden autocomplete=\"username\"[^>]*>", html)
    assert username and 'value="98652706859"' in username.group(0)
    assert "name=" not in username.group(0)


def test_the_identifier_step_is_marked_as_the_username(client, db):
    html = client.get("/connexion/").content.decode()
    assert re.search(r'<input[^>]*name="account_number"[^>]*autocomplete="username"', html)


def test_a_filled_code_logs_in_and_rotates_the_session(client, jeanne):
    show_keypad(client)
    before = client.session.session_key
    response = post_typed(client, "123456")
    assert response.status_code == 302
    assert response["Location"] == "/cagnotte/"
    assert "_auth_user_id" in client.session
    assert client.session.session_key != before
    # The keypad's layout of that display was used by this post.
    assert keypad._SESSION_PREFIX + "login" not in client.session


@pytest.mark.parametrize("pasted", ["123 456", " 123456\n", "12 34 56"])
def test_a_pasted_code_with_spaces_is_read(client, jeanne, pasted):
    assert login_by_field(client, pasted).status_code == 302


@pytest.mark.parametrize(
    "value",
    [
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "١٢٣٤٥٦",
        "１２３４５６",
        "²²²²²²",
        "-12345",
        "9" * 100000,
    ],
)
def test_a_bad_value_gets_a_french_error_next_to_the_field_and_checks_nothing(
    client, jeanne, value
):
    response = login_by_field(client, value)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<p class="errorlist" id="keypad-code-error-login">{FIELD_ERROR}</p>' in html
    assert (
        'aria-describedby="keypad-code-error-login keypad-code-help-login" aria-invalid="true"'
        in (html)
    )
    assert "<title>Erreur – " in html
    assert "_auth_user_id" not in client.session
    assert not AccessAttempt.objects.exists()  # nothing was checked: no failure counted
    # A fresh keypad comes with the message.
    assert client.session[keypad._SESSION_PREFIX + "login"]


def test_hostile_value_is_escaped(client, jeanne):
    response = login_by_field(client, "<script>alert(1)</script>")
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_both_ways_at_once_are_refused_and_check_nothing(client, jeanne):
    layout = layout_shown(show_keypad(client))
    response = post_code(client, positions_for("123456", layout), code="123456")
    assert response.status_code == 400
    assert "soit sur le pavé, soit dans le champ, pas les deux" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AccessAttempt.objects.exists()


def test_a_wrong_filled_code_says_so_without_telling_which_part(client, jeanne):
    response = login_by_field(client, "000000")
    assert response.status_code == 200
    assert "Identifiant ou code personnel incorrect." in response.content.decode()
    assert AccessAttempt.objects.get().failures_since_start == 1


# --- Lockout: the same for both ways in ------------------------------------------------------


def test_three_wrong_filled_codes_lock_the_identifier(client, jeanne):
    first, second, third = (login_by_field(client, "000000") for _ in range(3))
    assert first.status_code == second.status_code == 200
    assert third.status_code == 429
    assert "pendant encore 15 minutes" in third.content.decode()
    # Locked for both ways in, even with the right code.
    assert login_by_field(client, "123456").status_code == 429
    assert login_with_code(client).status_code == 429
    assert "_auth_user_id" not in client.session


def test_wrong_codes_by_keypad_and_by_field_add_up(client, jeanne):
    assert login_with_code(client, code="000000").status_code == 200
    assert login_by_field(client, "000000").status_code == 200
    assert login_with_code(client, code="000000").status_code == 429
    assert login_by_field(client).status_code == 429


def test_a_lock_made_on_the_keypad_holds_for_the_field(client, jeanne):
    for _ in range(3):
        login_with_code(client, code="000000")
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert login_by_field(other).status_code == 429
    assert "_auth_user_id" not in other.session


@override_settings(LOGIN_RATE_PER_ADDRESS="4/h")
def test_the_address_limit_counts_filled_codes(client, jeanne, pg_caisse):
    for i in range(4):
        f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number=f"9865271000{i}")
        assert login_by_field(client, "000000", account=f"9865271000{i}").status_code == 200
    # The address has used its wrong codes: the right one waits, by either way in.
    response = login_by_field(client)
    assert response.status_code == 429
    assert "pendant encore" in response.content.decode()
    assert login_with_code(client).status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not affected.
    assert login_by_field(Client(REMOTE_ADDR="10.9.9.9")).status_code == 302


@override_settings(LOGIN_RATE_PER_ADDRESS="2/h")
def test_bad_values_in_the_field_do_not_use_up_the_address_limit(client, jeanne):
    for _ in range(4):
        assert login_by_field(client, "12").status_code == 400
    assert login_by_field(client).status_code == 302


# --- The other keypads: closing the account, registering an association ----------------------


def test_closure_accepts_the_filled_code_and_refuses_a_bad_one(client, jeanne, program):
    from cagnotte.models import Wallet
    from tests.cagnotte.helpers import credit

    member = f.MemberFactory(
        caisse_regionale=jeanne.caisse_regionale,
        account_number="98652706859",
        username="pyrenees-gascogne:98652706859",
    )
    credit(member, program, 300, period="2026-01", reference="bank-98652706859-2026-01")
    wallet = Wallet.objects.get(member=member, program=program)
    client.force_login(member)
    client.post("/parametres/cloture/", {f"wallet_{wallet.pk}": "return"})
    shown = client.get("/parametres/cloture/code/")
    html = shown.content.decode()
    assert 'autocomplete="current-password"' in html
    assert re.search(r'hidden autocomplete="username" value="98652706859"', html)
    bad = client.post("/parametres/cloture/code/", {"code": "12345"})
    assert bad.status_code == 400
    assert FIELD_ERROR in bad.content.decode()
    assert not AccessAttempt.objects.exists()
    good = client.post("/parametres/cloture/code/", {"code": "123456"})
    assert good.status_code == 302
    assert good["Location"] == "/parametres/cloture/confirmer/"


def test_registration_accepts_the_filled_code(client, pg_caisse):
    from tests.associations.test_registration import ASSO_ACCOUNT, AUTH_URL

    local = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, name="Auch")
    f.bank_association(pg_caisse, local, account=ASSO_ACCOUNT, manager_account="98652700001")
    page = client.get(AUTH_URL).content.decode()
    assert 'name="code" id="keypad-code-register"' in page
    assert re.search(r'name="account_number"[^>]*autocomplete="username"', page)
    values = {"caisse": pg_caisse.pk, "account_number": ASSO_ACCOUNT}
    bad = client.post(AUTH_URL, {**values, "code": "abcdef"})
    assert bad.status_code == 400
    assert FIELD_ERROR in str(bad.context["form"].errors["code"])
    assert 'href="#keypad-code-register"' in bad.content.decode()  # the error summary's link
    both = client.post(AUTH_URL, {**values, "code": f.DEMO_CODE, "positions": "012345"})
    assert both.status_code == 400
    assert "pas les deux" in str(both.context["form"].errors["positions"])
    assert not AccessAttempt.objects.exists()
    response = client.post(AUTH_URL, {**values, "code": f.DEMO_CODE})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
