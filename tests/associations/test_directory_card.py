from pathlib import Path

import pytest
from django.template import Context, engines
from django.urls import reverse
from django.utils import timezone, translation

from associations.directory import CARD_FIELDS, Card, card_labels, directory_options
from associations.models import Association
from associations.templatetags.directory_tags import tookets
from cagnotte.figures import figures_of, read_figures, with_figures
from cagnotte.models import AssociationTotals, AssociationYearTotals, Favourite, Wallet
from cagnotte.services import give_tookets
from tests import factories as f
from tests.associations.directory_cast import hidden_associations
from tests.cagnotte.helpers import credit

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
        association=association,
        caisse_regionale=association.caisse_regionale,
        supporters=17,
        received_total=9830,
        first_year=2015,
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


def test_a_card_without_supporters_invites_and_names_no_first_year(
    client_member, member, association
):
    # Issue 19: « 0 personne nous a soutenu, merci à vous ! » thanked nobody, and « Depuis
    # <this year> » named a year in which nothing was received.
    url = reverse("associations:detail", args=[association.pk])
    html = client_member.get(url).content.decode()
    assert "Soyez le premier à soutenir cette association !" in html
    assert "personne nous a soutenu" not in html and "Depuis" not in html
    assert "Cette année <strong>0\u00a0K</strong>" in html
    program = association.enrollments.get().program
    credit(member, program, 30)
    wallet = Wallet.objects.get(member=member)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=30, token="c"
    )
    html = client_member.get(url).content.decode()
    year = timezone.localdate().year
    assert "1 personne nous a soutenu, merci à vous !" in html
    assert "Soyez le premier" not in html
    assert f"Depuis {year} <strong>30\u00a0K</strong>" in html


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
    url = reverse("associations:card", args=[association.pk])
    # First: user, its figures with the favourite and the directory's version, the
    # association's row and the version again, the option lists (its labels): 3 + the version
    # again
    with django_assert_num_queries(7):
        client_member.get(url)
    # Then: user, its figures with the favourite and the directory's version (the session,
    # the row and the rendered card come from the cache)
    with django_assert_num_queries(2):
        client_member.get(url)


REFERENCE = Path(__file__).with_name("card_reference.html")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_card_tag_writes_exactly_what_the_card_template_wrote(rf, association, pg_caisse, language):
    """``association_card`` builds the card in Python for speed: same HTML, byte for byte."""
    year = timezone.localdate().year
    plain = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        name="<script>alert('x')</script> & « Cie »",
        presentation="",
        activity=None,
        domain=None,
        caisse_locale=None,
    )
    wordy = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        name="L’Amicale d’Éauze",
        presentation=("Un texte <b>très</b> long & « engagé »,\n\nsur deux paragraphes. " * 8),
    )
    AssociationTotals.objects.create(
        association=wordy,
        caisse_regionale=wordy.caisse_regionale,
        supporters=1,
        received_total=1234567,
        first_year=2015,
    )
    AssociationYearTotals.objects.create(association=wordy, year=year, received=9830)
    AssociationTotals.objects.create(
        association=plain, caisse_regionale=plain.caisse_regionale, supporters=2, received_total=0
    )
    ids = [association.pk, plain.pk, wordy.pk]
    # Model instances with their figures (as the detail page reads them) for the reference
    # template, and the lean ``Card`` rows the list pages give the tag: same HTML from both.
    instances = {pk: _with_figures_of(pk) for pk in ids}
    labels = card_labels(directory_options(pg_caisse.pk))
    figures, _favourite = read_figures(ids, member=None, year=year)
    lean = {
        row["pk"]: Card(row, labels, figures[row["pk"]])
        for row in Association.objects.filter(pk__in=ids).values(*CARD_FIELDS)
    }
    cards = [instances[pk] for pk in ids]
    reference = engines["django"].engine.from_string(REFERENCE.read_text())
    tag = engines["django"].engine.from_string(
        "{% load directory_tags %}{% association_card association %}"
    )
    request = rf.get("/associations/", {"q": "a&b", "x": '<"'})
    compared = 0
    with translation.override(language):
        for card in cards:
            for favourite_id in (None, card.pk, card.pk + 1000):
                for full in (False, True):
                    for next_url in ("", "/associations/?vue=carte&q=<a>"):
                        context = {
                            "association": card,
                            "favourite_id": favourite_id,
                            "full": full,
                            "next": next_url,
                            "request": request,
                            "csrf_token": "token<&>",
                        }
                        expected = reference.render(Context(context))
                        assert tag.render(Context(context)) == expected
                        context["association"] = lean[card.pk]
                        assert tag.render(Context(context)) == expected
                        compared += 1
    assert compared == 36
    assert lean[wordy.pk].figures.received_this_year == 9830
    assert lean[association.pk].figures.supporters == 0
    for shown in (instances[plain.pk], lean[plain.pk]):
        assert "&lt;script&gt;" in tag.render(Context({"association": shown, "request": request}))


def test_list_and_single_card_pages_use_the_card(client_member, association):
    html = client_member.get(reverse("associations:directory")).content.decode()
    assert f'<li>\n<article class="association-card" id="association-{association.pk}"' in html
    assert "Soyez le premier à soutenir cette association !" in html


def _with_figures_of(pk):
    """An association (visible or not) with its figures, as the detail page reads them."""

    instance = with_figures(
        Association.objects.select_related("activity", "domain", "caisse_locale")
    ).get(pk=pk)
    instance.figures = figures_of(instance)
    return instance
