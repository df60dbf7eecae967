"""The cards show each live project's progress bar: read with the page's figures in the same
statement (``cagnotte.figures.read_figures``), part of each card's cache key, so that a gift
to a project, a project accepted and a project ended each re-render exactly their card."""

import datetime
import re

import pytest
from django.template import Context, engines
from django.urls import reverse
from django.utils import timezone, translation

from associations import projects
from associations.directory import CARD_FIELDS, Card, card_labels, directory_options
from associations.models import Association, Project
from cagnotte.figures import LiveProject, read_figures
from cagnotte.models import Favourite
from cagnotte.services import give_tookets
from tests import factories as f
from tests.associations.directory_cast import visible_associations
from tests.associations.test_directory_card import REFERENCE
from tests.cagnotte.helpers import credit

pytestmark = pytest.mark.django_db

URL = reverse("associations:directory")
FAVOURITES = reverse("associations:favourites")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def html(client, url=URL, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def bars(page: str) -> list[tuple[str, str, str]]:
    """Each card's bars: (title, max, value), in the page's order."""
    return re.findall(
        r'<li class="card-project"><a href="[^"]+">([^<]+)</a> '
        r'<progress max="(\d+)" value="(\d+)" aria-label="[^"]+">',
        page,
    )


@pytest.fixture
def counting(monkeypatch):
    """The pks of the cards rendered (not read from the cache) since the last clear."""
    from associations import views

    rendered = []
    real = views.association_card

    def count(context, card, anchor=True):
        rendered.append(card.pk)
        return real(context, card, anchor=anchor)

    monkeypatch.setattr(views, "association_card", count)
    return rendered


def test_each_kind_of_write_re_renders_its_card_exactly(
    client, member, program, staff_pg, counting
):
    alpha, bravo, charlie = visible_associations(program=program, count=3)
    owner = f.UserFactory(kind="association", caisse_regionale=program.caisse_regionale)
    Association.objects.filter(pk=bravo.pk).update(user=owner)
    bravo.refresh_from_db()
    client.force_login(member)
    assert bars(html(client)) == []
    # Proposed: not shown; the cards come from the cache.
    project = projects.submit_project(
        association=bravo,
        actor=owner,
        program=program,
        title="Un minibus",
        text="Pour les sorties.",
        goal=50_000,
        ends_on=program.closes_on,
    )
    counting.clear()
    assert bars(html(client)) == []
    assert counting == []
    # Accepted: its card shows the bar, the other cards come from the cache.
    projects.accept_project(project=project, staff=staff_pg)
    page = html(client)
    assert bars(page) == [("Un minibus", "50000", "0")]
    assert "0\xa0K sur 50\u202f000\xa0K — 0\xa0%" in page
    assert counting == [bravo.pk]
    # A gift to the project moves the bar; an ordinary gift to another association moves
    # its figures only.
    credit(member, program, 40_000)
    give_tookets(
        member=member,
        association_id=bravo.pk,
        amount=31_000,
        token="p",
        program=program,
        project_id=project.pk,
    )
    counting.clear()
    page = html(client)
    assert bars(page) == [("Un minibus", "50000", "31000")]
    assert "31\u202f000\xa0K sur 50\u202f000\xa0K — 62\xa0%" in page
    assert counting == [bravo.pk]
    counting.clear()
    assert bars(html(client)) == [("Un minibus", "50000", "31000")] and counting == []
    # The goal reached: the bar is full and says so.
    give_tookets(
        member=member,
        association_id=bravo.pk,
        amount=9_000,
        token="q",
        program=program,
        project_id=project.pk,
    )
    Project.objects.filter(pk=project.pk).update(goal=40_000)
    counting.clear()
    page = html(client)
    assert bars(page) == [("Un minibus", "40000", "40000")]
    assert "Objectif atteint" in page and counting == [bravo.pk]
    # Ended: no longer live, off its card.
    Project.objects.filter(pk=project.pk).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    counting.clear()
    page = html(client)
    assert bars(page) == [] and "Objectif atteint" not in page
    assert counting == [bravo.pk]


def test_the_map_card_and_the_favourites_page_show_the_bars(client, member, program):
    (alpha,) = visible_associations(program=program, count=1)
    f.ProjectFactory(association=alpha, program=program, title="Des livres", goal=2_000)
    client.force_login(member)
    card = html(client, reverse("associations:card", args=[alpha.pk]))
    assert bars(card) == [("Des livres", "2000", "0")]
    client.post(reverse("associations:set_favourite"), {"association": alpha.pk})
    # The favourite above the list (filtered off the list here), then both.
    assert bars(html(client, FAVOURITES, q="introuvable")) == [("Des livres", "2000", "0")]
    assert len(bars(html(client, FAVOURITES))) == 2
    # The association's page lists its projects below: its full card shows no bar.
    page = html(client, reverse("associations:detail", args=[alpha.pk]))
    assert bars(page) == [] and page.count("<progress") == 1


def test_only_live_accepted_projects_are_read_soonest_ending_first(member, program):
    alpha, bravo = visible_associations(program=program, count=2)
    today = timezone.localdate()
    later = f.ProjectFactory(association=alpha, program=program, title="Plus tard")
    sooner = f.ProjectFactory(association=alpha, program=program, title="Bientôt", ends_on=today)
    f.ProjectFactory(association=alpha, program=program, ends_on=today - datetime.timedelta(days=1))
    for status in (Project.Status.SUBMITTED, Project.Status.CORRECTION_REQUESTED, "refused"):
        f.ProjectFactory(association=alpha, program=program, status=status)
    f.ProjectFactory(association=bravo, program=program, title="Autre")
    credit(member, program, 100)
    give_tookets(
        member=member,
        association_id=alpha.pk,
        amount=30,
        token="s",
        program=program,
        project_id=sooner.pk,
    )
    figures, _favourite = read_figures([alpha.pk], day=today)
    assert figures[alpha.pk].projects == (
        LiveProject(sooner.pk, "Bientôt", 50_000, 30),
        LiveProject(later.pk, "Plus tard", 50_000, 0),
    )
    assert figures[alpha.pk].received_total == 30 and figures[alpha.pk].supporters == 1
    # Tomorrow « Bientôt » has ended.
    tomorrow = today + datetime.timedelta(days=1)
    figures, _favourite = read_figures([alpha.pk], day=tomorrow, year=today.year)
    assert [p.title for p in figures[alpha.pk].projects] == ["Plus tard"]


def test_the_favourite_twice_on_a_page_keeps_its_projects_once(member, program):
    alpha, bravo = visible_associations(program=program, count=2)
    f.ProjectFactory(association=alpha, program=program, title="Un")
    f.ProjectFactory(association=alpha, program=program, title="Deux")
    Favourite.objects.create(member=member, association=alpha)
    figures, favourite_id = read_figures([alpha.pk, bravo.pk], member=member)
    assert favourite_id == alpha.pk
    assert [p.title for p in figures[alpha.pk].projects] == ["Un", "Deux"]
    assert figures[bravo.pk].projects == ()


@pytest.mark.parametrize("mode", ["liste", "carte"])
def test_projects_add_no_query(client, member, program, django_assert_num_queries, mode):
    """The pinned counts of tests/associations/test_directory.py hold with projects on every
    card: their progress comes with the page's figures."""
    shown = visible_associations(program=program, count=5)
    for association in shown:
        for _ in range(3):
            f.ProjectFactory(association=association, program=program)
    client.force_login(member)
    params = {"vue": mode}
    warm = 2  # user, then (list) the figures with the version, or (map) the version
    client.get(URL, params)
    with django_assert_num_queries(warm):
        page = html(client, URL, **params)
    if mode == "liste":
        assert len(bars(page)) == 15
    card = reverse("associations:card", args=[shown[0].pk])
    client.get(card)
    with django_assert_num_queries(2):  # user, then the figures with the version
        assert len(bars(html(client, card))) == 3


@pytest.mark.parametrize("language", ["fr", "en"])
def test_card_tag_writes_the_bars_as_the_card_template(rf, program, language):
    """The projects' part of ``association_card``, byte for byte against the reference."""
    (alpha,) = visible_associations(program=program, count=1)
    f.ProjectFactory(association=alpha, program=program, title="<b>Vélos</b> & « roues »")
    reached = f.ProjectFactory(association=alpha, program=program, title="Fini", goal=10)
    member = f.MemberFactory(caisse_regionale=program.caisse_regionale)
    credit(member, program, 100)
    give_tookets(
        member=member,
        association_id=alpha.pk,
        amount=12,
        token="r",
        program=program,
        project_id=reached.pk,
    )
    figures, _favourite = read_figures([alpha.pk])
    labels = card_labels(directory_options(program.caisse_regionale_id))
    row = Association.objects.filter(pk=alpha.pk).values(*CARD_FIELDS).get()
    card = Card(row, labels, figures[alpha.pk])
    reference = engines["django"].engine.from_string(REFERENCE.read_text())
    tag = engines["django"].engine.from_string(
        "{% load directory_tags %}{% association_card association %}"
    )
    request = rf.get("/associations/")
    with translation.override(language):
        for full in (False, True):
            context = {"association": card, "full": full, "request": request, "next": "/"}
            expected = reference.render(Context(context))
            assert tag.render(Context(context)) == expected
            assert ("card-projects" in expected) is not full
    shown = tag.render(Context({"association": card, "request": request}))
    assert 'aria-label="&lt;b&gt;Vélos&lt;/b&gt; &amp; « roues »"' in shown
    assert '<progress max="10" value="10"' in shown and "Objectif atteint" in shown


def test_the_association_page_lists_its_live_and_ended_projects_read_with_its_figures(
    client, member, program
):
    """The association's page lists every project members see — live ones with their bar
    and « J’aide ce projet », ended ones with their final figure — latest end first, read in
    its figures' statement; not a proposed or refused one. A gift to a live project shows at
    once (the list is kept under what it shows)."""
    (alpha,) = visible_associations(program=program, count=1)
    today = timezone.localdate()
    later = f.ProjectFactory(association=alpha, program=program, title="Plus tard", goal=3_000)
    ended = f.ProjectFactory(
        association=alpha,
        program=program,
        title="Terminé",
        goal=1_000,
        ends_on=today - datetime.timedelta(days=1),
    )
    f.ProjectFactory(
        association=alpha, program=program, title="Proposé", status=Project.Status.SUBMITTED
    )
    credit(member, program, 500)
    client.force_login(member)
    url = reverse("associations:detail", args=[alpha.pk])
    page = html(client, url)
    titles = re.findall(r'<h3 id="project-\d+-title"><a href="[^"]+">([^<]+)</a>', page)
    assert titles == ["Plus tard", "Terminé"]
    assert "Proposé" not in page
    assert "Projet terminé : 0\u00a0K reçus" in page
    assert page.count("J’aide ce projet") == 1 and f"?projet={ended.pk}" not in page
    give_tookets(
        member=member,
        association_id=alpha.pk,
        amount=120,
        token="to-later",
        program=program,
        project_id=later.pk,
    )
    page = html(client, url)
    assert re.search(rf'<progress max="3000" value="120"[^>]*project-{later.pk}-title', page)
    # The project's own page: read with the directory's version; another association's
    # project under this association's address is not found.
    assert client.get(reverse("associations:project", args=[alpha.pk, ended.pk])).status_code == 200
    other = f.ProjectFactory(program=program)
    assert client.get(reverse("associations:project", args=[alpha.pk, other.pk])).status_code == 404
