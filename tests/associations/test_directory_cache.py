"""The directory's cached content (``tookets.fragments``) stays exact and per request where it
must be: the favourite's badge, the favourites page's card figures, the map's bounds, and the
CSRF token of each card's form (PostgreSQL and SQLite)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from cagnotte.services import give_tookets
from caisses.models import CaisseRegionale
from tests import factories as f
from tests.associations.directory_cast import visible_associations
from tests.cagnotte.helpers import credit

URL = reverse("associations:directory")
FAVOURITES = reverse("associations:favourites")
SET = reverse("associations:set_favourite")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def html(client, url=URL, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_choosing_a_favourite_shows_at_once(client, member, program):
    alpha, bravo = visible_associations(program=program, count=2)
    client.force_login(member)
    assert "favourite-badge" not in html(client)
    client.post(SET, {"association": alpha.pk})
    page = html(client)
    assert page.count("favourite-badge") == 1
    assert re.search(rf'is-favourite" id="association-{alpha.pk}"', page)
    client.post(SET, {"association": bravo.pk})
    assert re.search(rf'is-favourite" id="association-{bravo.pk}"', html(client))


def test_favourites_page_card_follows_gifts(client, member, program):
    (chosen,) = visible_associations(program=program, count=1, name="Zoulou")
    client.force_login(member)
    client.post(SET, {"association": chosen.pk})
    # A filter that leaves the favourite off the page's cards: its card alone shows it.
    assert "Soyez le premier à soutenir cette association !" in html(
        client, FAVOURITES, q="introuvable"
    )
    credit(member, program, 300)
    give_tookets(member=member, association_id=chosen.pk, amount=75, token="g", program=program)
    page = html(client, FAVOURITES, q="introuvable")
    assert "1 personne nous a soutenu" in page and "<strong>75\xa0K</strong>" in page


def test_two_members_share_content_not_tokens(member, program, pg_caisse):
    """Two members with the same directory state get the same cached content, each with the
    CSRF token of their own session: the favourite form posted from either page works."""
    (alpha,) = visible_associations(program=program, count=1)
    twin = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Jumelle")
    clients = []
    for user in (member, twin):
        c = Client(enforce_csrf_checks=True)
        c.force_login(user)
        clients.append(c)
    pages = [html(c) for c in clients]
    tokens = [TOKEN.findall(page) for page in pages]
    assert all(tokens) and tokens[0][-1] != tokens[1][-1]
    assert "csrf-" not in pages[0] + pages[1]  # no placeholder left
    for c, page_tokens, user in zip(clients, tokens, (member, twin), strict=True):
        response = c.post(SET, {"association": alpha.pk, "csrfmiddlewaretoken": page_tokens[-1]})
        assert response.status_code == 302, user
        assert user.favourite.association_id == alpha.pk


def test_map_page_follows_its_regional_bank(client, member, program):
    visible_associations(program=program, count=1)
    client.force_login(member)
    assert "directory-map-config" in html(client, vue="carte")
    CaisseRegionale.objects.filter(pk=member.caisse_regionale_id).update(center_lat=43.123456)
    assert "43.123456" in html(client, vue="carte")


@pytest.mark.parametrize("url", [URL, FAVOURITES])
def test_another_banks_member_never_gets_this_content(client, member, other_member, program, url):
    (alpha,) = visible_associations(program=program, count=1, name="Seulement Gers")
    client.force_login(member)
    assert "Seulement Gers" in html(client, url)
    client.force_login(other_member)
    assert "Seulement Gers" not in html(client, url)


def test_a_search_in_error_keeps_its_error_summary_from_the_cache(client, member, program):
    visible_associations(program=program, count=1)
    client.force_login(member)
    for _ in range(2):  # the plan read, then the plan cached
        page = html(client, q="x" * 150)
        assert "Le formulaire contient des erreurs" in page
        assert "<title>Erreur – " in page


def test_association_page_follows_gifts_renames_and_visibility(client, member, program):
    from associations.models import Association

    (alpha,) = visible_associations(program=program, count=1, name="Alpha")
    url = reverse("associations:detail", args=[alpha.pk])
    client.force_login(member)
    assert "Soyez le premier à soutenir cette association !" in html(client, url)
    credit(member, program, 300)
    give_tookets(member=member, association_id=alpha.pk, amount=40, token="d", program=program)
    assert "<strong>40\xa0K</strong>" in html(client, url)
    Association.objects.filter(pk=alpha.pk).update(name="Alpha renommée", city="Auch")
    page = html(client, url)
    assert "<title>Alpha renommée — Tookets</title>" in page and "Auch" in page
    client.post(SET, {"association": alpha.pk})
    assert "favourite-badge" in html(client, url)
    Association.objects.filter(pk=alpha.pk).update(status=Association.Status.REJECTED)
    assert client.get(url).status_code == 404


def test_a_gift_re_renders_its_card_only(client, member, program, monkeypatch):
    """Each card is cached under its own figures: after a gift the page around the cards and
    the other cards come from the cache, one card is rendered again."""
    from associations import views

    shown = visible_associations(program=program, count=3)
    client.force_login(member)
    rendered = []
    real = views.association_card

    def counting(context, card, anchor=True):
        rendered.append(card.pk)
        return real(context, card, anchor=anchor)

    monkeypatch.setattr(views, "association_card", counting)
    html(client)
    assert sorted(rendered) == sorted(a.pk for a in shown)
    rendered.clear()
    html(client)
    assert rendered == []
    credit(member, program, 300)
    give_tookets(member=member, association_id=shown[1].pk, amount=5, token="r", program=program)
    page = html(client)
    assert rendered == [shown[1].pk] and "<strong>5\xa0K</strong>" in page
    rendered.clear()
    client.post(SET, {"association": shown[0].pk})
    html(client)
    assert rendered == [shown[0].pk]  # its badge; the others were not the favourite before


def test_a_page_whose_figures_did_not_move_is_read_whole(client, member, program, monkeypatch):
    """The content with its cards in is kept under the content's keys and the figures' rows
    as read: shown again, neither the content nor a card is looked up or rendered. It is kept
    in this process too (``tookets.fragments.kept_get``), so it holds when the cache lost it,
    and a gift still shows at once."""
    from django.core.cache import cache

    from associations import views

    shown = visible_associations(program=program, count=3)
    client.force_login(member)
    rendered, looked_up = [], []
    real_card, real_cached = views.association_card, views.cached_html

    def counting_card(context, card, anchor=True):
        rendered.append(card.pk)
        return real_card(context, card, anchor=anchor)

    def counting_cached(template_name, **kwargs):
        looked_up.append(template_name)
        return real_cached(template_name, **kwargs)

    monkeypatch.setattr(views, "association_card", counting_card)
    monkeypatch.setattr(views, "cached_html", counting_cached)
    first = TOKEN.sub("", html(client))
    assert sorted(rendered) == sorted(a.pk for a in shown) and len(looked_up) == 1
    rendered.clear(), looked_up.clear()
    cache.clear()
    assert TOKEN.sub("", html(client)) == first
    assert rendered == [] and looked_up == []
    credit(member, program, 300)
    give_tookets(member=member, association_id=shown[2].pk, amount=7, token="w", program=program)
    page = html(client)
    # A new key: the cards are looked up again, and rendered again since the cache lost them.
    assert len(looked_up) == 1 and sorted(rendered) == sorted(a.pk for a in shown)
    assert "<strong>7\xa0K</strong>" in page


def test_the_version_guessed_is_checked_with_the_figures(
    client, member, program, django_assert_num_queries
):
    """The version this process saw last is assumed, and checked in the figures' statement:
    a write made elsewhere (the database bumps the version) shows at once."""
    from associations.models import Association

    (alpha,) = visible_associations(program=program, count=1, name="Nom d’avant")
    client.force_login(member)
    html(client)
    with django_assert_num_queries(2):  # user, the figures with the version: the guess holds
        assert "Nom d’avant" in html(client)
    Association.objects.filter(pk=alpha.pk).update(name="Nom d’après")
    page = html(client)
    assert "Nom d’après" in page and "Nom d’avant" not in page
