import gzip
import json

import pytest
from django.db import connection
from django.urls import reverse

from associations.models import Activity, Association
from tests import factories as f
from tests.associations.directory_cast import hidden_associations, visible_associations

pytestmark = pytest.mark.django_db
URL = reverse("associations:map_data")


@pytest.fixture
def client_member(client, member):
    client.force_login(member)
    return client


def test_login_required(client):
    assert client.get(URL).status_code == 302


def test_compact_rows_of_visible_associations_only(client_member, association, other_caisse):
    hidden_associations(program=association.enrollments.get().program, other_caisse=other_caisse)
    response = client_member.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data == {
        "n": 1,
        "rows": [
            [
                association.pk,
                round(association.latitude, 4),
                round(association.longitude, 4),
                "Les Amis du Gers",
            ]
        ],
    }
    # No whitespace, no keys per row: arrays only.
    assert b", " not in response.content and b'"id"' not in response.content


def test_same_filters_as_the_list(client_member, program):
    sport = Activity.objects.get(code="sport")
    culture = Activity.objects.get(code="culture")
    (rando,) = visible_associations(
        program=program, count=1, name="Randonneurs des Pyrénées", activity=sport
    )
    visible_associations(program=program, count=1, name="Théâtre des Pyrénées", activity=culture)
    data = json.loads(client_member.get(URL, {"q": "pyrenees", "activite": "sport"}).content)
    assert [row[0] for row in data["rows"]] == [rando.pk]
    assert json.loads(client_member.get(URL, {"q": "pyrenees"}).content)["n"] == 2


def test_association_without_position_is_left_off_the_map(client_member, program):
    visible_associations(program=program, count=1, latitude=None, longitude=None)
    assert json.loads(client_member.get(URL).content)["n"] == 0


def test_cacheable_with_etag_and_conditional_get(client_member, program):
    visible_associations(program=program, count=3)
    first = client_member.get(URL)
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert "private" in first["Cache-Control"] and "max-age=" in first["Cache-Control"]
    assert "Cookie" in first["Vary"]
    again = client_member.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    # The data changed: the old ETag no longer matches.
    visible_associations(program=program, count=1)
    changed = client_member.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    # Another filter is another resource with its own ETag.
    assert client_member.get(URL, {"q": "zzz"})["ETag"] != changed["ETag"]


def test_other_members_get_their_own_data(client, other_member, association):
    client.force_login(other_member)
    assert json.loads(client.get(URL).content) == {"n": 0, "rows": []}


@pytest.mark.parametrize("params", [{}, {"activite": "animaux", "q": "asso", "caisse": "x"}])
def test_constant_number_of_queries(
    client_member, program, pg_caisse, django_assert_num_queries, params
):
    """The same queries for 5 or 60 markers, with or without filters.

    user, markers' digest — the session and the option lists come from the cache. The first
    time a set of markers is asked for, PostgreSQL also reads them and checks the digest again
    (elsewhere the digest is computed from the rows read, so nothing more).
    """
    cached = 2
    building = 4 if connection.vendor == "postgresql" else 2
    locale = f.CaisseLocaleFactory(caisse_regionale=pg_caisse)
    client_member.get(URL, params)  # option lists into the cache
    for added, total in [(5, 5), (55, 60)]:
        visible_associations(program=program, count=added, caisse_locale=locale)
        with django_assert_num_queries(building):
            assert json.loads(client_member.get(URL, params).content)["n"] == total
        with django_assert_num_queries(cached):
            assert json.loads(client_member.get(URL, params).content)["n"] == total


def test_gzip_when_accepted_with_its_own_etag(client_member, program):
    visible_associations(program=program, count=30)
    plain = client_member.get(URL)
    zipped = client_member.get(URL, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content) / 2
    assert zipped["ETag"] != plain["ETag"]
    assert "Accept-Encoding" in zipped["Vary"] and "Accept-Encoding" in plain["Vary"]
    again = client_member.get(URL, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=zipped["ETag"])
    assert again.status_code == 304
    # The plain body's ETag does not validate the gzipped one, nor the reverse.
    assert client_member.get(URL, HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code == 200


def test_cached_body_follows_any_change_to_the_markers(client_member, program):
    """Renamed or moved by a bulk update (no save(), no signal): the next request shows it."""
    first, second = visible_associations(program=program, count=2)
    etag = client_member.get(URL)["ETag"]
    Association.objects.filter(pk=first.pk).update(name="Nouveau nom")
    renamed = client_member.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert renamed.status_code == 200
    assert [first.pk, round(first.latitude, 4), round(first.longitude, 4), "Nouveau nom"] in (
        json.loads(renamed.content)["rows"]
    )
    Association.objects.filter(pk=second.pk).update(latitude=43.5, longitude=0.5)
    moved = json.loads(client_member.get(URL).content)["rows"]
    assert [second.pk, 43.5, 0.5, second.name] in moved
    # Back to a state already seen: its cached body is still right.
    Association.objects.filter(pk=first.pk).update(name=first.name)
    Association.objects.filter(pk=second.pk).update(
        latitude=second.latitude, longitude=second.longitude
    )
    back = client_member.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert back.status_code == 304


def test_members_seeing_the_same_markers_share_one_cached_body(
    client, member, program, pg_caisse, django_assert_num_queries
):
    visible_associations(program=program, count=3)
    neighbour = f.MemberFactory(caisse_regionale=pg_caisse)
    client.force_login(member)
    body = client.get(URL).content
    client.force_login(neighbour)
    client.get(URL)  # the neighbour's session and user into the cache
    with django_assert_num_queries(2):  # user, markers' digest: the body is the shared one
        assert client.get(URL, HTTP_IF_NONE_MATCH='"other"').content == body


def test_size_for_a_large_directory_stays_small(client_member, program):
    """About 65 bytes a marker raw, well under 20 gzipped (the figure is in the report)."""
    visible_associations(program=program, count=200, name="Comité des Fêtes de Vic-Fezensac")
    body = client_member.get(URL).content
    assert len(body) < 200 * 80
    assert len(gzip.compress(body)) < 200 * 25
