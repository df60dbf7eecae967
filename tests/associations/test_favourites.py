import pytest
from django.db import connection
from django.urls import reverse

from cagnotte.models import Favourite
from tests.associations.directory_cast import hidden_associations, visible_associations

pytestmark = pytest.mark.django_db
PAGE = reverse("associations:favourites")
SET = reverse("associations:set_favourite")
RULE = (
    "Sans action de votre part, à la fin de l'année, le solde de vos Tookets sera "
    "automatiquement affecté à votre association favorite"
)


@pytest.fixture
def client_member(client, member):
    client.force_login(member)
    return client


def test_page_explains_the_year_end_rule_and_has_no_favourite_yet(client_member, association):
    response = client_member.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Associations Favorites" in html
    assert RULE in html
    assert "Vous n’avez pas encore choisi d’association favorite." in html
    assert "Les Amis du Gers" in html and "Mettre en favoris" in html


def test_set_then_change_the_one_favourite(client_member, member, program):
    first, second = visible_associations(program=program, count=2)
    response = client_member.post(SET, {"association": first.pk, "next": PAGE})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert Favourite.objects.get(member=member).association == first
    page = client_member.get(PAGE).content.decode()
    assert f"« {first.name} » est maintenant votre association favorite." in page
    current = page.split('id="favourite-title"')[1].split("</section>")[0]
    assert first.name in current and "Mon Asso Favorite" in current
    client_member.post(SET, {"association": second.pk})
    assert Favourite.objects.filter(member=member).count() == 1
    assert Favourite.objects.get(member=member).association == second


def test_search_by_name_on_the_favourites_page(client_member, program):
    a, b = visible_associations(program=program, count=2)
    a.name = "Chorale des Pyrénées"
    a.save()
    html = client_member.get(PAGE, {"q": "pyrenees"}).content.decode()
    assert "Chorale des Pyrénées" in html and b.name not in html


def test_map_mode_on_the_favourites_page(client_member, association):
    html = client_member.get(PAGE, {"vue": "carte"}).content.decode()
    assert 'id="directory-map"' in html and RULE in html


@pytest.mark.parametrize(
    "key",
    [
        "other_caisse",
        "not_enrolled",
        "past_year",
        "closed_program",
        "submitted",
        "rejected",
        "enrolled_elsewhere",
    ],
)
def test_hidden_association_can_never_be_chosen(client_member, member, program, other_caisse, key):
    hidden = hidden_associations(program=program, other_caisse=other_caisse)[key]
    response = client_member.post(SET, {"association": hidden.pk}, follow=True)
    assert response.status_code == 200
    assert "ne peut pas être votre favorite" in response.content.decode()
    assert not Favourite.objects.filter(member=member).exists()


def test_a_hidden_choice_does_not_replace_the_current_favourite(
    client_member, member, association, other_caisse
):
    client_member.post(SET, {"association": association.pk})
    hidden = hidden_associations(
        program=association.enrollments.get().program, other_caisse=other_caisse
    )
    client_member.post(SET, {"association": hidden["other_caisse"].pk})
    assert Favourite.objects.get(member=member).association == association


@pytest.mark.parametrize("value", ["", "abc", "1.5", "99999999"])
def test_garbage_is_a_french_message_not_a_500(client_member, member, value):
    response = client_member.post(SET, {"association": value}, follow=True)
    assert response.status_code == 200
    assert not Favourite.objects.exists()


def test_next_must_stay_on_the_site(client_member, association):
    response = client_member.post(
        SET, {"association": association.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == PAGE


def test_get_is_not_allowed_and_login_required(client, client_member, association):
    assert client_member.get(SET, {"association": association.pk}).status_code == 405
    client.logout()
    response = client.post(SET, {"association": association.pk})
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_other_members_cannot_choose_a_pyrenees_gascogne_association(
    client, other_member, association
):
    client.force_login(other_member)
    client.post(SET, {"association": association.pk})
    assert not Favourite.objects.exists()


def test_favourites_page_queries_are_bounded(
    client_member, member, program, django_assert_num_queries
):
    visible_associations(program=program, count=5)
    chosen = visible_associations(program=program, count=1)[0]
    client_member.post(SET, {"association": chosen.pk})
    client_member.get(PAGE)  # option lists into the cache
    # user, then the page's and the favourite's figures with the favourite id, the directory's
    # version (the one this process saw last, checked) and the member's year end (on
    # PostgreSQL, what names it: the preview kept under it); the
    # session, the page's plan and the rendered content come from the cache.
    with django_assert_num_queries(2):
        client_member.get(PAGE)
    visible_associations(program=program, count=40, caisse_locale=chosen.caisse_locale)
    # A new directory version: user, the figures under the version assumed (it moved), the
    # version, the figures again; option lists (3), counts, the plan (the page's rows read for
    # it) and the favourite's row, each but the lists followed by the version again, once; on
    # PostgreSQL, the year end with what names it (the version is part of it: read again).
    with django_assert_num_queries(4 + 9 + (connection.vendor == "postgresql")):
        client_member.get(PAGE)
    with django_assert_num_queries(2):
        client_member.get(PAGE)
