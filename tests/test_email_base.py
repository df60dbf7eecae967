"""Every email, a member's or an association's, is built on the one base template
(templates/emails/_base.html) and its greeting block."""

import pytest

from accounts import emails as member_emails
from associations.emails import build_message
from associations.models import Association, StatusChange
from tests import factories as f


@pytest.mark.django_db
def test_member_and_association_emails_share_the_base_and_its_greeting(
    settings, member, program, association
):
    settings.SITE_URL = "https://tookets.example"
    member.display_name = "Jeanne Dupont"
    recap = member_emails.build_recap(member=member, period="2026-03", wallets=[], favourite=None)

    submitted = f.AssociationFactory(status=Association.Status.SUBMITTED, email="a@example.test")
    change = submitted.history.create(
        from_status=Association.Status.DRAFT,
        to_status=Association.Status.SUBMITTED,
        event=StatusChange.Event.SUBMITTED,
    )
    decision = build_message(change=change, kind="submitted", to=["a@example.test"])

    member_html, association_html = (m.alternatives[0][0] for m in (recap, decision))
    for html in (member_html, association_html):
        assert html.startswith("<!doctype html>")
        assert ">TOOKETS</p>" in html
    # The greeting names a member, greets an association plainly; each keeps its own links.
    assert "<p>Bonjour Jeanne Dupont,</p>" in member_html
    assert "Bonjour Jeanne Dupont," in recap.body
    assert "<p>Bonjour,</p>" in association_html and decision.body.startswith("Bonjour,")
    assert "Se désabonner" in member_html and "Se désabonner" not in association_html
    assert "Accéder à l’espace de l’association" in association_html
    assert "Accéder à l’espace" not in member_html
