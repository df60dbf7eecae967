"""What a browser or a proxy may keep (issue 24): every page made for the person asking says
``Cache-Control: private, no-store``; public pages and static files stay cacheable; every
response denies the browser features the site does not use."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_hostile_inputs import site_urls, world  # noqa: F401 - fixture
from tookets.http import DENIED_FEATURES

pytestmark = pytest.mark.django_db

PUBLIC = ["home", "how_it_works", "cagnotte:results"]


def _directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",") if d.strip()}


@pytest.mark.parametrize("who", ["member", "association", "staff", "superuser"])
def test_every_page_for_a_logged_in_user_is_private_and_not_stored(world, who):  # noqa: F811
    client = Client(raise_request_exception=False)
    user = world["users"][who]
    client.force_login(user)
    checked, kept = 0, []
    for name, path in site_urls(world):
        if "logout" in name or "_delete" in name:
            continue
        response = client.get(path)
        if "_auth_user_id" not in client.session:
            client.force_login(user)
        directives = _directives(response)
        if name == "associations:map_data" and response.status_code == 200:
            # The markers: a regional bank's associations, revalidated by ETag.
            assert "private" in directives and "public" not in directives
            continue
        checked += 1
        if not {"private", "no-store"} <= directives:
            kept.append((name, path, response.status_code, response.get("Cache-Control")))
    assert checked > 60
    assert kept == []


def test_public_pages_and_static_files_stay_cacheable(client, world):  # noqa: F811
    for name in PUBLIC:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "no-store" not in _directives(response), name
    static = client.get("/static/css/tookets.css")
    assert static.status_code == 200 and "no-store" not in _directives(static)


def test_a_page_built_from_the_visitors_cookies_is_not_stored(client, db):
    # The login page writes a CSRF token and shows the remembered identifier.
    from django.http import HttpResponse

    from accounts.remember import remember

    carrier = HttpResponse()
    remember(carrier, caisse_code="pyrenees-gascogne", account_number="98652706859")
    client.cookies.update(carrier.cookies)
    response = client.get(reverse("accounts:login"))
    assert "98652706859" in response.content.decode()
    assert {"private", "no-store"} <= _directives(response)


def test_every_response_denies_the_unused_browser_features(client, member):
    client.force_login(member)
    for path in ["/", reverse("associations:directory") + "?vue=carte", "/introuvable/"]:
        policy = client.get(path)["Permissions-Policy"]
        for feature in ("camera", "microphone", "geolocation", "payment"):
            assert f"{feature}=()" in policy
        assert policy.count("=()") == len(DENIED_FEATURES)
