import gzip
import json

import pytest
from django.urls import reverse

from associations.models import Activity
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
def test_constant_number_of_queries(client_member, program, django_assert_num_queries, params):
    # session, user, 3 option lists, markers
    visible_associations(program=program, count=5)
    with django_assert_num_queries(5):
        assert json.loads(client_member.get(URL, params).content)["n"] == 5
    visible_associations(program=program, count=55)
    with django_assert_num_queries(5):
        assert json.loads(client_member.get(URL, params).content)["n"] == 60


def test_size_for_a_large_directory_stays_small(client_member, program):
    """About 65 bytes a marker raw, well under 20 gzipped (the figure is in the report)."""
    visible_associations(program=program, count=200, name="Comité des Fêtes de Vic-Fezensac")
    body = client_member.get(URL).content
    assert len(body) < 200 * 80
    assert len(gzip.compress(body)) < 200 * 25
