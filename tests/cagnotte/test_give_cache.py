"""The gift page's cached content: exact after every write that changes it, never another
member's, a fresh one-time token and the request's CSRF token on every display."""

import datetime
import re

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from associations.models import Association
from associations.services import unenroll_association
from cagnotte.forms import TOKEN_SALT
from cagnotte.models import LedgerEntry, Wallet
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

# user, the page's state; on a miss also the association's figures with the directory's
# version, and the wallets (the session is read from the cache). Whether the member may see
# the association is the directory's answer, kept under its state for every member of the
# same scope: the first page of a state also reads it, and the version again before keeping it.
HIT_QUERIES = 2
MISS_QUERIES = 4
FIRST_OF_STATE_QUERIES = MISS_QUERIES + 2


def give_url(association):
    return reverse("cagnotte:give", args=[association.pk])


def tokens(html):
    return re.findall(r'name="token" value="([^"]+)"', html)


def wallet_ids(html):
    return [int(pk) for pk in re.findall(r'name="wallet" value="(\d+)"', html)]


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_query_counts_on_a_miss_and_on_a_hit(
    member_client, member, program, association, django_assert_max_num_queries
):
    with django_assert_max_num_queries(FIRST_OF_STATE_QUERIES):
        assert member_client.get(give_url(association)).status_code == 200
    credit(member, program, 110)  # a new state of the member's page, not of the directory
    with django_assert_max_num_queries(MISS_QUERIES):
        first = member_client.get(give_url(association))
    with django_assert_max_num_queries(HIT_QUERIES):
        second = member_client.get(give_url(association))
    assert first.status_code == second.status_code == 200
    strip = re.compile(r'value="[^"]+"')  # tokens and CSRF tokens differ per display
    assert strip.sub("", first.content.decode()) == strip.sub("", second.content.decode())
    assert "Les Amis du Gers" in second.content.decode()


def test_every_display_has_its_own_token_signed_for_this_member(
    member_client, member, program, association
):
    credit(member, program, 110)
    wallet = Wallet.objects.get(member=member)
    shown = [tokens(member_client.get(give_url(association)).content.decode())[0] for _ in "abc"]
    assert len(set(shown)) == 3
    for token in shown:
        member_id, association_id, wallet_id, one_time = signing.loads(token, salt=TOKEN_SALT)
        assert (member_id, association_id, wallet_id) == (member.pk, association.pk, wallet.pk)
    # Each one gives once: two displays, two gifts.
    for token in shown[:2]:
        response = member_client.post(
            give_url(association), {"wallet": wallet.pk, "token": token, "amount": "10"}
        )
        assert response.status_code == 302
    assert LedgerEntry.objects.filter(kind="gift").count() == 2


def test_a_cached_page_carries_this_requests_csrf_token(member, program, association):
    credit(member, program, 110)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    browser.get(give_url(association))  # renders and caches
    html = browser.get(give_url(association)).content.decode()  # from the cache
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = browser.post(
        give_url(association),
        {
            "csrfmiddlewaretoken": csrf,
            "wallet": wallet_ids(html)[0],
            "token": tokens(html)[0],
            "amount": "10",
        },
    )
    assert response.status_code == 302
    assert Wallet.objects.get(member=member).balance == 100


def test_one_members_page_is_never_shown_to_another(client, member, program, association):
    neighbour = f.MemberFactory(caisse_regionale=member.caisse_regionale)
    credit(member, program, 110)
    credit(neighbour, program, 110)  # the same figures and balance: only the wallet differs
    mine = Wallet.objects.get(member=member)
    theirs = Wallet.objects.get(member=neighbour)
    client.force_login(member)
    assert wallet_ids(client.get(give_url(association)).content.decode()) == [mine.pk]
    client.force_login(neighbour)
    html = client.get(give_url(association)).content.decode()
    assert wallet_ids(html) == [theirs.pk]
    assert signing.loads(tokens(html)[0], salt=TOKEN_SALT)[0] == neighbour.pk
    # A member of another regional bank does not see the association at all.
    client.force_login(f.MemberFactory(caisse_regionale=f.caisse("toulouse-31")))
    assert client.get(give_url(association)).status_code == 404


def _give(member, program, association):
    wallet = Wallet.objects.get(member=member, program=program)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=40, token="x"
    )


def _credit(member, program, association):
    credit(member, program, 5)


def _first_credit_elsewhere(member, program, association):
    second = f.ProgramFactory(caisse_regionale=program.caisse_regionale, name="Épargne solidaire")
    f.EnrollmentFactory(association=association, program=second)
    credit(member, second, 30)


def _rename(member, program, association):
    association.name = "Les Nouveaux Amis"
    association.save()


def _close_program(member, program, association):
    program.closes_on = timezone.localdate() - datetime.timedelta(days=1)
    program.save()


def _withdraw(member, program, association):
    staff = f.StaffFactory(caisse_regionale=program.caisse_regionale)
    unenroll_association(association=association, programs=[program], staff=staff, reason="Fin")


def _unvalidate(member, program, association):
    Association.objects.filter(pk=association.pk).update(status=Association.Status.REJECTED)


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (_give, ["Reste à distribuer : 70\u00a0K", "1 personne nous a soutenu"]),
        (_credit, ["Reste à distribuer : 115\u00a0K"]),
        (_first_credit_elsewhere, ["Montant du don pour le programme Épargne solidaire"]),
        (_rename, ["Les Nouveaux Amis"]),
        (_close_program, 404),
        (_withdraw, 404),
        (_unvalidate, 404),
    ],
)
def test_the_next_display_shows_each_write(
    member_client, member, program, association, write, expected
):
    credit(member, program, 110)
    before = member_client.get(give_url(association)).content.decode()
    assert "Reste à distribuer : 110\u00a0K" in before
    assert "0 personne nous a soutenu" in before
    write(member, program, association)
    after = member_client.get(give_url(association))
    if expected == 404:
        assert after.status_code == 404
        return
    html = after.content.decode()
    for text in expected:
        assert text in html
