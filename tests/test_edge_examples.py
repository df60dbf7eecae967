"""Each input that answered HTTP 500 (issue 9, item 3), pinned: now a 4xx or a safe redirect.

The walking test (tests/test_hostile_inputs.py) sends such values everywhere; these are the
cases found by hand, each with the answer it must get.
"""

import pytest
from django.contrib.auth.hashers import make_password
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import BankCustomer
from associations.models import Association
from tests import factories as f
from tests.accounts.helpers import login_with_code, post_code, show_keypad
from tests.associations.test_registration import AUTH_URL
from tookets.http import ascii_digits, int_or_none, safe_next

pytestmark = pytest.mark.django_db

UNICODE_DIGITS = ["²²²²²²", "١٢٣٤٥٦", "１２３４５６", "⁰¹²³⁴⁵", "𝟏𝟐𝟑𝟒𝟓𝟔"]


@pytest.fixture(autouse=True)
def _fast_codes(settings):
    # The shared demo hash (tests.factories.demo_code_hash) is never made here: it would be
    # cached as MD5 for the tests that follow.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture
def jeanne(pg_caisse, _fast_codes):
    return f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number="98652706859",
        personal_code=make_password(f.DEMO_CODE),
    )


@pytest.fixture
def association_user(pg_caisse):
    return f.UserFactory(kind="association", caisse_regionale=pg_caisse)


# --- The helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/associations/", "/associations/"),
        ("/associations/?page=2", "/associations/?page=2"),
        ("abc", ""),  # redirect() took it for a URL name
        ("admin:index", ""),
        ("cagnotte:wallet", ""),
        ("https://evil.example/", ""),
        ("//evil.example/", ""),
        ("/\\evil.example/", ""),
        ("javascript:alert(1)", ""),
        ("/a\x00b", ""),
        ("/a\nSet-Cookie: x=1", ""),
        ("/" + "a" * 5000, ""),
    ],
)
def test_safe_next_keeps_only_local_paths(value, expected):
    request = RequestFactory().get("/", {"next": value})
    assert safe_next(request) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("12", 12), ("0", 0), ("²", None), ("١", None), ("３", None), ("", None), ("-1", None)]
    + [(" 1", None), ("1.0", None), (None, None), (12, None)],
)
def test_int_or_none_reads_ascii_digits_only(value, expected):
    assert int_or_none(value) == expected
    assert ascii_digits(value) is (expected is not None)


def test_int_or_none_refuses_more_digits_than_an_id_has():
    assert int_or_none("9" * 18) == 10**18 - 1
    assert int_or_none("9" * 19) is None
    assert int_or_none("9" * 1_000_000) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"path": "/associations/", "data": {"q": "a\x00b"}},
        {"path": "/associations/", "data": {"a\x00": "b"}},
        {"path": "/associations/%00/"},
    ],
)
def test_a_nul_byte_in_the_query_is_a_400(client, member, kwargs):
    client.force_login(member)
    assert client.get(kwargs["path"], kwargs.get("data")).status_code == 400


def test_a_nul_byte_in_a_form_or_a_cookie_is_a_400(client, jeanne):
    response = client.post(
        reverse("accounts:login"), {"caisse": "pyrenees-gascogne", "account_number": "\x00"}
    )
    assert response.status_code == 400
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get(reverse("home")).status_code == 400


# --- next -----------------------------------------------------------------------------------


@pytest.mark.parametrize("next_value", ["abc", "admin:index", "https://evil.example/"])
def test_choosing_a_favourite_with_a_bad_next_goes_to_the_favourites(
    client, member, association, next_value
):
    client.force_login(member)
    response = client.post(
        reverse("associations:set_favourite"), {"association": association.pk, "next": next_value}
    )
    assert response.status_code == 302
    assert response.url == reverse("associations:favourites")


