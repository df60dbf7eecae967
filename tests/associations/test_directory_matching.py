"""Cards of associations a matching offer takes carry it, in words; the badge goes when the
budget runs out, and the cached cards follow (figures included)."""

import pytest
from django.db import connection, transaction
from django.template import Context, engines
from django.urls import reverse
from django.utils import timezone

from associations.directory import CARD_FIELDS, Card, card_labels, directory_options
from associations.models import Activity, Association, DirectoryVersion, Domain
from cagnotte import matching
from cagnotte.figures import _with_kept_badges, figures_of, read_figures, with_figures
from cagnotte.models import Favourite, MatchingOffer
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
    for m in [member, *f.MemberFactory.create_batch(3, caisse_regionale=pg_caisse)]:
        Favourite.objects.create(member=m, association=sports)
    with django_assert_num_queries(1):
        figures, favourite_id = read_figures([], member=member)
    assert favourite_id == sports.pk
    assert list(figures) == [sports.pk] and figures[sports.pk].offer_name == NAME


def _directory_statements(client):
    """The directory list as the member sees it, and what each of its figures' statements did
    of the badges (``cagnotte.figures._with_kept_badges``): « computed » (all of them), the
    ids it did not compute (some kept), or « kept » (all kept: no badge in the statement)."""
    statements = []

    def record(execute, sql, params, many, context):
        if "cagnotte_associationtotals" in sql and "associations_directoryversion" in sql:
            if "ANY(" in sql:
                statements.append(next(p for p in params if isinstance(p, list)))
            elif "cagnotte_matchingoffer" in sql:
                statements.append("computed")
            else:
                statements.append("kept")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        html = client.get(reverse("associations:directory"), {"vue": "liste"}).content.decode()
    return html, statements


def test_kept_badges_follow_every_write_to_an_offer(
    require_postgres, client, member, program, pg_caisse, sports, offer
):
    """Once known, the badges are not computed again for the same directory and day; a
    change of the lists (even written behind the service's back), a spent budget, a new offer
    or a close bumps the directory's version (database triggers) and shows on the next page;
    a match that leaves budget is not a change."""
    client.force_login(member)
    for _ in range(2):  # the version seen, then the badges computed under it
        html, _ = _directory_statements(client)
    html, statements = _directory_statements(client)
    assert statements == ["kept"] and NAME in card_of(html, sports)
    # The guess no longer holds: the page reads the version first and every badge.
    moved = ["kept", "computed"]

    def change_lists(code):  # as the admin does: the service, then the lists, in one transaction
        with transaction.atomic():
            matching.save_offer(offer=offer, actor=None, changed={"activities": [code]})
            offer.activities.set(Activity.objects.filter(code=code))

    change_lists("culture")
    html, statements = _directory_statements(client)
    assert statements == moved and NAME not in card_of(html, sports)
    html, statements = _directory_statements(client)
    assert statements == [[]] and NAME not in card_of(html, sports)  # computed under it, kept
    assert _directory_statements(client)[1] == ["kept"]
    change_lists("sport")
    assert NAME in card_of(_directory_statements(client)[0], sports)

    # Matches that leave budget change nothing a badge reads: the kept one stands, in one
    # statement.
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(other, program, 500)
    _directory_statements(client)
    for token in "mn":
        give_tookets(
            member=other, program=program, association_id=sports.pk, amount=10, token=token
        )
        html, statements = _directory_statements(client)
        assert statements == ["kept"] and NAME in card_of(html, sports)
    # A list changed behind the service's back (raw writes, the terms frozen by the matches)
    # bumps the version all the same: the triggers are the database's.
    offer.activities.set(Activity.objects.filter(code="culture"))
    html, statements = _directory_statements(client)
    assert statements == moved and NAME not in card_of(html, sports)
    offer.activities.set(Activity.objects.filter(code="sport"))
    assert NAME in card_of(_directory_statements(client)[0], sports)
    _directory_statements(client)  # the badges computed under the new version, then kept
    with connection.cursor() as cursor:  # any column a badge reads, by raw SQL
        cursor.execute(
            f"UPDATE {MatchingOffer._meta.db_table} SET name = %s WHERE id = %s",
            ["Offre renommée", offer.pk],
        )
    html, statements = _directory_statements(client)
    assert statements == moved and "Offre renommée" in card_of(html, sports)
    MatchingOffer.objects.filter(pk=offer.pk).update(name=NAME)
    assert NAME in card_of(_directory_statements(client)[0], sports)
    _directory_statements(client)
    assert _directory_statements(client)[1] == ["kept"]
    # The match that spends the budget does: the badge goes.
    give_tookets(member=other, program=program, association_id=sports.pk, amount=100, token="o")
    offer.refresh_from_db()
    assert offer.spent == offer.budget
    html, statements = _directory_statements(client)
    assert statements == moved and NAME not in card_of(html, sports)

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


def test_offer_writes_move_the_directory_version_but_matches_that_leave_budget(
    member, program, sports, offer
):
    """On both engines (associations migration 0017): what a badge reads of an offer moves
    the version — its lists, its columns, the match that spends its budget — and the matches
    that leave budget (every second under load) do not."""
    credit(member, program, 500)
    before = DirectoryVersion.current()
    for token in "ab":
        give_tookets(
            member=member, program=program, association_id=sports.pk, amount=10, token=token
        )
    offer.refresh_from_db()
    assert offer.spent == 20 and DirectoryVersion.current() == before
    offer.domains.set(Domain.objects.all()[:1])
    assert DirectoryVersion.current() != before
    before = DirectoryVersion.current()
    MatchingOffer.objects.filter(pk=offer.pk).update(ratio_matched=2)
    assert DirectoryVersion.current() != before
    before = DirectoryVersion.current()
    MatchingOffer.objects.filter(pk=offer.pk).update(budget=offer.spent + 5)  # still some left
    assert DirectoryVersion.current() != before
    before = DirectoryVersion.current()
    give_tookets(member=member, program=program, association_id=sports.pk, amount=10, token="c")
    offer.refresh_from_db()
    assert offer.spent == offer.budget and DirectoryVersion.current() != before


def test_a_favourite_off_the_page_gets_its_badge_when_the_page_s_are_kept(
    require_postgres, client, member, program, pg_caisse, sports, offer
):
    """The page's badges all kept, the statement has none; the favourite's row (not on the
    page) whose badge is not kept makes it run again for that one (the favourites page shows
    the favourite's card with its badge)."""
    others = [f.AssociationFactory(caisse_regionale=pg_caisse, name=f"Autre {n}") for n in range(2)]
    for other in others:
        f.EnrollmentFactory(association=other, program=program)
    version, day = DirectoryVersion.current(), timezone.localdate()
    options = dict(year=day.year, day=day, member=member, shown_projects=False, also=None)
    ids = [other.pk for other in others]
    _with_kept_badges(ids, options, version=version)  # the page's badges computed, kept
    Favourite.objects.create(member=member, association=sports)  # (no version moves)
    assert DirectoryVersion.current() == version
    statements = []

    def record(execute, sql, params, many, context):
        if "cagnotte_associationtotals" in sql:
            statements.append("ANY(" in sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        read_version, rows = _with_kept_badges(ids, options, version=version)
    assert statements == [False, True]  # none in the first, then the favourite's
    favourite = [row for row in rows if row[1]]
    assert favourite[0][0] == sports.pk and NAME in favourite[0]
    with connection.execute_wrapper(record):
        statements.clear()
        assert _with_kept_badges(ids, options, version=version) == (read_version, rows)
    assert statements == [False]  # the favourite's badge is kept now
