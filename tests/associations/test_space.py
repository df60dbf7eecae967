"""The association's space: status in words, staff's message, figures, access."""

import pytest
from django.urls import reverse

from associations.models import Association, StatusChange
from cagnotte.models import AssociationTotals, AssociationYearTotals
from tests import factories as f

Status = Association.Status
SPACE = reverse("associations:space")


@pytest.fixture
def asso_user(pg_caisse):
    return f.UserFactory(kind="association", caisse_regionale=pg_caisse)


def make(asso_user, status, **kw):
    return f.AssociationFactory(
        caisse_regionale=asso_user.caisse_regionale,
        user=asso_user,
        account_number=asso_user.account_number,
        status=status,
        **kw,
    )


@pytest.mark.parametrize(
    "status, message, expected",
    [
        (Status.SUBMITTED, "", "En cours de vérification"),
        (
            Status.CORRECTION_REQUESTED,
            "Le logo est flou.",
            "Correction demandée : Le logo est flou.",
        ),
        (Status.VALIDATED, "", "Validée, visible à partir de son enrôlement"),
        (Status.REJECTED, "Hors territoire.", "Refusée : Hors territoire."),
    ],
)
def test_status_in_words(client, asso_user, staff_pg, status, message, expected):
    asso = make(asso_user, status)
    if message:
        StatusChange.objects.create(
            association=asso,
            event=status,
            from_status="submitted",
            to_status=status,
            actor=staff_pg,
            message=message,
        )
    client.force_login(asso_user)
    page = client.get(SPACE)
    assert page.status_code == 200
    assert page.context["status_text"] == expected
    assert expected in page.content.decode()


def test_visible_when_enrolled_in_an_open_program(client, asso_user, program):
    asso = make(asso_user, Status.VALIDATED)
    f.EnrollmentFactory(association=asso, program=program)
    client.force_login(asso_user)
    page = client.get(SPACE)
    assert page.context["status_text"] == "Visible"
    assert program.name in page.content.decode()


def test_correction_offers_a_way_back_into_the_wizard(client, asso_user, staff_pg):
    make(asso_user, Status.CORRECTION_REQUESTED)
    client.force_login(asso_user)
    page = client.get(SPACE).content.decode()
    assert reverse("associations:register_review") in page
    assert "Corriger et renvoyer" in page


def test_submitted_file_cannot_be_edited(client, asso_user):
    make(asso_user, Status.SUBMITTED)
    client.force_login(asso_user)
    page = client.get(SPACE).content.decode()
    assert reverse("associations:register_review") not in page


def test_figures(client, asso_user, django_assert_max_num_queries):
    asso = make(asso_user, Status.VALIDATED)
    AssociationTotals.objects.create(
        association=asso,
        caisse_regionale=asso.caisse_regionale,
        supporters=7,
        received_total=5000,
        first_year=2015,
    )
    AssociationYearTotals.objects.create(association=asso, year=asso.created_at.year, received=1200)
    client.force_login(asso_user)
    with django_assert_max_num_queries(9):
        page = client.get(SPACE)
    figures = page.context["figures"]
    assert (figures.received_this_year, figures.received_total, figures.supporters) == (
        1200,
        5000,
        7,
    )
    html = page.content.decode()
    assert "7 personnes nous ont soutenu" in html
    assert "Depuis 2015" in html


def test_only_the_associations_own_user_sees_it(client, member, staff_pg, asso_user):
    make(asso_user, Status.SUBMITTED, name="Secret Club")
    for user in (member, staff_pg):
        client.force_login(user)
        page = client.get(SPACE)
        assert page.status_code == 403
        assert "Secret Club" not in page.content.decode()


def test_anonymous_goes_to_login(client, db):
    response = client.get(SPACE)
    assert response.status_code == 302
    assert reverse("accounts:login") in response.url


def test_an_association_user_without_file_is_sent_to_register(client, asso_user):
    client.force_login(asso_user)
    assert client.get(SPACE).url == reverse("associations:register")
