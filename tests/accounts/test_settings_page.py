import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

URL = reverse("accounts:settings")


def test_settings_need_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_member_turns_recap_emails_off_and_on(client, member, django_assert_max_num_queries):
    client.force_login(member)
    with django_assert_max_num_queries(4):
        page = client.get(URL)
    html = page.content.decode()
    assert "J&#x27;accepte de recevoir les e-mails récapitulatifs" in html or (
        "J'accepte de recevoir les e-mails récapitulatifs" in html
    )
    assert 'name="recap_emails"' in html and "checked" in html

    response = client.post(URL, {})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.recap_emails is False

    # The page, kept under what it shows, follows the choice, whichever way it was made.
    assert "checked" not in client.get(URL).content.decode()
    client.post(URL, {"recap_emails": "on"})
    member.refresh_from_db()
    assert member.recap_emails is True
    assert "checked" in client.get(URL).content.decode()
    User.objects.filter(pk=member.pk).update(recap_emails=False)
    assert "checked" not in client.get(URL).content.decode()


def test_settings_page_shows_the_member_menu(client, member):
    client.force_login(member)
    html = client.get(URL).content.decode()
    for label in ["Ma cagnotte", "Distribuer les Tookets", "Associations favorites", "Paramètres"]:
        assert label in html
    assert 'aria-current="page"' in html


# --- Remembered identifier, my data, closing ---------------------------------------------------


def remember_on(client, member):
    from django.http import HttpResponse

    from accounts import remember

    response = HttpResponse()
    remember.remember(response, caisse_code="pyrenees-gascogne", account_number="98652706859")
    client.cookies[remember.COOKIE_NAME] = response.cookies[remember.COOKIE_NAME].value


def test_remembered_identifier_is_shown_and_forgotten_from_settings(client, member):
    from accounts.remember import COOKIE_NAME

    client.force_login(member)
    assert "Cet appareil ne mémorise pas votre identifiant." in client.get(URL).content.decode()
    remember_on(client, member)
    html = client.get(URL).content.decode()
    assert "Pyrénées Gascogne, 98652706859" in html
    assert "Oublier mon identifiant sur cet appareil" in html
    response = client.post(reverse("accounts:forget_identifier"), {"next": URL})
    assert response.status_code == 302 and response["Location"] == URL
    assert response.cookies[COOKIE_NAME].value == ""
    # Still logged in: only the device's memory is gone.
    assert client.get(URL).status_code == 200


def test_forget_identifier_never_redirects_off_site(client, member):
    response = client.post(reverse("accounts:forget_identifier"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("accounts:login")


def test_settings_link_to_my_data_and_to_closing(client, member):
    client.force_login(member)
    html = client.get(URL).content.decode()
    assert f'href="{reverse("accounts:my_data")}"' in html and "Télécharger mes données" in html
    assert f'href="{reverse("accounts:closure")}"' in html


def test_unticking_records_when_the_choice_changed(client, member):
    client.force_login(member)
    client.post(URL, {})
    member.refresh_from_db()
    first = member.recap_changed_at
    assert first is not None
    client.post(URL, {})  # no change: the date stays
    member.refresh_from_db()
    assert member.recap_changed_at == first
