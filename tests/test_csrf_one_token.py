"""One masked CSRF token per response (``tookets.fragments.request_csrf_token``): the page's
own forms and its cached fragments' forms carry the same one, a new one in every response,
and it follows a rotation of the secret (a login)."""

import re

from django.middleware.csrf import _unmask_cipher_token, rotate_token
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.associations.directory_cast import visible_associations
from tookets.fragments import request_csrf_token

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def tokens(client, url) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    return TOKEN.findall(response.content.decode())


def test_a_directory_page_carries_one_token_in_all_its_forms(member, program):
    (alpha, _beta) = visible_associations(program=program, count=2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    url = reverse("associations:directory")
    first = tokens(client, url)
    # The cards' favourite forms (a cached fragment) and the menu's logout form (the page).
    assert len(first) >= 3 and len(set(first)) == 1
    second = tokens(client, url)
    assert len(set(second)) == 1 and second[0] != first[0]  # masked anew per response
    response = client.post(
        reverse("associations:set_favourite"),
        {"association": alpha.pk, "csrfmiddlewaretoken": second[0]},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.favourite.association_id == alpha.pk


def test_the_token_follows_a_rotated_secret():
    request = RequestFactory().get("/")
    token = request_csrf_token(request)
    assert request_csrf_token(request) == token
    assert _unmask_cipher_token(token) == request.META["CSRF_COOKIE"]
    rotate_token(request)
    rotated = request_csrf_token(request)
    assert rotated != token
    assert _unmask_cipher_token(rotated) == request.META["CSRF_COOKIE"]
