"""tookets.prepared: statements planned once per connection, still seen as queries."""

import pytest
from django.db import connection

from cagnotte.figures import read_figures
from cagnotte.models import Favourite
from tests import factories as f
from tookets.prepared import prepared_cursor

pytestmark = pytest.mark.django_db


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_counted(require_postgres, django_assert_num_queries):
    sql = "SELECT %s::int + 1 AS tookets_prepared_test"
    with django_assert_num_queries(2), prepared_cursor() as cursor:
        cursor.execute(sql, [1])
        assert cursor.fetchone() == (2,)
        cursor.execute(sql, [41])
        assert cursor.fetchone() == (42,)
    # Server-side binding: PostgreSQL sees $1, prepared on this connection.
    assert [s for s in _prepared_statements() if "tookets_prepared_test" in s] == [
        "SELECT $1::int + 1 AS tookets_prepared_test"
    ]
    # Django's own cursors still prepare nothing.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 AS tookets_not_prepared_test")
    assert not [s for s in _prepared_statements() if "tookets_not_prepared_test" in s]
    assert connection.connection.prepare_threshold is None


def test_read_figures_answers_the_same_through_a_prepared_statement(require_postgres):
    member = f.UserFactory()
    associations = [f.AssociationFactory() for _ in range(3)]
    Favourite.objects.create(member=member, association=associations[1])
    ids = [a.pk for a in associations]
    first = read_figures(ids, member=member)
    # Once prepared, the same statement for another member reads that member's favourite.
    other = f.UserFactory()
    assert read_figures(ids, member=other) == ({pk: first[0][pk] for pk in ids}, None)
    assert read_figures(ids, member=member) == first
    assert first[1] == associations[1].pk
    assert any("FROM (SELECT column1 AS id" in s for s in _prepared_statements())


def test_a_long_statement_is_parsed_once(require_postgres):
    """psycopg keeps its ``%s`` → ``$1`` conversion for statements up to 4 KB only: this
    cursor keeps it for its own statements whatever their length (the favourites page's
    figures with the year end are longer), and gives the same answers."""
    from tookets import prepared

    padding = " + 0" * 2000  # about 8 KB of SQL
    sql = f"SELECT %s::int{padding} + %s::int AS tookets_long_test, '%%' AS percent"
    prepared._converted.cache_clear()
    with prepared_cursor() as cursor:
        cursor.execute(sql, [40, 2])
        assert cursor.fetchone() == (42, "%")
        cursor.execute(sql, [1, 2])
        assert cursor.fetchone() == (3, "%")
    info = prepared._converted.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert len(sql) > 4096
