"""Django admin for regional-bank staff: scoping, decisions through the services, dashboard."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from associations.models import Association, StatusChange
from cagnotte.campaigns import Enrollment
from cagnotte.models import AssociationYearTotals
from tests import factories as f

Status = Association.Status
CHANGELIST = reverse("admin:associations_association_changelist")
DASHBOARD = reverse("admin:associations_association_dashboard")


def decide_url(kind, *ids):
    url = reverse("admin:associations_association_decide", args=[kind])
    return f"{url}?ids={','.join(str(i) for i in ids)}" if ids else url


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def pg_file(pg_caisse):
    return f.AssociationFactory(
        caisse_regionale=pg_caisse,
        name="Rugby Club Auch",
        status=Status.SUBMITTED,
        email="rca@example.test",
    )


@pytest.fixture
def t31_file(other_caisse):
    return f.AssociationFactory(
        caisse_regionale=other_caisse,
        name="Chorale de Toulouse",
        status=Status.SUBMITTED,
        email="chorale@example.test",
    )


def test_staff_list_shows_only_their_banks_associations(client, staff_pg, pg_file, t31_file):
    client.force_login(staff_pg)
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert "Rugby Club Auch" in page.content.decode()
    assert "Chorale de Toulouse" not in page.content.decode()


def test_national_staff_see_all(client, national_staff, pg_file, t31_file):
    client.force_login(national_staff)
    page = client.get(CHANGELIST).content.decode()
    assert "Rugby Club Auch" in page and "Chorale de Toulouse" in page


def test_filters_and_search(client, staff_pg, pg_file, pg_caisse):
    other = f.AssociationFactory(
        caisse_regionale=pg_caisse, name="Judo Condom", rna_number="W999000111"
    )
    client.force_login(staff_pg)
    page = client.get(CHANGELIST, {"q": "W999000111"}).content.decode()
    assert "Judo Condom" in page and "Rugby Club Auch" not in page
    page = client.get(CHANGELIST, {"status__exact": "submitted"}).content.decode()
    assert "Rugby Club Auch" in page and "Judo Condom" not in page
    page = client.get(CHANGELIST, {"caisse_locale__id__exact": other.caisse_locale_id}).content
    assert "Judo Condom" in page.decode() and "Rugby Club Auch" not in page.decode()


def test_changelist_query_count(client, staff_pg, pg_caisse, django_assert_num_queries):
    """The same queries for 5 or 60 rows (a page of 50). Rendered: user (on PostgreSQL with
    its permissions; elsewhere they are one more statement), the state (bank and directory
    versions), local banks of the filter, activities, domains, one count, the page. From the
    cache: user, the state."""
    local = f.CaisseLocaleFactory(caisse_regionale=pg_caisse)
    for _i in range(5):
        f.AssociationFactory(caisse_regionale=pg_caisse, caisse_locale=local)
    client.force_login(staff_pg)
    with django_assert_num_queries(CHANGELIST_RENDERED_QUERIES):
        assert client.get(CHANGELIST).status_code == 200
    with django_assert_num_queries(CHANGELIST_CACHED_QUERIES):
        assert client.get(CHANGELIST).status_code == 200
    for _i in range(55):
        f.AssociationFactory(caisse_regionale=pg_caisse, caisse_locale=local)
    with django_assert_num_queries(CHANGELIST_RENDERED_QUERIES):
        page = client.get(CHANGELIST).content.decode()
    assert page.count('class="action-select"') == 50
    with django_assert_num_queries(CHANGELIST_CACHED_QUERIES):
        cached = client.get(CHANGELIST).content.decode()
    assert without_csrf(cached) == without_csrf(page)


def without_csrf(page: str) -> str:
    """The page with its CSRF tokens (masked anew for each response) blanked."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


# The permissions: read with the user on PostgreSQL (tookets.user_reads), else on their own.
_PERMISSIONS = 0 if connection.vendor == "postgresql" else 1
CHANGELIST_RENDERED_QUERIES = 7 + _PERMISSIONS
CHANGELIST_CACHED_QUERIES = 2 + _PERMISSIONS


def test_row_checkbox_is_djangos(rf, staff_pg, pg_file):
    """The row checkbox written directly is byte for byte the one Django's widget renders."""
    from django.contrib import admin as django_admin

    from associations.admin import AssociationAdmin

    model_admin = AssociationAdmin(Association, django_admin.site)
    ours = model_admin.action_checkbox(pg_file)
    djangos = django_admin.ModelAdmin.action_checkbox(model_admin, pg_file)
    assert ours == djangos
    assert f'value="{pg_file.pk}"' in ours


