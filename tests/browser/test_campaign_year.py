"""Issue 19 in Chromium, with axe and the Nu Html Checker on every page: the wallet tells the
campaigns apart (open, closed with its destination, swept), the favourites page previews the
year end, and the directory's first page is each member's own, stable for the day."""

import re

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cagnotte.models import Favourite
from cagnotte.sweep import sweep_program
from tests import factories as f
from tests.associations.directory_cast import visible_associations
from tests.cagnotte.helpers import credit
from tookets.periods import current_period

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def close_connections_opened_beside_playwright(page):
    """Connections opened in Playwright's greenlet are closed there (see test_give.py)."""
    yield
    connections.close_all()


def log_in(page, live_server, user):
    page.context.clear_cookies()
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_wallet_and_favourites_tell_the_campaigns_apart(
    page, live_server, member, pg_caisse, program, association
):
    year = timezone.localdate().year
    # This year's campaign, its end near: its reminder is due whatever today is.
    type(program).objects.filter(pk=program.pk).update(reminder_days_before=366)
    last_year = f.ProgramFactory(caisse_regionale=pg_caisse, code="carte-passee", year=year - 1)
    f.EnrollmentFactory(association=association, program=last_year)
    swept = f.ProgramFactory(caisse_regionale=pg_caisse, code="carte-soldee", year=year - 2)
    credit(member, swept, 500, period=f"{year - 2}-03")
    sweep_program(program=swept)
    credit(member, program, 410, period=current_period())
    credit(member, last_year, 1741, period=f"{year - 1}-12")
    Favourite.objects.create(member=member, association=association)
    log_in(page, live_server, member)

    page.goto(reverse("cagnotte:wallet"))
    figures = page.locator(".wallet-figures")
    assert figures.locator("li").count() == 2  # this year's campaign, in both panels
    assert f"Carte Sociétaire - GERS {year}" in figures.inner_text()
    assert str(year - 1) not in figures.inner_text()
    closed = page.locator(".campaign-closed")
    assert f"Carte Sociétaire - GERS {year - 1} : campagne close" in closed.inner_text()
    assert "seront versés à Les Amis du Gers, votre association favorite" in closed.inner_text()
    over = page.locator(".campaigns-over").inner_text()
    assert f"Carte Sociétaire - GERS {year - 2}" in over and "retournés à votre Caisse" in over
    labels = [
        text.split("\n")[0] for text in page.locator(".figure-list .program").all_inner_texts()
    ]
    assert len(labels) == 2  # one row per panel: no two rows of the same label in a panel

    page.get_by_role("link", name="Changer d’association favorite").first.click()
    page.wait_for_url(re.compile(r"/favoris/"))
    preview = page.locator(".year-end").first.inner_text()
    assert f"Le {program.closes_on:%d/%m/%Y}, vos 410\u00a0K iront à Les Amis du Gers" in preview


def test_two_members_see_their_own_first_page_and_sort_by_name(
    page, live_server, member, pg_caisse, program
):
    for i in range(30):
        visible_associations(program=program, count=1, name=f"Association {i:02d}")
    other = f.MemberFactory(caisse_regionale=pg_caisse)

    def first_page(user):
        log_in(page, live_server, user)
        page.goto(reverse("associations:directory") + "?vue=liste")
        return page.locator(".association-name").all_inner_texts()

    mine = first_page(member)
    assert len(mine) == 20
    assert first_page(member) == mine  # the same member, the same day
    assert first_page(other) != mine
    # « Nom »: the alphabet, chosen in the page's own form.
    log_in(page, live_server, member)
    page.goto(reverse("associations:directory") + "?vue=liste")
    page.get_by_label("Trier").select_option("nom")
    page.get_by_role("button", name="CHERCHER").click()
    page.wait_for_url(re.compile(r"tri=nom"))
    assert page.locator(".association-name").all_inner_texts() == [
        f"Association {i:02d}" for i in range(20)
    ]


def test_staff_open_next_campaign_and_renew_last_years_list(
    page, live_server, staff_pg, pg_caisse, program
):
    from django.contrib.auth.models import Group

    from associations.models import StatusChange
    from cagnotte.campaigns import Enrollment, Program

    staff_pg.groups.add(Group.objects.get(name="Service Tookets"))
    kept = [
        visible_associations(program=program, count=1, name=f"Reconduite {i}")[0] for i in range(3)
    ]
    next_year = program.year + 1
    log_in(page, live_server, staff_pg)
    page.goto(reverse("admin:index"))
    assert "Ce qui vous attend" in page.locator(".staff-waiting").inner_text()

    page.goto(reverse("admin:cagnotte_program_add"))
    page.locator("#id_name").fill(program.name)
    page.locator("#id_code").fill(f"carte-gers-{next_year}")
    page.locator("#id_year").fill(str(next_year))
    page.locator("#id_opens_on").fill(f"{next_year}-01-01")
    page.locator("#id_closes_on").fill(f"{next_year}-12-31")
    page.locator("input[name=_save]").click()
    page.locator(".messagelist .success").wait_for()
    created = Program.objects.get(year=next_year, caisse_regionale=pg_caisse)

    page.goto(reverse("admin:cagnotte_program_renew", args=[created.pk]))
    assert page.locator("input[name=association]:checked").count() == 3
    page.get_by_role("button", name="Retenir ces associations").click()
    page.locator(".messagelist .success").wait_for()
    assert "3 associations retenues pour" in page.locator(".messagelist").inner_text()
    assert Enrollment.objects.filter(program=created).count() == 3
    assert (
        StatusChange.objects.filter(
            event=StatusChange.Event.ENROLLED, association__in=kept, actor=staff_pg
        ).count()
        == 3
    )


def test_association_space_shows_what_is_coming(page, live_server, pg_caisse, program):
    asso_user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    asso = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        user=asso_user,
        account_number=asso_user.account_number,
        name="Les Amis du Gers",
    )
    f.EnrollmentFactory(association=asso, program=program)
    member = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(member, program, 240, period=current_period())
    Favourite.objects.create(member=member, association=asso)
    log_in(page, live_server, asso_user)
    page.goto(reverse("associations:space"))
    forecast = page.locator(".space-forecast").inner_text()
    assert "1 sociétaire a choisi votre association comme favorite." in forecast
    assert "prévision au soldage : 240\u00a0K" in forecast
