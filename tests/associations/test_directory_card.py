import pytest
from django.urls import reverse
from django.utils import timezone

from associations.templatetags.directory_tags import tookets
from cagnotte.models import AssociationTotals, AssociationYearTotals, Favourite
from tests.associations.directory_cast import hidden_associations

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_member(client, member):
    client.force_login(member)
    return client


def test_tookets_format_like_the_guide():
    assert tookets(9830) == "9\u202f830\u00a0K"
    assert tookets(39) == "39\u00a0K"
    assert tookets(1234567) == "1\u202f234\u202f567\u00a0K"
    assert tookets(0) == "0\u00a0K"
    assert tookets(None) == ""


def test_public_page_shows_the_card_with_figures(client_member, association):
    year = timezone.localdate().year
    association.presentation = "Nous faisons vivre le Gers."
    association.save()
    AssociationTotals.objects.create(
        association=association, supporters=17, received_total=9830, first_year=2015
    )
    AssociationYearTotals.objects.create(association=association, year=year, received=39)
    AssociationYearTotals.objects.create(association=association, year=year - 1, received=500)
    response = client_member.get(reverse("associations:detail", args=[association.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Les Amis du Gers" in html
    assert "Nous faisons vivre le Gers." in html
    assert str(association.activity) in html and str(association.domain) in html
    assert str(association.caisse_locale) in html
    assert "17 personnes nous ont soutenu, merci à vous !" in html
    assert "Depuis 2015 <strong>9\u202f830\u00a0K</strong>" in html
    assert "Cette année <strong>39\u00a0K</strong>" in html
    assert reverse("cagnotte:give", args=[association.pk]) in html
    assert "J'AIDE L'ASSOCIATION" in html
    assert "Mettre en favoris" in html
    assert "csrfmiddlewaretoken" in html


def test_figures_default_to_zero_and_this_year(client_member, association):
    html = client_member.get(reverse("associations:detail", args=[association.pk])).content
    html = html.decode()
    year = timezone.localdate().year
    assert "0 personne nous a soutenu, merci à vous !" in html
    assert f"Depuis {year} <strong>0\u00a0K</strong>" in html


def test_favourite_shows_mon_asso_favorite_instead_of_the_button(
    client_member, member, association
):
    Favourite.objects.create(member=member, association=association)
    html = client_member.get(reverse("associations:detail", args=[association.pk])).content
    html = html.decode()
    assert "Mon Asso Favorite" in html
    assert "Mettre en favoris" not in html


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
def test_hidden_association_pages_are_404(client_member, program, other_caisse, key):
    hidden = hidden_associations(program=program, other_caisse=other_caisse)[key]
    assert client_member.get(reverse("associations:detail", args=[hidden.pk])).status_code == 404
    assert client_member.get(reverse("associations:card", args=[hidden.pk])).status_code == 404


def test_member_of_another_bank_gets_404(client, other_member, association):
    client.force_login(other_member)
    assert client.get(reverse("associations:detail", args=[association.pk])).status_code == 404


def test_card_fragment_for_the_map(client_member, association):
    response = client_member.get(
        reverse("associations:card", args=[association.pk]), {"next": "/associations/?vue=carte"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<article")
    assert 'name="next" value="/associations/?vue=carte"' in html


def test_card_queries_are_constant(client_member, association, django_assert_num_queries):
    # session, user, association, 2 figures, favourite
    with django_assert_num_queries(5):
        client_member.get(reverse("associations:card", args=[association.pk]))