def test_change_page_of_another_bank_is_not_found(client, staff_pg, t31_file):
    client.force_login(staff_pg)
    url = reverse("admin:associations_association_change", args=[t31_file.pk])
    response = client.get(url)
    # The admin redirects a missing object to the index with a message: never shows it.
    assert response.status_code == 302
    assert "Chorale de Toulouse" not in client.get(response.url).content.decode()
    response = client.post(url, {"name": "Piratée"})
    t31_file.refresh_from_db()
    assert t31_file.name == "Chorale de Toulouse"


def test_change_page_shows_the_history(client, staff_pg, pg_file):
    StatusChange.objects.create(
        association=pg_file,
        event="submitted",
        from_status="draft",
        to_status="submitted",
        message="Premier envoi",
    )
    client.force_login(staff_pg)
    page = client.get(reverse("admin:associations_association_change", args=[pg_file.pk]))
    assert page.status_code == 200
    assert "Premier envoi" in page.content.decode()
    assert "Demander une correction" in page.content.decode()


def test_action_post_with_a_foreign_id_does_nothing(client, staff_pg, pg_file, t31_file):
    client.force_login(staff_pg)
    response = client.post(
        CHANGELIST,
        {"action": "validate_action", "_selected_action": [t31_file.pk]},
    )
    # The changelist drops ids outside the staff member's queryset: nothing is selected.
    assert response.status_code in (200, 302)
    t31_file.refresh_from_db()
    assert t31_file.status == Status.SUBMITTED


@pytest.mark.parametrize("kind", ["validation", "correction", "refus", "enrolement"])
def test_decision_views_refuse_foreign_ids(client, staff_pg, pg_file, t31_file, kind):
    client.force_login(staff_pg)
    assert client.get(decide_url(kind, t31_file.pk)).status_code == 404
    assert client.get(decide_url(kind, pg_file.pk, t31_file.pk)).status_code == 404
    data = {
        "ids": f"{t31_file.pk}",
        "message": "x",
        "reason": "x",
        "programs": [],
    }
    assert client.post(decide_url(kind), data).status_code == 404
    t31_file.refresh_from_db()
    assert t31_file.status == Status.SUBMITTED
    assert not StatusChange.objects.filter(association=t31_file).exists()


def test_enrol_view_refuses_a_foreign_program(client, staff_pg, pg_caisse, other_caisse):
    asso = f.AssociationFactory(caisse_regionale=pg_caisse, status=Status.VALIDATED)
    foreign_program = f.ProgramFactory(caisse_regionale=other_caisse)
    client.force_login(staff_pg)
    response = client.post(
        decide_url("enrolement"), {"ids": str(asso.pk), "programs": [foreign_program.pk]}
    )
    assert response.status_code == 400
    assert "programs" in response.context["form"].errors
    assert not Enrollment.objects.exists()


def test_member_and_association_users_cannot_enter(client, member, pg_file):
    client.force_login(member)
    assert client.get(CHANGELIST).status_code == 302  # to the admin login
    assert client.get(decide_url("validation", pg_file.pk)).status_code == 302


def test_correction_through_the_form_page(
    client, staff_pg, pg_file, django_capture_on_commit_callbacks
):
    client.force_login(staff_pg)
    # Action from the list leads to the form page.
    response = client.post(
        CHANGELIST, {"action": "correction_action", "_selected_action": [pg_file.pk]}
    )
    assert response.status_code == 302
    form_page = client.get(response.url)
    assert form_page.status_code == 200
    assert "Rugby Club Auch" in form_page.content.decode()
    empty = client.post(decide_url("correction"), {"ids": str(pg_file.pk), "message": ""})
    assert empty.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            decide_url("correction"),
            {"ids": str(pg_file.pk), "message": "Le numéro RNA ne correspond pas."},
        )
    assert done.status_code == 302
    pg_file.refresh_from_db()
    assert pg_file.status == Status.CORRECTION_REQUESTED
    change = StatusChange.objects.get(association=pg_file)
    assert change.actor == staff_pg and change.message == "Le numéro RNA ne correspond pas."
    (message,) = mail.outbox
    assert message.to == ["rca@example.test"]
    assert "Le numéro RNA ne correspond pas." in message.body


