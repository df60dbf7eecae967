"""The directory's name search: every word must match, in any order, whole or in part,
ignoring case, accents and apostrophes; « Vouliez-vous dire … » when nothing matches
(PostgreSQL, trigram similarity). The same all-words rule on SQLite and PostgreSQL."""

import html
import re

import pytest
from django.db import connection
from django.urls import reverse

from associations.selectors import search_words
from tests.associations.directory_cast import hidden_associations, visible_associations

pytestmark = pytest.mark.django_db
URL = reverse("associations:directory")


def card_names(response) -> list[str]:
    names = re.findall(
        r'class="association-name"><a href="[^"]+">([^<]+)</a>', response.content.decode()
    )
    return [html.unescape(name) for name in names]


@pytest.fixture
def client_member(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def directory(program):
    for name in (
        "Association Sportive Gersoise",
        "Football Club d’Auch",
        "Randonneurs des Pyrénées d'Aignan",
        "Chorale de Condom",
    ):
        visible_associations(program=program, count=1, name=name)


def test_search_words_are_normalized_and_deduplicated():
    assert search_words("  Asso SPORTIVE  gersoise ") == ["asso", "sportive", "gersoise"]
    assert search_words("club d’Auch") == ["club", "d", "auch"]
    assert search_words("Pyrénées-Aignan pyr") == ["pyrenees", "aignan"]
    assert search_words("") == []


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("asso sportive gersoise", ["Association Sportive Gersoise"]),
        ("gersoise asso", ["Association Sportive Gersoise"]),  # any order
        ("SPORT GERS", ["Association Sportive Gersoise"]),  # parts of words, any case
        ("pyrénées aignan", ["Randonneurs des Pyrénées d'Aignan"]),
        ("pyrenees d’aignan", ["Randonneurs des Pyrénées d'Aignan"]),  # accents, apostrophes
        ("club d'auch", ["Football Club d’Auch"]),
        ("chorale auch", []),  # every word must match
    ],
)
def test_every_word_matches_in_any_order(client_member, directory, typed, expected):
    assert card_names(client_member.get(URL, {"q": typed})) == expected


def test_hidden_associations_are_not_found_by_any_word(client_member, program, other_caisse):
    hidden = hidden_associations(program=program, other_caisse=other_caisse)
    for association in hidden.values():
        first_word = association.name.split()[0]
        assert association.name not in card_names(client_member.get(URL, {"q": first_word}))


def test_query_count_does_not_grow_with_the_words(
    client_member, directory, django_assert_max_num_queries
):
    many = "gersoise sportive asso association sport"
    # Warm the option lists and each search's counts (cached under the directory's version).
    client_member.get(URL, {"q": "asso"})
    assert card_names(client_member.get(URL, {"q": many})) == ["Association Sportive Gersoise"]
    with django_assert_max_num_queries(10) as one_word:
        client_member.get(URL, {"q": "asso"})
    with django_assert_max_num_queries(len(one_word.captured_queries)):
        client_member.get(URL, {"q": many})


def test_a_typo_gets_suggestions_on_postgresql(client_member, directory, require_postgres):
    response = client_member.get(URL, {"q": "gersoize"})
    page = response.content.decode()
    assert card_names(response) == []
    assert "Aucune association ne correspond à votre recherche." in page
    assert "Vouliez-vous dire :" in page
    assert "Association Sportive Gersoise</a>" in page
    # The suggestion is a link that finds it.
    link = re.search(r'<div class="suggestions">.*?href="([^"]+)"', page, re.S).group(1)
    followed = client_member.get(link.replace("&amp;", "&"))
    assert card_names(followed) == ["Association Sportive Gersoise"]


def test_suggestions_only_name_visible_associations(
    client_member, program, other_caisse, require_postgres
):
    hidden = hidden_associations(program=program, other_caisse=other_caisse)
    visible_associations(program=program, count=1, name="Chorale de Condom")
    for association in hidden.values():
        page = client_member.get(URL, {"q": association.name + "x"}).content.decode()
        suggested = re.findall(r'<div class="suggestions">.*?</div>', page, re.S)
        assert association.name not in "".join(suggested)


def test_no_suggestion_when_something_matches(client_member, directory):
    page = client_member.get(URL, {"q": "gersoise"}).content.decode()
    assert "Vouliez-vous dire" not in page
    assert connection.vendor in {"postgresql", "sqlite"}
