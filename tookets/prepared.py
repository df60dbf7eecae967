"""A cursor whose statements PostgreSQL plans once per connection: for the few statements
every member page runs.

Django binds parameters on the client (``ClientCursor``) and disables psycopg's prepared
statements (connection poolers in transaction mode do not keep them), so PostgreSQL plans
every statement it receives. For most statements that costs little; the figures of a page
of cards (``cagnotte.figures.read_figures``, with its matching-offer badges) took PostgreSQL
longer to plan (2 to 6 ms) than to run (under 1 ms), on every directory page. Through this
cursor the statement is prepared on its connection the first time (server-side binding,
``prepare=True``) and each later run with the same text and parameter types skips the
planning (a generic plan, which PostgreSQL re-plans by itself after a schema change).

It keeps Django's cursor wrapper: errors, ``execute_wrapper`` hooks and the query log (the
tests' query counts) see it as any other statement. Connections are kept (``CONN_MAX_AGE``)
or pooled per process (``DATABASE_POOL``), so a statement is planned once per connection;
behind PgBouncer it needs session mode (as ``docs/scale.md`` says) or PgBouncer ≥ 1.21 with
``max_prepared_statements``. On another database it is a plain cursor.
"""

import functools
from contextlib import contextmanager

from django.db import connection

if connection.vendor == "postgresql":
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg import _queries

    @functools.lru_cache(maxsize=256)
    def _converted(query: bytes, encoding: str):
        return _queries._query2pg_nocache(query, encoding)

    class _LongQuery(_queries.PostgresQuery):
        """psycopg converts a statement's ``%s`` into ``$1``… by parsing its text, and keeps
        the result for statements up to 4 KB only (``MAX_CACHED_STATEMENT_LENGTH``: ORMs make
        long statements of varying shapes). This cursor's statements are few and fixed, and
        some are longer (the favourites page's figures with the year end, the statements
        compiled once: ``tookets.compiled``): parsing one took 0.3 ms at every run. Kept
        here whatever their length (psycopg's private ``_queries``, its version pinned;
        ``tests/test_prepared.py`` checks it)."""

        def convert(self, query, vars) -> None:
            if vars is None or not isinstance(query, (str, bytes)):
                return super().convert(query, vars)
            query = self._ensure_bytes(query)
            self.query, self._want_formats, self._order, self._parts = _converted(
                query, self._tx.encoding
            )
            self.dump(vars)

    class _PreparingCursor(ServerBindingCursor):
        _query_cls = _LongQuery

        def execute(self, query, params=None, *, prepare=None, binary=None):
            # Django opens its connections with ``prepare_threshold=None`` (nothing is
            # prepared, ``prepare=True`` included): lifted for this statement only, so that
            # psycopg prepares it and remembers its name on the connection. Django's own
            # client-side-binding cursors never prepare, whatever the threshold.
            raw = self.connection
            threshold = raw.prepare_threshold
            raw.prepare_threshold = 0
            try:
                return super().execute(query, params, prepare=True, binary=binary)
            finally:
                raw.prepare_threshold = threshold


@contextmanager
def prepared_cursor(connection=connection):
    """``connection.cursor()``, its statements prepared (PostgreSQL; see the module).

    ``connection``: the default one, or the one the router picked for a read
    (``tookets.db_router.read_connection``: a replica on the pages that allow it)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    # What ``connection.cursor()`` does before making its cursor.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = _PreparingCursor(connection.connection)
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped as cursor:
        yield cursor