def test_illegal_decision_shows_a_message_not_a_500(client, staff_pg, pg_caisse):
    draft = f.AssociationFactory(caisse_regionale=pg_caisse, status=Status.DRAFT)
    client.force_login(staff_pg)
    response = client.post(decide_url("validation"), {"ids": str(draft.pk)}, follow=True)
    assert response.status_code == 200
    assert "Action impossible" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_validate_reject_and_enrol(client, staff_pg, pg_caisse, program, pg_file):
    second = f.AssociationFactory(caisse_regionale=pg_caisse, status=Status.SUBMITTED)
    client.force_login(staff_pg)
    client.post(decide_url("validation"), {"ids": str(pg_file.pk), "message": ""})
    client.post(decide_url("refus"), {"ids": str(second.pk), "reason": "Hors critères."})
    pg_file.refresh_from_db()
    second.refresh_from_db()
    assert (pg_file.status, second.status) == (Status.VALIDATED, Status.REJECTED)
    page = client.get(decide_url("enrolement", pg_file.pk))
    assert program.name in page.content.decode()
    client.post(decide_url("enrolement"), {"ids": str(pg_file.pk), "programs": [program.pk]})
    assert Enrollment.objects.filter(association=pg_file, program=program).count() == 1
    # A second enrolment does not duplicate it.
    client.post(decide_url("enrolement"), {"ids": str(pg_file.pk), "programs": [program.pk]})
    assert Enrollment.objects.filter(association=pg_file).count() == 1


def test_history_and_enrolment_lists_are_scoped(client, staff_pg, pg_file, t31_file):
    StatusChange.objects.create(
        association=pg_file, event="submitted", to_status="submitted", message="ici"
    )
    StatusChange.objects.create(
        association=t31_file, event="submitted", to_status="submitted", message="là-bas"
    )
    client.force_login(staff_pg)
    page = client.get(reverse("admin:associations_statuschange_changelist")).content.decode()
    assert "Rugby Club Auch" in page and "Chorale de Toulouse" not in page
    foreign = StatusChange.objects.get(association=t31_file)
    response = client.get(reverse("admin:associations_statuschange_change", args=[foreign.pk]))
    assert response.status_code == 302
    assert client.get(reverse("admin:cagnotte_enrollment_changelist")).status_code == 200


def test_dashboard_counts_only_the_staff_members_bank(
    client, staff_pg, pg_caisse, pg_file, t31_file, django_assert_max_num_queries
):
    f.AssociationFactory(caisse_regionale=pg_caisse, status=Status.VALIDATED)
    AssociationYearTotals.objects.create(
        association=pg_file, year=pg_file.created_at.year, received=1234
    )
    AssociationYearTotals.objects.create(
        association=t31_file, year=t31_file.created_at.year, received=99999
    )
    Association.objects.filter(pk=pg_file.pk).update(submitted_at=pg_file.created_at)
    client.force_login(staff_pg)
    with django_assert_max_num_queries(11):
        page = client.get(DASHBOARD, {"caisse": t31_file.caisse_regionale_id})
    assert page.status_code == 200
    html = page.content.decode()
    # The parameter cannot widen the scope: the figures are of the staff member's bank.
    assert dashboard_counts(html)["submitted"] == 1 and dashboard_counts(html)["validated"] == 1
    assert re.search(r'id="given-this-year">\s*1\s?234\sK', html), html
    assert "jour" in re.search(r'id="oldest-waiting">([^<]*)<', html).group(1)
    assert "Pyrénées Gascogne" in html
    assert "Toutes les caisses régionales" not in html


def dashboard_counts(html: str) -> dict[str, int]:
    return {status: int(n) for status, n in re.findall(r'data-status="([a-z_]+)">(\d+)<', html)}


def test_national_dashboard_can_pick_a_bank(client, national_staff, pg_file, t31_file):
    client.force_login(national_staff)
    page = client.get(DASHBOARD).content.decode()
    assert sum(dashboard_counts(page).values()) == 2 and "Toutes les caisses" in page
    page = client.get(DASHBOARD, {"caisse": t31_file.caisse_regionale_id}).content.decode()
    assert sum(dashboard_counts(page).values()) == 1


def test_national_dashboard_ignores_a_bank_that_is_not_ascii_digits(
    client, national_staff, pg_file, t31_file
):
    client.force_login(national_staff)
    for value in ("²", "١", "abc", "%00"):
        page = client.get(DASHBOARD, {"caisse": value})
        assert page.status_code == 200, value
        assert "Toutes les caisses régionales" in page.content.decode()


def test_dashboard_is_linked_from_the_list(client, staff_pg):
    client.force_login(staff_pg)
    assert DASHBOARD in client.get(CHANGELIST).content.decode()
    assert (
        DASHBOARD in client.get(reverse("admin:app_list", args=["associations"])).content.decode()
    )
