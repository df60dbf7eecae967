import gzip
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from associations.models import Activity, Association, DirectoryVersion
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

    Known body: one statement, the user with the directory's version — the session and the
    body come from the cache; no marker is read or hashed. The first time a state is asked
    for: the three option lists (cached under the version; read only when a filter is set),
    the markers, then the version again (a write in between keeps the body out of the cache).
    """
    locale = f.CaisseLocaleFactory(caisse_regionale=pg_caisse)
    client_member.get(URL, params)  # option lists into the cache
    for added, total in [(5, 5), (55, 60)]:
        visible_associations(program=program, count=added, caisse_locale=locale)
        with django_assert_num_queries(6 if params else 3):
            assert json.loads(client_member.get(URL, params).content)["n"] == total
        with django_assert_num_queries(1):
            assert json.loads(client_member.get(URL, params).content)["n"] == total
        etag = client_member.get(URL, params)["ETag"]
        with django_assert_num_queries(1) as revalidation:
            assert client_member.get(URL, params, HTTP_IF_NONE_MATCH=etag).status_code == 304
        (user_and_version,) = revalidation.captured_queries
        assert '"accounts_user"' in user_and_version["sql"]
        assert "associations_directoryversion" in user_and_version["sql"]


def test_the_version_comes_with_the_user_on_the_map_data_only(client_member, member, program):
    """Read with the user for the map data's own request; any other read of a user, after it
    or on another page, is the plain one."""
    visible_associations(program=program, count=2)
    with CaptureQueriesContext(connection) as queries:
        client_member.get(URL)
        client_member.get(reverse("associations:directory"))
    users = [
        q["sql"] for q in queries.captured_queries if 'FROM "accounts_user"' in (q["sql"] or "")
    ]
    assert len(users) == 2
    assert "associations_directoryversion" in users[0]
    assert "associations_directoryversion" not in users[1]
    assert not hasattr(User.objects.get(pk=member.pk), "directory_version")


def test_a_lost_version_row_is_made_again_for_the_map_data(client_member, program):
    """The version read with the user is None when its row is gone: the view reads it the
    usual way, which makes it again, and serves the markers."""
    visible_associations(program=program, count=2)
    DirectoryVersion.objects.all().delete()
    response = client_member.get(URL)
    assert json.loads(response.content)["n"] == 2
    assert DirectoryVersion.objects.exists()
    assert client_member.get(URL, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


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
    # Back to the first state by hand: a new version all the same, and the first body.
    Association.objects.filter(pk=first.pk).update(name=first.name)
    Association.objects.filter(pk=second.pk).update(
        latitude=second.latitude, longitude=second.longitude
    )
    back = client_member.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert back.status_code == 200
    assert json.loads(back.content) == json.loads(client_member.get(URL).content)
    assert sorted(row[0] for row in json.loads(back.content)["rows"]) == [first.pk, second.pk]


def test_members_seeing_the_same_markers_share_one_cached_body(
    client, member, program, pg_caisse, django_assert_num_queries
):
    visible_associations(program=program, count=3)
    neighbour = f.MemberFactory(caisse_regionale=pg_caisse)
    client.force_login(member)
    body = client.get(URL).content
    client.force_login(neighbour)
    client.get(URL)  # the neighbour's session and user into the cache
    with django_assert_num_queries(1):  # the user with the directory version: the shared body
        assert client.get(URL, HTTP_IF_NONE_MATCH='"other"').content == body


def test_size_for_a_large_directory_stays_small(client_member, program):
    """About 65 bytes a marker raw, well under 20 gzipped (the figure is in the report)."""
    visible_associations(program=program, count=200, name="Comité des Fêtes de Vic-Fezensac")
    body = client_member.get(URL).content
    assert len(body) < 200 * 80
    assert len(gzip.compress(body)) < 200 * 25


def _revalidate(client, etag):
    """The next request of a browser holding ``etag``: (status, marker ids, names)."""
    response = client.get(URL, HTTP_IF_NONE_MATCH=etag)
    if response.status_code == 304:
        return 304, None, None
    rows = json.loads(response.content)["rows"]
    return response.status_code, sorted(r[0] for r in rows), {r[0]: r[3] for r in rows}


def test_exact_after_a_validation_and_an_enrolment(client_member, program, staff_pg):
    from associations.services import enroll_association, validate_association

    (shown,) = visible_associations(program=program, count=1)
    newcomer = f.AssociationFactory(
        caisse_regionale=program.caisse_regionale, status=Association.Status.SUBMITTED
    )
    etag = client_member.get(URL)["ETag"]
    assert client_member.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 304
    validate_association(association=newcomer, staff=staff_pg)
    status, ids, _ = _revalidate(client_member, etag)
    assert (status, ids) == (200, [shown.pk])  # validated, not enrolled yet: a new state
    etag = client_member.get(URL)["ETag"]
    enroll_association(association=newcomer, programs=[program], staff=staff_pg)
    status, ids, _ = _revalidate(client_member, etag)
    assert (status, ids) == (200, sorted([shown.pk, newcomer.pk]))


def test_exact_after_a_rename_and_a_program_closing(client_member, program):
    import datetime

    from django.utils import timezone

    (shown,) = visible_associations(program=program, count=1)
    etag = client_member.get(URL)["ETag"]
    shown.name = "Renommée"
    shown.save()
    status, ids, names = _revalidate(client_member, etag)
    assert (status, names) == (200, {shown.pk: "Renommée"})
    etag = client_member.get(URL)["ETag"]
    # The program closes (its dates changed by a bulk update: no save(), no signal).
    type(program).objects.filter(pk=program.pk).update(
        closes_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    status, ids, _ = _revalidate(client_member, etag)
    assert (status, ids) == (200, [])


def test_exact_when_the_program_closes_by_date(client_member, program, monkeypatch):
    """No write at all: the day after the program's last day, the markers are gone."""
    import datetime

    from django.utils import timezone

    visible_associations(program=program, count=2)
    etag = client_member.get(URL)["ETag"]
    after = program.closes_on + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: after)
    status, ids, _ = _revalidate(client_member, etag)
    assert (status, ids) == (200, [])


