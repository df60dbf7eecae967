"""The whole story through the pages: the president registers, staff asks for a correction,
the president fixes and resubmits, staff validates and enrols, members of the territory see it."""

from django.core import mail
from django.test import Client
from django.urls import reverse

from associations.models import Association
from associations.selectors import associations_visible_to
from tests.associations.test_registration import (  # noqa: F401 - fixtures
    GOOD,
    _clear_cache,
    bank_association,
    fill_all,
    post_auth,
    step_url,
)

Status = Association.Status


def decide(staff_client, kind, association, **data):
    url = reverse("admin:associations_association_decide", args=[kind])
    return staff_client.post(url, {"ids": str(association.pk), **data})


def test_registration_to_visibility_through_the_pages(
    client,
    pg_caisse,
    bank_association,  # noqa: F811
    staff_pg,
    program,
    member,
    other_member,
    django_capture_on_commit_callbacks,
):
    post_auth(client, pg_caisse)
    fill_all(client, pg_caisse)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("associations:register_review"), {"declaration": "on"})
    association = Association.objects.get()
    assert association.status == Status.SUBMITTED

    staff = Client()
    staff.force_login(staff_pg)
    with django_capture_on_commit_callbacks(execute=True):
        decide(staff, "correction", association, message="Le numéro RNA est incomplet.")
    space = client.get(reverse("associations:space")).content.decode()
    assert "Correction demandée : Le numéro RNA est incomplet." in space

    # The president logs out, comes back later, fixes the RNA and resubmits.
    client.post(reverse("accounts:logout"))
    response = post_auth(client, pg_caisse)
    assert response.status_code == 302
    review = client.get(reverse("associations:register_review")).content.decode()
    assert "Le numéro RNA est incomplet." in review
    client.post(step_url("identite"), dict(GOOD["identite"], rna_number="W321000124"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("associations:register_review"), {"declaration": "on"})
    association.refresh_from_db()
    assert association.status == Status.SUBMITTED
    assert association.rna_number == "W321000124"

    with django_capture_on_commit_callbacks(execute=True):
        decide(staff, "validation", association, message="")
    assert associations_visible_to(member).filter(pk=association.pk).exists() is False
    assert (
        "Validée, visible à partir de son enrôlement"
        in client.get(reverse("associations:space")).content.decode()
    )

    with django_capture_on_commit_callbacks(execute=True):
        decide(staff, "enrolement", association, programs=[program.pk])
    assert associations_visible_to(member).filter(pk=association.pk).exists()
    assert not associations_visible_to(other_member).filter(pk=association.pk).exists()
    assert "Visible" in client.get(reverse("associations:space")).content.decode()

    kinds = [m.subject for m in mail.outbox]
    assert len(kinds) == 5, kinds
    history = [(h.from_status, h.to_status) for h in association.history.order_by("id")]
    assert history == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "correction_requested"),
        ("correction_requested", "submitted"),
        ("submitted", "validated"),
        ("validated", "validated"),
    ]
