"""A member gives to a project from its association's page and sees its bar move; the
project's page and the bar pass axe (WCAG 2.2 A/AA) and the Nu Html Checker."""

import pytest
from django.db import connections
from django.urls import reverse

from tests import factories as f
from tests.browser.test_give import log_in
from tests.cagnotte.helpers import credit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def close_connections_opened_beside_playwright(page):
    yield
    connections.close_all()


def test_member_helps_a_project_and_sees_the_bar_move(
    page, live_server, member, program, association, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    project = f.ProjectFactory(
        association=association, program=program, title="Un minibus", goal=50_000
    )
    credit(member, program, 31_000)
    credit(member, program, 100)
    log_in(page, live_server, member)

    page.goto(reverse("associations:detail", args=[association.pk]))
    figures = page.locator(f"#project-{project.pk}-figures")
    assert figures.inner_text() == "0\u00a0K sur 50\u202f000\u00a0K — 0\u00a0%"
    page.get_by_role("link", name="J’aide ce projet").click()
    page.wait_for_url("**/donner/*/?projet=*")
    assert "Pour le projet « Un minibus »" in page.locator(".give-project").inner_text()
    page.get_by_label("Montant du don pour le programme Carte Sociétaire - GERS").fill("31100")
    page.get_by_role("button", name="VALIDER LA DEMANDE").click()
    page.wait_for_url("**/donner/recu/*/")

    page.goto(reverse("associations:project", args=[association.pk, project.pk]))
    assert (
        page.locator(f"#project-{project.pk}-figures").inner_text()
        == "31\u202f100\u00a0K sur 50\u202f000\u00a0K — 62\u00a0%"
    )
    bar = page.get_by_role("progressbar", name="Un minibus")
    assert bar.get_attribute("value") == "31100"
