"""A queryset compiled to SQL once per process, then run for any member.

On the pages that follow a member's own write (the wallet after a gift, the gift page), the
ORM spent longer compiling a few statements with subqueries and annotations than PostgreSQL
spent running them: 6.4 ms of a core for the wallet's one query, 4.7 ms for its history page
(measured in process on the load test's members, 6 December 2026), at every display, since
each gift changes what the page shows. ``CompiledQuery`` keeps the ORM as the one place the
query is written: it compiles the queryset once, with a placeholder value standing for what
changes between runs (a member's id), and on each run sends the same text with the real
value in the placeholder's places (planned once per connection: ``tookets.prepared``). Its
rows are made model instances exactly as the queryset makes them (Django's
``ModelIterable``: the model's fields, ``select_related`` objects, annotations, the
backend's converters).

What the compiled text may not depend on, the caller puts in the key it keeps the
``CompiledQuery`` under (the day and the period, say): ``compiled_once`` below.
"""

import functools

from django.db import connections
from django.db.models.query import get_related_populators

from tookets.prepared import prepared_cursor

# Stand for the values that change between runs (a member's id, an association's) while the
# queryset is compiled: ``PLACEHOLDERS[i]`` for the i-th value given to ``fetch``. No id is
# negative, so no other parameter of a statement can equal one. A value that may be None
# cannot have a placeholder (the ORM writes ``IS NULL`` for it, no parameter): the caller
# compiles such a query per None-ness, in its key.
PLACEHOLDERS = tuple(-987_654_321 - i for i in range(16))
PLACEHOLDER = PLACEHOLDERS[0]


class CompiledQuery:
    """A queryset's SQL, compiled once. ``fetch(*values)`` runs it with ``values[i]`` in every
    place where the queryset had ``PLACEHOLDERS[i]`` and returns its model instances;
    ``rows`` and ``instances`` are its two halves, for a caller that keys something by the
    rows as read."""

    def __init__(self, queryset):
        self.db = queryset.db
        compiler = queryset.query.get_compiler(using=self.db)
        self.sql, params = compiler.as_sql()
        self.params = tuple(params)
        # A text column's filter makes the placeholder a string (``get_prep_value``).
        which = {placeholder: i for i, placeholder in enumerate(PLACEHOLDERS)}
        which |= {str(placeholder): i for i, placeholder in enumerate(PLACEHOLDERS)}
        self.slots = [
            (position, which[value])
            for position, value in enumerate(self.params)
            if isinstance(value, (int, str)) and value in which
        ]
        self.arity = 1 + max((i for _, i in self.slots), default=-1)
        self.compiler = compiler
        # What ModelIterable reads off the compiler once the SQL is made (a ``values()``
        # query has none: read its ``rows``).
        klass_info = compiler.klass_info
        if klass_info is None:
            return
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.model = klass_info["model"]
        self.model_slice = slice(start, end)
        self.init_list = [f[0].target.attname for f in compiler.select[start:end]]
        self.annotations = tuple(compiler.annotation_col_map.items())

    def rows(self, *values, connection=None) -> tuple[tuple, ...]:
        """The rows, each value as the ORM gives it (the backend's converters applied: an
        aware datetime from SQLite too). ``connection``: another one than the queryset's
        (a replica the router picked, ``tookets.db_router.read_connection``)."""
        if len(values) != self.arity:
            raise TypeError(f"{self.arity} values expected, {len(values)} given")
        params = list(self.params)
        for position, i in self.slots:
            params[position] = values[i]
        with prepared_cursor(connection or connections[self.db]) as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        compiler = self.compiler
        if compiler.has_extra_select:  # as execute_sql: only the selected columns
            rows = [row[: compiler.col_count] for row in rows]
        return tuple(map(tuple, compiler.results_iter([rows])))

    def instances(self, rows, *, db: str | None = None) -> list:
        """``rows`` made model instances as the queryset makes them."""
        db = db or self.db
        # New populators per call: they are cheap, and a call may be in another thread.
        populators = get_related_populators(self.compiler.klass_info, self.compiler.select, db)
        objects = []
        for row in rows:
            obj = self.model.from_db(db, self.init_list, row[self.model_slice])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects

    def fetch(self, *values) -> list:
        return self.instances(self.rows(*values))


class BoundQuery:
    """A ``CompiledQuery`` to run with these values, compiled when first run (a query that
    locks rows compiles only inside a transaction): what ``cagnotte.ledger.locked_wallets``
    and ``locked_offers`` take in place of a queryset."""

    def __init__(self, compiled, *values):
        self.compiled, self.values = compiled, values

    def fetch(self) -> list:
        return self.compiled().fetch(*self.values)


def compiled_once(maxsize: int = 8):
    """Decorator: a function of hashable arguments that builds a queryset with
    ``PLACEHOLDER`` in it becomes one returning its ``CompiledQuery``, kept per arguments
    (``maxsize`` of them, least recently used first out)."""

    def decorate(build):
        @functools.lru_cache(maxsize=maxsize)
        @functools.wraps(build)
        def compiled(*args, **kwargs):
            return CompiledQuery(build(*args, **kwargs))

        return compiled

    return decorate