def test_drafts_being_edited_do_not_change_the_directory_version(program):
    draft = f.AssociationFactory(
        caisse_regionale=program.caisse_regionale, status=Association.Status.DRAFT
    )
    before = DirectoryVersion.current()
    draft.name = "Brouillon renommé"
    draft.save()
    assert DirectoryVersion.current() == before
    draft.status = Association.Status.VALIDATED
    draft.save()
    assert DirectoryVersion.current() != before


def test_version_row_comes_back_after_a_truncate_without_repeating(program):
    before = DirectoryVersion.current()
    DirectoryVersion.objects.all().delete()
    after = DirectoryVersion.current()
    assert after != before
    visible_associations(program=program, count=1)
    assert DirectoryVersion.current() != after


def test_revalidation_as_browsers_and_caches_send_it(client_member, program):
    """The ETag alone (a browser), in a list or weak (a cache): 304; another ETag, or a failed
    If-Match beside it: Django's answer (200, 412)."""
    visible_associations(program=program, count=2)
    etag = client_member.get(URL)["ETag"]
    for sent in (etag, f'"other", {etag}', f"W/{etag}"):
        response = client_member.get(URL, HTTP_IF_NONE_MATCH=sent)
        assert response.status_code == 304, sent
        assert response["ETag"] == etag and "private" in response["Cache-Control"]
        assert "Accept-Encoding" in response["Vary"]
    assert client_member.get(URL, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    failed = client_member.get(URL, HTTP_IF_NONE_MATCH=etag, HTTP_IF_MATCH='"other"')
    assert failed.status_code == 412
