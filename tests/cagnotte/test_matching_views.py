"""What members see of a matching offer: the gift form's preview, the receipt, the history;
the gift page's cached fragment stays exact after a match, a change and a close."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cagnotte import matching
from cagnotte.campaigns import Program
from cagnotte.models import MatchingOffer
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

NBSP = "\u00a0"


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def make_offer(program, **fields):
    values = {
        "name": "Dons doublés par votre Caisse régionale",
        "starts_on": program.opens_on,
        "ends_on": program.closes_on,
        "budget": 50_000,
        **fields,
    }
    return MatchingOffer.objects.create(program=program, **values)


def give_url(association):
    return reverse("cagnotte:give", args=[association.pk])


def post_gift(client, association, amount):
    html = client.get(give_url(association)).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', html)[1]
    wallet = re.search(r'name="wallet" value="(\d+)"', html)[1]
    return client.post(
        give_url(association), {"wallet": wallet, "token": token, "amount": str(amount)}
    )


def test_the_form_says_what_the_gift_will_bring_and_the_receipt_what_was_added(
    member_client, member, program, association
):
    offer = make_offer(program)
    credit(member, program, 100)
    html = member_client.get(give_url(association)).content.decode()
    assert "Dons doublés par votre Caisse régionale" in html
    assert f"jusqu’au {program.closes_on:%d/%m/%Y}" in html
    assert f"Votre don de 100{NBSP}K sera complété de 100{NBSP}K" in html
    assert 'data-offers="[[1, 1, 50000]]"' in html
    response = post_gift(member_client, association, 100)
    assert response.status_code == 302
    receipt = member_client.get(response["Location"]).content.decode()
    assert f"Votre Caisse régionale a complété votre don de 100{NBSP}K" in receipt
    assert "limité" not in receipt
    history = member_client.get(reverse("cagnotte:wallet")).content.decode()
    assert f"+ 100{NBSP}K d’abondement" in history
    offer.refresh_from_db()
    assert offer.spent == 100


def test_a_cut_match_says_so_and_a_spent_budget_is_announced(
    member_client, member, program, association
):
    make_offer(program, budget=30)
    credit(member, program, 200)
    html = member_client.get(give_url(association)).content.decode()
    # The default amount is the whole balance: the budget left cuts what the form announces.
    assert f"Votre don de 200{NBSP}K sera complété de 30{NBSP}K" in html
    response = post_gift(member_client, association, 100)
    receipt = member_client.get(response["Location"]).content.decode()
    assert f"complété votre don de 30{NBSP}K" in receipt
    assert "limité par le plafond ou le budget" in receipt
    # The next display (cached fragment) knows the budget is spent.
    html = member_client.get(give_url(association)).content.decode()
    assert "L’abondement de votre Caisse régionale est épuisé" in html
    assert "sera complété de" not in html
    # A gift after the budget ran out: the receipt says why nothing was added.
    response = post_gift(member_client, association, 50)
    receipt = member_client.get(response["Location"]).content.decode()
    assert "n’a rien ajouté à ce don : son budget ou un plafond est atteint" in receipt
    assert "complété votre don" not in receipt


def test_no_offer_no_word_of_it(member_client, member, program, association):
    credit(member, program, 100)
    html = member_client.get(give_url(association)).content.decode()
    assert "complété" not in html and "data-matching" not in html


def test_the_cached_page_follows_each_write_to_an_offer(
    member_client, member, staff_pg, program, association
):
    credit(member, program, 100)
    member_client.get(give_url(association))  # cached, without an offer
    offer = matching.save_offer(
        offer=MatchingOffer(
            program=program,
            name="Offre nouvelle",
            starts_on=program.opens_on,
            ends_on=program.closes_on,
            budget=1_000,
        ),
        actor=staff_pg,
        changed={"name": "Offre nouvelle"},
    )
    assert "Offre nouvelle" in member_client.get(give_url(association)).content.decode()
    # Another member's gift spends the budget: this member's page says so at once.
    someone = f.MemberFactory(caisse_regionale=program.caisse_regionale)
    credit(someone, program, 2_000)
    give_tookets(
        member=someone, program=program, association_id=association.pk, amount=1_000, token="x"
    )
    assert "est épuisé" in member_client.get(give_url(association)).content.decode()
    matching.close_offer(offer=offer, actor=staff_pg, reason="fin")
    html = member_client.get(give_url(association)).content.decode()
    assert "Offre nouvelle" not in html and "épuisé" not in html


def test_query_counts_with_an_offer(
    member_client, member, program, association, django_assert_max_num_queries
):
    make_offer(program, cap_per_member=500)
    member_client.get(give_url(association))  # the directory's answer for it kept
    credit(member, program, 110)
    # user, state, figures with the version, wallets, offers, what the caps have used
    with django_assert_max_num_queries(6):
        member_client.get(give_url(association))
    with django_assert_max_num_queries(2):
        html = member_client.get(give_url(association)).content.decode()
    assert f"sera complété de 110{NBSP}K" in html


def test_the_figures_say_how_much_was_matched(client, member, program, pg_caisse):
    asso_user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    association = f.AssociationFactory(
        caisse_regionale=pg_caisse, user=asso_user, account_number=asso_user.account_number
    )
    f.EnrollmentFactory(association=association, program=program)
    make_offer(program, ratio_matched=1, ratio_given=2)
    credit(member, program, 300)
    client.force_login(asso_user)
    assert "abondement" not in client.get(reverse("associations:space")).content.decode()
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=200, token="g"
    )
    space = client.get(reverse("associations:space")).content.decode()
    assert f"300{NBSP}K" in space and f"dont 100{NBSP}K d’abondement" in space
    client.force_login(member)
    html = client.get(give_url(association)).content.decode()
    assert f"dont 100{NBSP}K d’abondement" in html


def test_the_gift_email_and_the_recap_say_what_was_added(
    settings, member, program, association, django_capture_on_commit_callbacks
):
    from django.core import mail

    from accounts import emails
    from tookets.periods import current_period

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    make_offer(program, name="Dons doublés")
    credit(member, program, 300)
    with django_capture_on_commit_callbacks(execute=True):
        give_tookets(
            member=member, program=program, association_id=association.pk, amount=120, token="m"
        )
    (receipt,) = mail.outbox
    assert f"Votre Caisse régionale l’a complété de 120{NBSP}K (Dons doublés)." in receipt.body
    assert "complété de" in receipt.alternatives[0][0]
    emails.send_recap_emails(period=current_period())
    recap = mail.outbox[-1]
    assert f"Votre Caisse régionale a complété vos dons du mois de 120{NBSP}K." in recap.body
    assert f"complété vos dons du mois de 120{NBSP}K" in recap.alternatives[0][0]


def test_the_public_results_show_the_budget_used_and_the_gifts_matched(
    client, member, program, association, django_assert_max_num_queries
):
    make_offer(program, budget=1_000)
    credit(member, program, 300)
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=150, token="r"
    )
    with django_assert_max_num_queries(4):
        html = client.get(
            reverse("cagnotte:results_of", args=[program.caisse_regionale.code])
        ).content.decode()
    assert f"150{NBSP}K sur un budget de 1\u202f000{NBSP}K, 1 don abondé" in html


def test_the_dashboard_s_offers_are_the_orm_s(program, other_caisse, django_assert_num_queries):
    """``offers_of_bank`` runs a statement compiled once: the same rows, fields and order as
    the ORM's query, for one bank and for every bank, swept campaigns left out."""
    other = f.ProgramFactory(caisse_regionale=other_caisse, year=program.year)
    make_offer(program, name="B")
    make_offer(program, name="A", budget=9)
    make_offer(other, name="C")
    swept = f.ProgramFactory(caisse_regionale=program.caisse_regionale, year=program.year - 1)
    make_offer(swept, name="D")
    swept.swept_at = timezone.now()
    swept.save(update_fields=["swept_at"])

    def orm(**bank):
        return list(
            MatchingOffer.objects.filter(program__swept_at__isnull=True, **bank)
            .select_related("program")
            .order_by("-program__year", "program__name", "name")
        )

    def fields(offers):
        return [
            (
                [getattr(o, x.attname) for x in MatchingOffer._meta.concrete_fields],
                [getattr(o.program, x.attname) for x in Program._meta.concrete_fields],
            )
            for o in offers
        ]

    for bank, expected in (
        (
            program.caisse_regionale_id,
            orm(program__caisse_regionale_id=program.caisse_regionale_id),
        ),
        (None, orm()),
    ):
        with django_assert_num_queries(1):
            offers = matching.offers_of_bank(caisse_regionale_id=bank)
            assert fields(offers) == fields(expected)
    assert {o.name for o in offers} == {"A", "B", "C"}
