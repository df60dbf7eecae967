"""The public home, and what it offers once someone is logged in."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_offered_login_and_registration(client):
    html = client.get(reverse("home")).content.decode()
    assert reverse("accounts:login") in html
    assert "Association ? Créez votre compte" in html


def test_logged_in_member_is_offered_the_wallet_not_the_login(client, member):
    client.force_login(member)
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("cagnotte:wallet")}"' in html
    assert f'href="{reverse("associations:directory")}"' in html
    assert "Association ? Créez votre compte" not in html.split('class="cards-3"')[0]
    assert ">Se connecter<" not in html


def test_logged_in_staff_is_offered_the_admin(client, staff_pg):
    client.force_login(staff_pg)
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("admin:index")}"' in html
    assert ">Se connecter<" not in html