def test_choosing_a_favourite_with_a_unicode_id_is_refused_with_a_message(client, member):
    client.force_login(member)
    response = client.post(reverse("associations:set_favourite"), {"association": "²"})
    assert response.status_code == 302
    assert response.url == reverse("associations:favourites")


@pytest.mark.parametrize("next_value", ["abc", "admin:index"])
def test_logging_in_with_a_bad_next_lands_on_the_wallet(client, jeanne, next_value):
    response = login_with_code(client, next=next_value)
    assert response.status_code == 302
    assert response.url == reverse("cagnotte:wallet")


def test_logging_in_with_a_local_next_goes_there(client, jeanne):
    response = login_with_code(client, next="/associations/?page=2")
    assert response.url == "/associations/?page=2"


@pytest.mark.parametrize("next_value", ["abc", "admin:index", "//evil.example/"])
def test_login_page_when_logged_in_ignores_a_bad_next(client, member, next_value):
    client.force_login(member)
    response = client.get(reverse("accounts:login"), {"next": next_value})
    assert response.status_code == 302
    assert response.url == reverse("cagnotte:wallet")


# --- Digits that are not ASCII --------------------------------------------------------------


@pytest.mark.parametrize("positions", UNICODE_DIGITS)
def test_unicode_digits_on_the_login_keypad_are_not_a_code(client, jeanne, positions):
    show_keypad(client)
    response = post_code(client, positions)
    assert response.status_code == 400
    assert "n’a pas pu être lu" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("positions", UNICODE_DIGITS)
def test_unicode_digits_on_the_registration_keypad_are_not_a_code(client, pg_caisse, positions):
    client.get(AUTH_URL)
    response = client.post(
        AUTH_URL, {"caisse": pg_caisse.pk, "account_number": "98652790001", "positions": positions}
    )
    assert response.status_code == 400
    assert "n’a pas pu être lu" in response.content.decode()


@pytest.mark.parametrize("account", ["９８６５２７９０００１", "٩٨٦٥٢٧٩٠٠٠١"])
def test_unicode_digits_in_the_registration_account_number_are_refused(client, pg_caisse, account):
    client.get(AUTH_URL)
    response = client.post(
        AUTH_URL, {"caisse": pg_caisse.pk, "account_number": account, "positions": "123456"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("programme", ["²", "١", "３", "9" * 30, "-1", "abc", ""])
def test_give_page_with_a_unicode_program_is_404(client, member, association, programme):
    client.force_login(member)
    response = client.get(reverse("cagnotte:give", args=[association.pk]), {"programme": programme})
    assert response.status_code == 404


@pytest.mark.parametrize("caisse", ["²", "١", "３", "9" * 30, "\x00"])
def test_staff_dashboard_with_a_unicode_caisse_shows_every_bank(client, national_staff, caisse):
    client.force_login(national_staff)
    response = client.get(reverse("admin:associations_association_dashboard"), {"caisse": caisse})
    assert response.status_code in (200, 400)


def test_staff_dashboard_with_a_real_caisse_still_filters(client, national_staff, pg_caisse):
    client.force_login(national_staff)
    response = client.get(
        reverse("admin:associations_association_dashboard"), {"caisse": str(pg_caisse.pk)}
    )
    assert response.status_code == 200
    assert response.context["caisse"] == pg_caisse


# --- Pages for someone who is not a member --------------------------------------------------


@pytest.mark.parametrize("who", ["association_user", "staff_pg", "national_staff"])
@pytest.mark.parametrize(
    "url", ["associations:map_data", "associations:directory", "associations:favourites"]
)
def test_directory_pages_for_a_non_member_are_not_an_error(client, request, who, url):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse(url), {"activite": "x", "caisse": "²", "q": "<script>"})
    assert response.status_code < 500
    if url == "associations:map_data" and response.status_code == 200:
        assert response.json() == {"n": 0, "rows": []}


# --- Registration of an association without online banking ----------------------------------


def test_registration_of_an_association_without_online_banking_is_refused_like_the_login(
    client, pg_caisse, _fast_codes
):
    manager = f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number="98652700001",
        personal_code=make_password(f.DEMO_CODE),
    )
    customer = f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        caisse_locale=f.CaisseLocaleFactory(caisse_regionale=pg_caisse),
        account_number="98652790001",
        kind=BankCustomer.Kind.ASSOCIATION,
        personal_code="",
        is_online_banking=False,
    )
    customer.managers.add(manager)
    client.get(AUTH_URL)
    layout = client.session["keypad:register"]
    positions = "".join(str(layout.index(d)) for d in f.DEMO_CODE)
    response = client.post(
        AUTH_URL, {"caisse": pg_caisse.pk, "account_number": "98652790001", "positions": positions}
    )
    assert response.status_code == 403
    assert "banque en ligne" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not Association.objects.exists()


