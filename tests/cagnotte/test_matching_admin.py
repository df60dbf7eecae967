"""Staff define matching offers in the admin: scoped to their bank, audited, frozen once a
gift is matched, closed early on record."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from cagnotte.models import MatchingOffer, MatchingOfferEvent
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit


@pytest.fixture
def staff_client(client, staff_pg):
    staff_pg.user_permissions.set(Permission.objects.filter(content_type__app_label="cagnotte"))
    client.force_login(staff_pg)
    return client


def form_data(program, **overrides):
    data = {
        "program": program.pk,
        "name": "Dons aux associations sportives doublés",
        "ratio_matched": "1",
        "ratio_given": "1",
        "starts_on": program.opens_on.isoformat(),
        "ends_on": program.closes_on.isoformat(),
        "budget": "50000",
        "cap_per_gift": "",
        "cap_per_member": "",
        "cap_per_association": "",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_staff_create_an_offer_recorded_with_who_and_what(staff_client, staff_pg, program):
    response = staff_client.post(reverse("admin:cagnotte_matchingoffer_add"), form_data(program))
    assert response.status_code == 302, response.content.decode()[:3000]
    offer = MatchingOffer.objects.get()
    assert (offer.budget, offer.spent, offer.created_by) == (50_000, 0, staff_pg)
    (event,) = offer.events.all()
    assert (event.event, event.actor, event.data["budget"]) == ("created", staff_pg, 50_000)
    page = staff_client.get(reverse("admin:cagnotte_matchingoffer_changelist")).content.decode()
    assert "Dons aux associations sportives doublés" in page


def test_dates_outside_the_campaign_are_refused(staff_client, program):
    late = (program.closes_on + datetime.timedelta(days=1)).isoformat()
    response = staff_client.post(
        reverse("admin:cagnotte_matchingoffer_add"), form_data(program, ends_on=late)
    )
    assert response.status_code == 200
    assert "comprises dans la campagne" in response.content.decode()
    assert not MatchingOffer.objects.exists()


def test_another_banks_program_and_offers_are_out_of_reach(staff_client, other_caisse):
    other_program = f.ProgramFactory(caisse_regionale=other_caisse, name="Programme T31")
    response = staff_client.post(
        reverse("admin:cagnotte_matchingoffer_add"), form_data(other_program)
    )
    assert response.status_code == 200 and not MatchingOffer.objects.exists()
    offer = MatchingOffer.objects.create(
        program=other_program,
        name="Offre T31",
        starts_on=other_program.opens_on,
        ends_on=other_program.closes_on,
        budget=10,
    )
    url = reverse("admin:cagnotte_matchingoffer_change", args=[offer.pk])
    assert staff_client.get(url).status_code == 302  # « not found »
    page = staff_client.get(reverse("admin:cagnotte_matchingoffer_changelist")).content.decode()
    assert "Offre T31" not in page


def test_terms_frozen_after_the_first_match_then_closed_early(
    staff_client, staff_pg, member, program, association
):
    staff_client.post(reverse("admin:cagnotte_matchingoffer_add"), form_data(program))
    offer = MatchingOffer.objects.get()
    url = reverse("admin:cagnotte_matchingoffer_change", args=[offer.pk])
    # Before any match: the budget may change, and the change is recorded.
    staff_client.post(url, form_data(program, budget="60000"))
    offer.refresh_from_db()
    assert offer.budget == 60_000
    assert offer.events.filter(event="changed", data__budget=60_000).exists()
    credit(member, program, 500)
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=100, token="t1"
    )
    offer.refresh_from_db()
    assert offer.spent == 100
    staff_client.post(url, form_data(program, budget="1", ratio_matched="3"))
    offer.refresh_from_db()
    assert (offer.budget, offer.ratio_matched, offer.spent) == (60_000, 1, 100)
    response = staff_client.post(
        reverse("admin:cagnotte_matchingoffer_changelist"),
        {"action": "close_early", "_selected_action": [offer.pk]},
    )
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.closed_at is not None and offer.closed_by == staff_pg
    assert offer.events.filter(event=MatchingOfferEvent.Event.CLOSED, actor=staff_pg).exists()
    # Closed: the next gift is not matched; the first match stays.
    gift = give_tookets(
        member=member, program=program, association_id=association.pk, amount=100, token="t2"
    )
    assert gift.matching is None
    offer.refresh_from_db()
    assert (offer.spent, offer.gifts_matched) == (100, 1)
    assert offer.closed_at <= timezone.now()


def test_an_association_of_another_bank_cannot_be_chosen(staff_client, program, other_caisse):
    stranger = f.AssociationFactory(caisse_regionale=other_caisse)
    response = staff_client.post(
        reverse("admin:cagnotte_matchingoffer_add"),
        form_data(program, associations=str(stranger.pk)),
    )
    assert response.status_code == 200 and not MatchingOffer.objects.exists()
    response = staff_client.post(
        reverse("admin:cagnotte_matchingoffer_add"), form_data(program, associations="x'1")
    )
    assert response.status_code == 200 and not MatchingOffer.objects.exists()
