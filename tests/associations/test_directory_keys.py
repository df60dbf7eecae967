"""The directory's cache keys name only what its pages read (issue 24): parameters the form
does not know, invalid values, page numbers past the end and the URL a card returns to make
no key of their own, so no member can fill the shared cache with them."""

import random
import secrets

import pytest
from django.core.cache import cache
from django.urls import reverse

from associations.models import Activity
from tests import factories as f
from tests.associations.directory_cast import visible_associations

pytestmark = pytest.mark.django_db

DIRECTORY = reverse("associations:directory")
FAVOURITES = reverse("associations:favourites")
MAP_DATA = reverse("associations:map_data")


def cache_keys() -> set[str]:
    """Every key in the page cache: Redis (CACHE_URL) or the development's local memory."""
    if hasattr(cache, "keys"):  # django-redis: the keys as the code names them
        return set(cache.keys("*"))
    # Local memory keeps them made (« prefix:version:key »): the same names as Redis gives.
    return {key.split(":", 2)[2] for key in cache._cache}


def junk(rng: random.Random) -> dict[str, str]:
    """Parameters the pages ignore, with random names and values."""
    return {f"utm_{secrets.token_hex(3)}": secrets.token_hex(rng.randint(1, 40)) for _ in range(3)}


def hostile_known(rng: random.Random) -> dict[str, str]:
    """Random values for every parameter the directory reads (none of them valid)."""
    return {
        "activite": secrets.token_hex(4),
        "domaine": "x" + secrets.token_hex(3),
        "caisse": str(rng.randint(1, 10**9)),
        "vue": secrets.token_hex(2),
        "page": str(rng.randint(10, 10**12)),
    }


@pytest.fixture
def directory(member, program, pg_caisse):
    locale = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, code="AUCH")
    sport = Activity.objects.get(code="sport")
    rows = visible_associations(
        program=program, count=25, caisse_locale=locale, activity=sport, name="Amis du sport"
    )
    return rows


def visit(client, rng, association, *, hostile: bool):
    params = {**junk(rng), **(hostile_known(rng) if hostile else {})}
    for url in (DIRECTORY, FAVOURITES, MAP_DATA):
        assert client.get(url, params).status_code == 200
        assert client.get(url, {**params, "vue": "carte"}).status_code == 200
    # Valid filters among random ones: the same keys as the filters alone.
    valid = {**junk(rng), "activite": "sport", "caisse": "AUCH", "page": "2"}
    assert client.get(DIRECTORY, valid).status_code == 200
    assert client.get(MAP_DATA, {**junk(rng), "activite": "sport"}).status_code == 200
    detail = reverse("associations:detail", args=[association.pk])
    assert client.get(detail, junk(rng)).status_code == 200
    card = reverse("associations:card", args=[association.pk])
    assert client.get(card, {"next": f"/associations/?{secrets.token_hex(8)}"}).status_code == 200


def test_random_parameters_make_no_new_cache_keys(client, member, directory):
    client.force_login(member)
    client.post(reverse("associations:set_favourite"), {"association": directory[0].pk})
    rng = random.Random(24)
    # Every canonical page once (and an invalid value of each parameter, said « Erreur »).
    visit(client, rng, directory[1], hostile=False)
    visit(client, rng, directory[1], hostile=True)
    known = cache_keys()
    for _ in range(15):
        visit(client, rng, directory[1], hostile=False)
        visit(client, rng, directory[1], hostile=True)
    assert cache_keys() - known == set()


def test_one_search_typed_differently_shares_its_plan_and_counts(client, member, directory):
    client.force_login(member)
    page = client.get(DIRECTORY, {"q": "amis sport"}).content.decode()
    assert "Amis du sport" in page
    known = cache_keys()
    # Spaces around it, unknown parameters: the same keys.
    client.get(DIRECTORY, {"q": "  amis sport ", **junk(random.Random(1))})
    assert cache_keys() == known
    # Another case, accents, order: the search box shows what was typed, so the page around
    # the cards is kept once more, and that page with its cards in; the plan, the counts and
    # the cards are shared.
    for typed in ("AMIS SPORT", "Sport Amïs"):
        page = client.get(DIRECTORY, {"q": typed}).content.decode()
        assert f'value="{typed}"' in page and "Amis du sport" in page
        new = cache_keys() - known
        assert sorted(key.split(":")[1] for key in new) == [
            "associations/_directory_content.html",
            "directory-page",
        ], new
        known |= new
