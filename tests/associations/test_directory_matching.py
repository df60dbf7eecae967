"""Cards of associations a matching offer takes carry it, in words; the badge goes when the
budget runs out, and the cached cards follow (figures included)."""

import pytest
from django.db import connection, transaction
from django.template import Context, engines
from django.urls import reverse
from django.utils import timezone

from associations.directory import CARD_FIELDS, Card, card_labels, directory_options
from associations.models import Activity, Association
from cagnotte import matching
from cagnotte.figures import figures_of, read_figures, with_figures
from cagnotte.models import MatchingOffer
from cagnotte.services import give_tookets
from tests import factories as f
from tests.associations.test_directory_card import REFERENCE
from tests.cagnotte.helpers import credit

NAME = "Dons aux associations sportives doublés par votre Caisse régionale"


@pytest.fixture
def sports(program, pg_caisse):
    association = f.AssociationFactory(
        caisse_regionale=pg_caisse, name="Rugby Club", activity=Activity.objects.get(code="sport")
    )
    f.EnrollmentFactory(association=association, program=program)
    return association


@pytest.fixture
def offer(program):
    offer = MatchingOffer.objects.create(
        program=program,
        name=NAME,
        starts_on=program.opens_on,
        ends_on=program.closes_on,
        budget=100,
    )
    offer.activities.set(Activity.objects.filter(code="sport"))
    return offer


def card_of(html, association):
    start = html.index(f'data-association="{association.pk}"')
    return html[start : html.index("</article>", start)]


def test_the_card_says_the_offer_and_loses_it_when_the_budget_is_spent(
    client, member, program, association, sports, offer
):
    client.force_login(member)
    until = f"jusqu’au {program.closes_on:%d/%m}"
    html = client.get(reverse("associations:directory"), {"vue": "liste"}).content.decode()
    assert NAME in card_of(html, sports) and until in card_of(html, sports)
    assert NAME not in card_of(html, association)  # not a sports association
    credit(member, program, 500)
    give_tookets(member=member, program=program, association_id=sports.pk, amount=100, token="a")
    html = client.get(reverse("associations:directory"), {"vue": "liste"}).content.decode()
    card = card_of(html, sports)
    assert NAME not in card  # the budget is spent: the badge goes
    assert "200\u00a0K" in card  # and the figures count the match
    detail = client.get(reverse("associations:detail", args=[sports.pk])).content.decode()
    assert NAME not in detail


def test_the_card_tag_writes_the_badge_as_the_reference_template(rf, sports, offer, pg_caisse):
    year = timezone.localdate().year
    instance = with_figures(Association.objects.filter(pk=sports.pk)).get()
    instance.figures = figures_of(instance)
    assert instance.figures.offer_name == NAME
    figures, _ = read_figures([sports.pk], member=None, year=year)
    assert figures[sports.pk].offer_name == NAME
    assert figures[sports.pk].offer_ends_on == offer.ends_on
    labels = card_labels(directory_options(pg_caisse.pk))
    row = Association.objects.filter(pk=sports.pk).values(*CARD_FIELDS).get()
    lean = Card(row, labels, figures[sports.pk])
    reference = engines["django"].engine.from_string(REFERENCE.read_text())
    tag = engines["django"].engine.from_string(
        "{% load directory_tags %}{% association_card association %}"
    )
    request = rf.get("/associations/")
    for shown in (instance, lean):
        context = {"association": shown, "request": request, "csrf_token": "t"}
        expected = reference.render(Context(context))
        assert "data-matching-offer" in expected
        assert tag.render(Context(context)) == expected


def test_the_favourite_carries_its_badge_once(
    member, pg_caisse, sports, offer, django_assert_num_queries
):
    from cagnotte.models import Favourite

    for m in [member, *f.MemberFactory.create_batch(3, caisse_regionale=pg_caisse)]:
        Favourite.objects.create(member=m, association=sports)
    with django_assert_num_queries(1):
        figures, favourite_id = read_figures([], member=member)
    assert favourite_id == sports.pk
    assert list(figures) == [sports.pk] and figures[sports.pk].offer_name == NAME


def _directory_statements(client):
    """The directory list as the member sees it, and the figures' statements it ran with the
    ids whose badge they did not compute (``cagnotte.figures._with_kept_badges``)."""
    skipped = []

    def record(execute, sql, params, many, context):
        if "ANY(" in sql and "cagnotte_matchingoffer" in sql:
            skipped.append(next(p for p in params if isinstance(p, list)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        html = client.get(reverse("associations:directory"), {"vue": "liste"}).content.decode()
    return html, skipped


def test_kept_badges_follow_every_write_to_an_offer(
    require_postgres, client, member, program, pg_caisse, sports, offer
):
    """Once known, the badges are not computed again for the same directory, day and offers;
    a change of the lists (even written behind the service's back), a spent budget, a new
    offer or a close shows on the next page; a match that leaves budget is not a change."""
    client.force_login(member)
    for _ in range(2):  # the version seen, then the badges computed under it
        html, _ = _directory_statements(client)
    html, skipped = _directory_statements(client)
    assert skipped == [[sports.pk]] and NAME in card_of(html, sports)

    def change_lists(code):  # as the admin does: the service, then the lists, in one transaction
        with transaction.atomic():
            matching.save_offer(offer=offer, actor=None, changed={"activities": [code]})
            offer.activities.set(Activity.objects.filter(code=code))

    change_lists("culture")
    html, skipped = _directory_statements(client)
    assert skipped == [[sports.pk], []] and NAME not in card_of(html, sports)
    change_lists("sport")
    assert NAME in card_of(_directory_statements(client)[0], sports)

    # Matches that leave budget change nothing a badge reads: the kept one stands, in one
    # statement.
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(other, program, 500)
    for token in "mn":
        give_tookets(
            member=other, program=program, association_id=sports.pk, amount=10, token=token
        )
        html, skipped = _directory_statements(client)
        assert skipped == [[sports.pk]] and NAME in card_of(html, sports)
    # The state is read from the rows: a list changed behind the service's back (no version
    # bumped, the terms frozen by the matches) shows all the same.
    offer.activities.set(Activity.objects.filter(code="culture"))
    assert NAME not in card_of(_directory_statements(client)[0], sports)
    offer.activities.set(Activity.objects.filter(code="sport"))
    assert NAME in card_of(_directory_statements(client)[0], sports)
    # The match that spends the budget does: the badge goes.
    give_tookets(member=other, program=program, association_id=sports.pk, amount=100, token="o")
    offer.refresh_from_db()
    assert offer.spent == offer.budget
    html, skipped = _directory_statements(client)
    assert skipped == [[sports.pk], []] and NAME not in card_of(html, sports)

    # A new offer for every association, then closed: each shows at once.
    newer = MatchingOffer.objects.create(
        program=program,
        name="Nouvelle offre",
        starts_on=program.opens_on,
        ends_on=program.closes_on,
        budget=100,
    )
    assert newer.name in card_of(_directory_statements(client)[0], sports)
    matching.close_offer(offer=newer, actor=None, reason="test")
    assert newer.name not in card_of(_directory_statements(client)[0], sports)
