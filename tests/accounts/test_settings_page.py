import pytest
from django.urls import reverse

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

    client.post(URL, {"recap_emails": "on"})
    member.refresh_from_db()
    assert member.recap_emails is True


def test_settings_page_shows_the_member_menu(client, member):
    client.force_login(member)
    html = client.get(URL).content.decode()
    for label in ["Ma cagnotte", "Distribuer les Tookets", "Associations favorites", "Paramètres"]:
        assert label in html
    assert 'aria-current="page"' in html
