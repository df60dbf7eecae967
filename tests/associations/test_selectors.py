import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import AnonymousUser

from associations.directory import directory_counts, directory_state, visible_row
from associations.models import Association
from associations.selectors import (
    associations_visible_to,
    directory_filter,
)
from cagnotte.views import _visible_association as gift_page_association
from tests import factories as f
from tests.associations.directory_cast import hidden_associations

pytestmark = pytest.mark.django_db


@pytest.fixture
def hidden(program, other_caisse):
    return hidden_associations(program=program, other_caisse=other_caisse)


def test_member_sees_only_validated_enrolled_open_associations_of_their_bank(
    member, association, hidden
):
    assert list(associations_visible_to(member)) == [association]


def test_member_of_another_bank_sees_none_of_pyrenees_gascogne(other_member, association, hidden):
    assert list(associations_visible_to(other_member)) == [hidden["other_caisse"]]


@pytest.mark.parametrize(
    "key",
    [
        "other_caisse",
        "not_enrolled",
        "past_year",
        "closed_program",
        "submitted",
        "rejected",
        "enrolled_elsewhere",
    ],
)
def test_each_hidden_association_is_refused_by_id(member, hidden, key):
    _version, day, state = directory_state(member)
    assert visible_row(member, hidden[key].pk, state=state, day=day) is None
    # The gift page's gate asks the same rule.
    assert gift_page_association(member, hidden[key].pk) is None


def test_program_not_yet_open_does_not_count(member, pg_caisse):
    today = datetime.date.today()
    future = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        year=today.year + 1,
        opens_on=datetime.date(today.year + 1, 1, 1),
        closes_on=datetime.date(today.year + 1, 12, 31),
    )
    a = f.AssociationFactory(caisse_regionale=pg_caisse)
    f.EnrollmentFactory(association=a, program=future)
    assert not associations_visible_to(member).exists()
    assert associations_visible_to(member, on=datetime.date(today.year + 1, 6, 1)).get() == a


def test_enrolled_in_two_open_programs_is_listed_once(member, association, pg_caisse):
    second = f.ProgramFactory(caisse_regionale=pg_caisse, name="Carte Sociétaire - Jeunes")
    f.EnrollmentFactory(association=association, program=second)
    assert list(associations_visible_to(member)) == [association]
    assert associations_visible_to(member).count() == 1


def test_nobody_but_members_sees_anything(association, staff_pg, national_staff):
    assert not associations_visible_to(AnonymousUser()).exists()
    assert not associations_visible_to(None).exists()
    assert not associations_visible_to(staff_pg).exists()
    assert not associations_visible_to(national_staff).exists()


def test_the_gift_page_gate_rejects_garbage_ids(member, association):
    assert gift_page_association(member, "abc") is None
    assert gift_page_association(member, None) is None
    assert gift_page_association(member, "9" * 30) is None
    shown = gift_page_association(member, str(association.pk))
    assert (shown.pk, shown.name) == (association.pk, association.name)


def test_name_filter_ignores_case_and_accents(member, program):
    a = f.AssociationFactory(name="Randonneurs des Pyrénées")
    b = f.AssociationFactory(name="ÉCOLE de Musique d’Éauze")
    for x in (a, b):
        f.EnrollmentFactory(association=x, program=program)
    visible = associations_visible_to(member)
    assert list(visible.filter(directory_filter(name="pyrenees"))) == [a]
    assert list(visible.filter(directory_filter(name="  PYRÉNÉES "))) == [a]
    assert list(visible.filter(directory_filter(name="ecole de musique"))) == [b]
    assert list(visible.filter(directory_filter(name="%"))) == []  # LIKE wildcards are escaped


def test_name_filter_treats_typed_and_typographic_apostrophes_alike(member, program):
    # The demo data and phones write « d’Auch » (U+2019); a PC keyboard types « d'Auch ».
    a = f.AssociationFactory(name="Football Club d’Auch")
    b = f.AssociationFactory(name="Chorale de l'Isle-Jourdain")
    for x in (a, b):
        f.EnrollmentFactory(association=x, program=program)
    visible = associations_visible_to(member)
    assert list(visible.filter(directory_filter(name="club d'auch"))) == [a]
    assert list(visible.filter(directory_filter(name="CLUB D’AUCH"))) == [a]
    assert list(visible.filter(directory_filter(name="de l’isle"))) == [b]
    assert list(visible.filter(directory_filter(name="de l'isle"))) == [b]


def test_migration_refolds_apostrophes_in_search_names_stored_before(db):
    a = f.AssociationFactory(name="Football Club d’Auch")
    b = f.AssociationFactory(name="Théâtre de Condom")
    Association.objects.filter(pk=a.pk).update(search_name="football club d’auch")
    migration = importlib.import_module("associations.migrations.0006_search_name_apostrophes")
    migration.recompute(django_apps, None)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.search_name, b.search_name) == ("football club d'auch", "theatre de condom")


def test_search_name_follows_name_on_save(db):
    a = f.AssociationFactory(name="Comité des Fêtes")
    assert a.search_name == "comite des fetes"
    a.name = "Théâtre"
    a.save(update_fields=["name"])
    a.refresh_from_db()
    assert a.search_name == "theatre"


def test_directory_counts_total_and_matching_in_one_query(
    member, program, django_assert_num_queries
):
    a = f.AssociationFactory(name="Pétanque d’Auch")
    f.EnrollmentFactory(association=a, program=program)
    b = f.AssociationFactory(name="Théâtre de Condom")
    f.EnrollmentFactory(association=b, program=program)
    with django_assert_num_queries(1):
        counts = directory_counts(associations_visible_to(member), directory_filter(name="auch"))
    assert counts == (2, 1)
    assert directory_counts(associations_visible_to(member), directory_filter()) == (2, 2)


def test_visibility_uses_exists_not_a_join(member):
    sql = str(associations_visible_to(member).query).upper()
    assert "EXISTS" in sql
    assert "DISTINCT" not in sql
    assert Association.objects.count() == 0


def test_name_search_is_served_by_the_trigram_index_on_postgresql(require_postgres, member):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'association_search_name_trgm'"
        )
        (indexdef,) = cursor.fetchone()
        assert "gin_trgm_ops" in indexdef
        queryset = Association.objects.filter(directory_filter(name="Pyrénées")).values("pk")
        sql, params = queryset.query.sql_with_params()
        # With sequential scans priced out, the planner must have an index for LIKE '%…%'.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "association_search_name_trgm" in plan, plan
