"""Staff run their campaigns (issue 19, item 4): a bank's Tookets service opens its next
campaign in the admin, scoped to its bank and validated, and renews last campaign's list in
one recorded decision; the associations show to members only from the opening date. Staff of
another bank reach none of it (their tests try the other bank's ids)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from associations.models import Association, StatusChange
from associations.selectors import associations_visible_to
from cagnotte.campaigns import Enrollment, Program
from cagnotte.ledger_partitions import is_partitioned, ledger_partition_years
from tests import factories as f
from tests.cagnotte.helpers import credit
from tookets.models import OutboxMessage

ADD = reverse("admin:cagnotte_program_add")


def form_data(**overrides):
    year = timezone.localdate().year + 1
    data = {
        "name": "Carte Sociétaire - GERS",
        "code": f"carte-gers-{year}",
        "year": year,
        "opens_on": f"{year}-01-01",
        "closes_on": f"{year}-12-31",
        "reminder_days_before": 21,
    }
    data.update(overrides)
    return data


@pytest.fixture
def staff_client(client, staff_pg):
    client.force_login(staff_pg)
    return client


def test_staff_create_their_next_campaign_in_their_bank(staff_client, pg_caisse, other_caisse):
    # A national field in the post is ignored: the campaign is the staff member's bank's.
    response = staff_client.post(ADD, form_data(caisse_regionale=other_caisse.pk))
    assert response.status_code == 302, response.content.decode()[:3000]
    created = Program.objects.get(code=form_data()["code"])
    assert created.caisse_regionale_id == pg_caisse.pk
    assert created.label == f"Carte Sociétaire - GERS {timezone.localdate().year + 1}"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"opens_on": "2031-06-01", "closes_on": "2031-01-01"}, "La clôture doit suivre"),
        ({}, "déjà une campagne de ce nom cette année-là"),
    ],
)
def test_the_campaign_is_validated(staff_client, pg_caisse, overrides, message):
    f.ProgramFactory(
        caisse_regionale=pg_caisse, name="Carte Sociétaire - GERS", year=form_data()["year"]
    )
    response = staff_client.post(ADD, form_data(code="autre-code", **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()


def test_dates_under_members_tookets_change_only_when_confirmed(staff_client, member, program):
    credit(member, program, 50)
    url = reverse("admin:cagnotte_program_change", args=[program.pk])
    data = form_data(
        name=program.name,
        code=program.code,
        year=program.year,
        opens_on=program.opens_on.isoformat(),
        closes_on=(program.closes_on - datetime.timedelta(days=10)).isoformat(),
    )
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "1 sociétaire détient des Tookets dans cette campagne" in response.content.decode()
    program.refresh_from_db()
    assert program.closes_on.month == 12 and program.closes_on.day == 31
    assert staff_client.post(url, {**data, "confirm_dates": "on"}).status_code == 302
    program.refresh_from_db()
    assert program.closes_on.day == 21


def test_another_banks_staff_reach_none_of_it(client, staff_other, program, association):
    client.force_login(staff_other)
    change = reverse("admin:cagnotte_program_change", args=[program.pk])
    assert client.get(change).status_code == 302  # « not found »
    renew = reverse("admin:cagnotte_program_renew", args=[program.pk])
    assert client.get(renew).status_code == 404
    assert client.post(renew, {"association": [association.pk]}).status_code == 404
    assert not StatusChange.objects.filter(event=StatusChange.Event.ENROLLED).exists()


def test_renew_last_years_list_in_one_decision(staff_client, staff_pg, member, pg_caisse, program):
    this_year = program.year
    kept = f.AssociationFactory(caisse_regionale=pg_caisse, name="Retenue")
    also = f.AssociationFactory(caisse_regionale=pg_caisse, name="Aussi")
    gone = f.AssociationFactory(
        caisse_regionale=pg_caisse, name="Refusée", status=Association.Status.REJECTED
    )
    for a in (kept, also, gone):
        f.EnrollmentFactory(association=a, program=program)
    staff_client.post(ADD, form_data(name=program.name))
    nxt = Program.objects.get(year=this_year + 1, caisse_regionale=pg_caisse)
    url = reverse("admin:cagnotte_program_renew", args=[nxt.pk])
    page = staff_client.get(url).content.decode()
    assert "Retenue" in page and "Aussi" in page and "Refusée" not in page
    assert page.count("checked") == 2  # preselected
    before = OutboxMessage.objects.count()
    response = staff_client.post(url, {"association": [kept.pk, also.pk]})
    assert response.status_code == 302
    assert set(Enrollment.objects.filter(program=nxt).values_list("association_id", flat=True)) == {
        kept.pk,
        also.pk,
    }
    events = StatusChange.objects.filter(event=StatusChange.Event.ENROLLED, actor=staff_pg)
    assert events.count() == 2 and "Retenue pour la campagne" in events.first().message
    assert OutboxMessage.objects.count() - before == 2  # each association is told
    # A replayed post or another bank's association writes nothing more.
    assert staff_client.post(url, {"association": [kept.pk]}).status_code == 200
    assert Enrollment.objects.filter(program=nxt).count() == 2
    # They show to members from the new campaign's opening only (the open rule).
    visible = associations_visible_to(member, on=nxt.opens_on - datetime.timedelta(days=400))
    assert not visible.filter(pk__in=[kept.pk]).exists()
    Enrollment.objects.filter(program=program).delete()  # last year's list has ended
    assert not associations_visible_to(member, on=program.closes_on).filter(pk=kept.pk).exists()
    assert associations_visible_to(member, on=nxt.opens_on).filter(pk=kept.pk).exists()


def test_opening_a_campaign_makes_its_ledger_partition_and_its_year_is_then_fixed(
    staff_client, member, program
):
    year = 2050
    assert staff_client.post(ADD, form_data(year=year, code="gers-2050")).status_code == 302
    opened = Program.objects.get(code="gers-2050")
    if is_partitioned():  # PostgreSQL
        assert year in ledger_partition_years()
    credit(member, opened, 5, period="2050-01")
    url = reverse("admin:cagnotte_program_change", args=[opened.pk])
    data = form_data(year=year + 1, code="gers-2050", opens_on="2050-01-01")
    data["closes_on"] = "2050-12-31"
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "son année ne change plus" in response.content.decode()
    opened.refresh_from_db()
    assert opened.year == year
