"""The association space's cached content: exact after every write that changes it, and
never another association's."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from associations.models import Association
from associations.services import (
    enroll_association,
    request_correction,
    unenroll_association,
    validate_association,
)
from cagnotte import payouts
from cagnotte.models import PayoutLine, PayoutStatement, Wallet
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

Status = Association.Status
SPACE = reverse("associations:space")
# user, the space's state; on a miss also the association, its enrolments, its open programs,
# the staff's last word, its figures (two) and its payouts (the session is read from the cache)
HIT_QUERIES = 2
MISS_QUERIES = 9


@pytest.fixture
def asso_user(pg_caisse):
    return f.UserFactory(kind="association", caisse_regionale=pg_caisse)


@pytest.fixture
def asso(asso_user, program):
    association = f.AssociationFactory(
        caisse_regionale=asso_user.caisse_regionale,
        user=asso_user,
        account_number=asso_user.account_number,
        name="Les Amis du Gers",
    )
    f.EnrollmentFactory(association=association, program=program)
    return association


@pytest.fixture
def asso_client(client, asso_user):
    client.force_login(asso_user)
    return client


def test_query_counts_on_a_miss_and_on_a_hit(asso_client, asso, django_assert_max_num_queries):
    with django_assert_max_num_queries(MISS_QUERIES):
        first = asso_client.get(SPACE)
    with django_assert_max_num_queries(HIT_QUERIES):
        second = asso_client.get(SPACE)
    assert first.status_code == second.status_code == 200
    strip = re.compile(r'value="[^"]+"')
    assert strip.sub("", first.content.decode()) == strip.sub("", second.content.decode())
    assert "Visible" in second.content.decode()


def test_one_associations_space_is_never_shown_to_another(client, asso, pg_caisse, program):
    # The same name, status, programs and figures: only the association differs.
    other_user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    other = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        user=other_user,
        account_number=other_user.account_number,
        name="Les Amis du Gers",
    )
    f.EnrollmentFactory(association=other, program=program)
    client.force_login(asso.user)
    client.get(SPACE)
    _payout_line(asso, program, amount=12345)
    assert "123,45" in client.get(SPACE).content.decode()
    client.force_login(other_user)
    assert "123,45" not in client.get(SPACE).content.decode()
    # Members and staff get no space, whatever is cached.
    for user in (f.MemberFactory(caisse_regionale=pg_caisse), f.StaffFactory()):
        client.force_login(user)
        page = client.get(SPACE)
        assert page.status_code == 403 and "Les Amis du Gers" not in page.content.decode()


def _payout_line(association, program, *, amount):
    statement, _ = PayoutStatement.objects.get_or_create(
        program=program, defaults={"total_k": amount, "total_cents": amount}
    )
    return PayoutLine.objects.create(
        statement=statement,
        association=association,
        gifts_k=amount,
        sweeps_k=0,
        total_k=amount,
        amount_cents=amount,
    )


def _gift(asso, program, staff):
    member = f.MemberFactory(caisse_regionale=asso.caisse_regionale)
    credit(member, program, 500)
    wallet = Wallet.objects.get(member=member)
    give_tookets(member=member, wallet_id=wallet.pk, association_id=asso.pk, amount=420, token="t")


def _close_program(asso, program, staff):
    program.closes_on = timezone.localdate() - datetime.timedelta(days=1)
    program.save()


def _withdraw(asso, program, staff):
    unenroll_association(association=asso, programs=[program], staff=staff, reason="Fin")


def _enrol(asso, program, staff):
    second = f.ProgramFactory(caisse_regionale=program.caisse_regionale, name="Épargne solidaire")
    enroll_association(association=asso, programs=[second], staff=staff)


def _rename(asso, program, staff):
    asso.name = "Les Nouveaux Amis"
    asso.save()


def _payout_sent_then_paid(asso, program, staff):
    statement = _payout_line(asso, program, amount=12345).statement
    payouts.mark_statement_sent(statement=statement, actor=staff)
    payouts.mark_statement_paid(statement=statement, actor=staff)


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (_gift, ["420\u00a0K", "1 personne nous a soutenu"]),
        (_close_program, ["Validée, visible à partir de son enrôlement"]),
        (_withdraw, ["Validée, visible à partir de son enrôlement"]),
        (_enrol, ["Épargne solidaire"]),
        (_rename, ["Les Nouveaux Amis"]),
        (_payout_sent_then_paid, ["Versé le", "123,45 €"]),
    ],
)
def test_the_next_display_shows_each_write(asso_client, asso, program, staff_pg, write, expected):
    before = asso_client.get(SPACE).content.decode()
    assert "Visible" in before and "0 personne nous a soutenu" in before
    write(asso, program, staff_pg)
    html = asso_client.get(SPACE).content.decode()
    for text in expected:
        assert text in html


def test_a_file_being_checked_shows_each_decision(asso_client, asso_user, pg_caisse, staff_pg):
    """A file that is not validated changes without bumping the directory's version."""
    asso = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        user=asso_user,
        account_number=asso_user.account_number,
        status=Status.SUBMITTED,
    )
    assert "En cours de vérification" in asso_client.get(SPACE).content.decode()
    Association.objects.filter(pk=asso.pk).update(name="Nouveau nom")  # a draft's rename
    assert "Nouveau nom" in asso_client.get(SPACE).content.decode()
    request_correction(association=asso, staff=staff_pg, message="Le logo est flou.")
    html = asso_client.get(SPACE).content.decode()
    assert "Correction demandée : Le logo est flou." in html
    assert reverse("associations:register_review") in html
    Association.objects.filter(pk=asso.pk).update(status=Status.SUBMITTED)  # resubmitted
    assert "En cours de vérification" in asso_client.get(SPACE).content.decode()
    validate_association(association=asso, staff=staff_pg, message="Bienvenue !")
    html = asso_client.get(SPACE).content.decode()
    assert "Validée, visible à partir de son enrôlement" in html
    assert "Bienvenue !" in html
