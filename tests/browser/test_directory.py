"""A member filters the directory, switches map/list, opens a card and sets a favourite.

Logs in by injecting a session cookie (the login page is built elsewhere). Map tiles point at
the live server (they 404: there is no tile server in tests); markers must show anyway.
"""

import os
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from associations.models import Activity
from cagnotte.models import Favourite
from caisses.models import CaisseLocale
from tests import factories as f
from tests.associations.directory_cast import hidden_associations, visible_associations

# serialized_rollback: the regional banks and activity lists come from data migrations, which
# the flush after a transactional test would otherwise wipe for the next one.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def log_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def shot(page, name):
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def test_member_filters_switches_map_and_list_opens_a_card_and_sets_a_favourite(
    page, live_server, settings, member, program, other_caisse
):
    settings.MAP_TILES_URL = live_server.url + "/no-tiles/{z}/{x}/{y}.png"
    sport = Activity.objects.get(code="sport")
    culture = Activity.objects.get(code="culture")
    visible_associations(program=program, count=25, activity=culture)
    (rando,) = visible_associations(
        program=program, count=1, name="Randonneurs des Pyrénées", activity=sport
    )
    visible_associations(program=program, count=1, name="Chorale des Pyrénées", activity=culture)
    hidden = hidden_associations(program=program, other_caisse=other_caisse)
    log_in(page, live_server, member)

    page.goto("/associations/")
    assert page.get_by_text(
        "Distribuez vos TOOKETS aux 27 associations retenues cette année"
    ).is_visible()
    shot(page, "directory-list")

    # Filter: activity + accent-free name search, through the GET form.
    page.get_by_label("Filter par activités").select_option(label="Sport")
    page.get_by_placeholder("Taper le nom de l'association").fill("pyrenees")
    page.get_by_role("button", name="CHERCHER").click()
    page.wait_for_url(re.compile(r"activite=sport"))
    assert "q=pyrenees" in page.url
    names = page.locator(".association-name").all_inner_texts()
    assert names == ["Randonneurs des Pyrénées"]

    # Switch to the map: the filters follow, markers show without any tile server.
    # A toggle button (Enter and Space work), pressed while the list shows.
    switch = page.get_by_role("button", name="Afficher en liste")
    assert switch.get_attribute("aria-pressed") == "true"
    switch.press(" ")
    page.wait_for_url(re.compile(r"vue=carte"))
    assert "activite=sport" in page.url and "q=pyrenees" in page.url
    page.wait_for_selector("#directory-map[data-markers='1']")
    markers = page.locator(".leaflet-marker-icon")
    assert markers.count() == 1
    # The tiles fail (no tile server here): the map says so, in a status message, and names
    # the local banks' towns at their places; the markers stay the only buttons.
    notice = page.locator("#map-notice[role=status]")
    notice.wait_for(state="visible")
    assert notice.inner_text().startswith("Le fond de carte n’est pas disponible")
    places = page.locator(".leaflet-tooltip.map-place")
    assert places.count() >= 1
    assert set(places.all_inner_texts()) <= set(
        CaisseLocale.objects.filter(caisse_regionale=member.caisse_regionale).values_list(
            "name", flat=True
        )
    )
    shot(page, "directory-map")

    # Back to the list with the browser's back button: same filtered list.
    page.go_back()
    page.wait_for_url(re.compile(r"^(?!.*vue=carte)"))
    assert page.locator(".association-name").all_inner_texts() == ["Randonneurs des Pyrénées"]
    page.go_forward()
    page.wait_for_selector("#directory-map[data-markers='1']")

    # Open the card from the marker, then make it the favourite.
    # A click that lands while Leaflet is still animating the view can miss the marker;
    # wait for the map to settle, and click again if the card did not open.
    card = page.locator("#map-card .association-card")
    for _attempt in range(3):
        page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
        page.locator(".leaflet-marker-icon").first.click()
        try:
            card.wait_for(timeout=3_000)
            break
        except PlaywrightTimeout:
            continue
    card.wait_for()
    assert "Randonneurs des Pyrénées" in card.inner_text()
    assert "Soyez le premier à soutenir cette association !" in card.inner_text()
    shot(page, "directory-map-card")
    card.get_by_role("button", name="Mettre en favoris").click()
    page.wait_for_selector(".message-success")
    assert "vue=carte" in page.url  # back where the member was
    assert Favourite.objects.get(member=member).association == rando

    # Unfiltered map: every visible association, none of the hidden ones.
    page.goto("/associations/?vue=carte")
    page.wait_for_selector("#directory-map[data-markers='27']")

    # The public page says it is the favourite; a hidden association is a 404.
    page.goto("/associations/")
    page.get_by_placeholder("Taper le nom de l'association").fill("RANDONNEURS")
    page.get_by_role("button", name="CHERCHER").click()
    page.get_by_role("link", name="Randonneurs des Pyrénées").click()
    page.wait_for_url(re.compile(rf"/associations/{rando.pk}/$"))
    assert page.locator(".favourite-badge").inner_text() == "Mon Asso Favorite"
    assert page.get_by_role("link", name="J'AIDE L'ASSOCIATION").is_visible()
    response = page.goto(f"/associations/{hidden['other_caisse'].pk}/")
    assert response.status == 404


def test_favourites_page_on_a_phone(page, live_server, member, association):
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, live_server, member)
    page.goto("/favoris/")
    page.get_by_role("button", name="Mettre en favoris").click()
    page.wait_for_selector(".message-success")
    current = page.locator(".favourite-current")
    assert "Les Amis du Gers" in current.inner_text()
    assert "sera automatiquement affecté à votre association favorite" in current.inner_text()
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "favourites-phone")
    assert f.caisse().code == "pyrenees-gascogne"


def test_on_a_phone_the_first_card_is_on_the_first_screen(
    page, live_server, member, program, pg_caisse
):
    """390 × 844: the filters fold behind « Filtrer » (with the number set), the search stays."""
    sport = Activity.objects.get(code="sport")
    visible_associations(program=program, count=3, activity=sport)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, member)
    page.goto("/associations/")
    first_card = page.locator(".association-card").first
    shot(page, "directory-phone-first")
    box = first_card.bounding_box()
    assert box["y"] + 120 <= 844, f"first card starts at {box['y']:.0f} px"
    assert page.get_by_placeholder("Taper le nom de l'association").is_visible()
    activity = page.get_by_label("Filter par activités")
    assert not activity.is_visible()
    shot(page, "directory-phone")

    # « Filtrer » unfolds the lists; once one is set, the button says how many.
    page.locator("summary", has_text="Filtrer").click()
    activity.select_option(label="Sport")
    page.get_by_role("button", name="CHERCHER").click()
    page.wait_for_url(re.compile(r"activite=sport"))
    summary = page.locator("summary", has_text="Filtrer").inner_text()
    assert " ".join(summary.split()).casefold() == "filtrer (1 filtre actif)"
    assert not page.get_by_label("Filter par activités").is_visible()
    box = page.locator(".association-card").first.bounding_box()
    assert box["y"] + 120 <= 844, f"first card starts at {box['y']:.0f} px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
