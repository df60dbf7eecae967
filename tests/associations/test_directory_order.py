"""A fair directory order (issue 19, item 5): shuffled per member and per day by default,
stable for that member that day across pages and filters, different for another member;
sorts « Les plus proches », « Les plus soutenues », « Nom »; the caches stay exact and the
query counts pinned."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from associations.directory_query import directory_query_key
from associations.filters import DirectoryFilterForm
from associations.models import Activity
from associations.selectors import SORT_RANDOM, shuffle_seed
from cagnotte.services import give_tookets
from tests import factories as f
from tests.associations.directory_cast import visible_associations
from tests.cagnotte.helpers import credit

URL = reverse("associations:directory")


def names(client, **params) -> list[str]:
    response = client.get(URL, params)
    assert response.status_code == 200
    return re.findall(
        r'class="association-name"><a href="[^"]+">([^<]+)</a>', response.content.decode()
    )


@pytest.fixture
def forty(program):
    return [
        visible_associations(program=program, count=1, name=f"Association {i:02d}")[0]
        for i in range(40)
    ]


def test_each_member_has_their_own_stable_shuffle(client, member, pg_caisse, forty):
    client.force_login(member)
    first = names(client)
    assert len(first) == 20
    assert names(client) == first  # the same member, the same day: the same page
    second = names(client, page=2)
    assert not set(first) & set(second) and len(set(first) | set(second)) == 40
    alphabetical = sorted(first + second)
    assert first + second != alphabetical  # not the alphabet's order
    # A filter keeps the member's order: the filtered list is the full list's subsequence.
    sport = Activity.objects.get(code="sport")
    some = [a.name for a in forty[::3]]
    type(forty[0]).objects.filter(name__in=some).update(activity=sport)
    filtered = names(client, activite="sport")
    assert filtered == [n for n in first + second if n in some]
    # Another member of the same bank: another first page.
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    client.force_login(other)
    assert names(client) != first


def test_the_shuffle_changes_with_the_day(client, member, forty, monkeypatch):
    client.force_login(member)
    today = names(client)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: tomorrow)
    assert names(client) != today
    assert shuffle_seed(member.pk, tomorrow) != shuffle_seed(
        member.pk, tomorrow - datetime.timedelta(days=1)
    )


def test_sort_by_name(client, member, forty):
    client.force_login(member)
    assert names(client, tri="nom") == [f"Association {i:02d}" for i in range(20)]


def test_sort_by_support_follows_every_gift(client, member, program, pg_caisse, forty):
    client.force_login(member)
    assert names(client, tri="soutenues")[:2] == ["Association 00", "Association 01"]
    credit(member, program, 300)
    give_tookets(member=member, association_id=forty[7].pk, amount=10, token="a", program=program)
    assert names(client, tri="soutenues")[0] == "Association 07"
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    for giver, token in ((member, "b"), (other, "c")):
        credit(giver, program, 300, reference=f"credit-{token}")
        give_tookets(
            member=giver, association_id=forty[33].pk, amount=10, token=token, program=program
        )
    assert names(client, tri="soutenues")[:2] == ["Association 33", "Association 07"]


def test_sort_by_distance_from_the_members_local_bank(client, member, program, pg_caisse):
    here = f.CaisseLocaleFactory(
        caisse_regionale=pg_caisse, code="ICI", latitude=43.6, longitude=0.6
    )
    member.caisse_locale = here
    member.save(update_fields=["caisse_locale"])
    for name, lat in (("Loin", 44.4), ("Proche", 43.61), ("Moyen", 43.9)):
        visible_associations(program=program, count=1, name=name, latitude=lat, longitude=0.6)
    visible_associations(
        program=program, count=1, name="Sans position", latitude=None, longitude=None
    )
    client.force_login(member)
    assert names(client, tri="proches") == ["Proche", "Moyen", "Loin", "Sans position"]


def test_the_canonical_query_names_the_sort(member, pg_caisse, program):
    def key(member, **data):
        return directory_query_key(DirectoryFilterForm(data, member=member), page=1)

    assert key(member) == key(member, tri=SORT_RANDOM)
    assert len({key(member, tri=t) for t in ("hasard", "proches", "soutenues", "nom")}) == 4
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    assert key(member) != key(other)  # a shuffled page is the member's own
    assert key(member, tri="nom") == key(other, tri="nom")  # shared when the order is


@pytest.mark.parametrize(
    "sort, warm", [("hasard", 2), ("nom", 2), ("proches", 2), ("soutenues", 3)]
)
def test_query_counts_per_sort(
    client, member, program, forty, django_assert_num_queries, sort, warm
):
    """User, then the figures and favourite with the directory's version (the version this
    process saw last, checked there); by support, the page's rows too (a gift moves them
    without moving the directory's version)."""
    client.force_login(member)
    client.get(URL, {"tri": sort})
    with django_assert_num_queries(warm):
        response = client.get(URL, {"tri": sort})
    assert response.status_code == 200


def test_the_map_markers_have_no_order_and_stay_shared(client, member, pg_caisse, forty):
    """Two members' shuffles differ, their markers do not: one cached body, one ETag."""
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    etags = []
    for who in (member, other):
        client.force_login(who)
        etags.append(client.get(reverse("associations:map_data"))["ETag"])
    assert etags[0] == etags[1]