# --- Admin list filters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, query",
    [
        ("admin:associations_association_changelist", {"status": "\x00"}),
        ("admin:associations_association_changelist", {"status__exact": "\x00"}),
        ("admin:associations_association_changelist", {"q": "\x00"}),
        ("admin:associations_statuschange_changelist", {"created_at__year": "99999"}),
        ("admin:associations_statuschange_changelist", {"created_at__year": "²"}),
        ("admin:associations_statuschange_changelist", {"created_at__month": "13"}),
        ("admin:associations_statuschange_changelist", {"created_at__year": "9999"}),
        (
            "admin:associations_statuschange_changelist",
            {"created_at__year": "2026", "created_at__month": "13"},
        ),
        (
            "admin:associations_statuschange_changelist",
            {"created_at__year": "2026", "created_at__month": "2", "created_at__day": "31"},
        ),
        ("admin:cagnotte_ledgerentry_changelist", {"created_at__year": "0"}),
        ("admin:cagnotte_ledgerentry_changelist", {"created_at__year": "9" * 30}),
        ("admin:cagnotte_program_changelist", {"year": "9" * 30}),
        ("admin:cagnotte_program_changelist", {"year__exact": "²"}),
        ("admin:cagnotte_wallet_changelist", {"program__year": "99999999999999999999"}),
        ("admin:cagnotte_wallet_changelist", {"program__id__exact": "9" * 30}),
        ("admin:accounts_user_changelist", {"kind__exact": "\x00"}),
        ("admin:accounts_user_changelist", {"caisse_regionale__id__exact": "²"}),
    ],
)
def test_admin_list_filters_with_garbage_are_not_an_error(client, request, url, query):
    client.force_login(f.StaffFactory(is_superuser=True, caisse_regionale=None))
    response = client.get(reverse(url), query)
    assert response.status_code < 500


@pytest.mark.parametrize("selected", ["abc", "²", "9" * 23, "9" * 5000])
def test_an_admin_action_on_rows_that_are_no_ids_reloads_the_list(client, selected):
    client.force_login(f.StaffFactory(is_superuser=True, caisse_regionale=None))
    url = reverse("admin:caisses_caisselocale_changelist")
    response = client.post(
        url, {"action": "delete_selected", "_selected_action": [selected], "index": "0"}
    )
    assert response.status_code == 302
    assert response.url == url


@pytest.mark.parametrize("amount", ["١٠", "１０", "²"])
def test_a_gift_amount_in_unicode_digits_is_refused(client, member, association, program, amount):
    from cagnotte.forms import new_give_token
    from cagnotte.models import Wallet
    from tests.cagnotte.helpers import credit

    credit(member, program, 100)
    wallet = Wallet.objects.get(member=member)
    client.force_login(member)
    token = new_give_token(member_id=member.pk, association_id=association.pk, wallet_id=wallet.pk)
    response = client.post(
        reverse("cagnotte:give", args=[association.pk]),
        {"wallet": wallet.pk, "token": token, "amount": amount},
    )
    assert response.status_code == 200
    assert "Saisissez le montant en chiffres uniquement" in response.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance == 100
