"""An association's figures: « N personnes nous ont soutenu », « Depuis 2015 X K | Cette année
Y K » — written and read here only.

Design: summing the ledger for every card of a page would read all of an association's
gifts each time (millions of rows across a directory page). Instead three small summary
tables are written in the same transaction as each gift or sweep entry, under the giver's
wallet lock:

* ``Supporter`` — one row per (association, member) who ever gave; inserted with
  ``ON CONFLICT DO NOTHING``, whose row count says whether the giver is new;
* ``AssociationTotals`` — supporters count, received since the first year, first year;
* ``AssociationYearTotals`` — received per campaign year (the program's year);
* ``AssociationMonthTotals`` — received per calendar month (``month_of`` the entry's date),
  for the staff dashboard's chart of the last twelve months.

Writing: the totals are upserts (``INSERT … ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x``),
so two gifts to the same association at once serialise on its totals row instead of losing
an update, and the first gift creates the row without a race. The three statements are
written once (``*_sql``, each taking the rows it adds): ``count_received`` runs them for one
entry (``cagnotte.ledger.post_entry``), the sweep's set-based batch as CTEs over its moved
rows. Being in the entry's transaction, the figures are exact, never eventually consistent: a
rolled-back gift leaves no trace. ``manage.py check_ledger`` recomputes them from the ledger
and names any association whose summary differs.

Reading: ``read_figures`` for N associations (and a member's favourite) in one statement,
with their live projects' progress (the cards show it and are keyed by it);
``with_figures`` / ``figures_of`` as annotations of a queryset; ``figures_join`` for a
statement that needs them among other things (the gift page's state).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from dataclasses import dataclass, replace

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.utils import timezone

from associations.models import Association, DirectoryVersion, Project
from cagnotte.models import (
    AssociationMonthTotals,
    AssociationTotals,
    AssociationYearTotals,
    Favourite,
    LedgerEntry,
    MatchingOffer,
    PayoutLine,
    PayoutStatement,
    ProjectGift,
    Supporter,
)
from tookets.db_router import read_connection
from tookets.fragments import Kept
from tookets.prepared import prepared_cursor

_SUPPORTERS = Supporter._meta.db_table
_TOTALS = AssociationTotals._meta.db_table
_YEAR_TOTALS = AssociationYearTotals._meta.db_table
_MONTH_TOTALS = AssociationMonthTotals._meta.db_table


@dataclass(frozen=True)
class LiveProject:
    """A live project as its association's card shows it: its title and its progress."""

    pk: int
    title: str
    goal: int
    raised: int

    @property
    def progress(self) -> ProjectProgress:
        return ProjectProgress(goal=self.goal, raised=self.raised)


@dataclass(frozen=True)
class ShownProject(LiveProject):
    """A project as its association's page lists it: live or ended (with its final figure)."""

    ends_on: datetime.date
    live: bool


@dataclass(frozen=True)
class AssociationFigures:
    supporters: int = 0
    first_year: int | None = None
    received_total: int = 0
    received_this_year: int = 0
    # Of which from matching offers (« dont X K d'abondement »).
    matched_total: int = 0
    matched_this_year: int = 0
    # The matching offer its card announces (« … jusqu'au 31/03 »): the most generous in
    # effect today that takes it; empty without any (``offer_badge``).
    offer_name: str = ""
    offer_ends_on: datetime.date | None = None
    # Its live projects, soonest ending first (``read_figures`` only; ``with_figures`` and
    # ``figures_join`` leave it empty). Part of the figures, so of every key they are in: a
    # gift to a project, a project accepted or ended re-renders its card.
    projects: tuple[LiveProject, ...] = ()


# --- Writing ---------------------------------------------------------------------------------


def insert_supporters_sql(rows: str, *, on_conflict: bool = True) -> str:
    """Record new supporters; ``rows``: ``VALUES …`` or ``SELECT …`` of (association_id,
    member_id, first_gift_at). One row inserted per member who never gave before.

    ``on_conflict=False``: a plain INSERT, for a bulk writer (the sweep) that spares a
    speculative insertion per row. Its ``rows`` leave out the pairs recorded already
    (``is_supporter_sql``); a pair recorded meanwhile by another transaction fails the
    statement (unique violation), and the caller writes again with the default."""
    skip = " ON CONFLICT (association_id, member_id) DO NOTHING" if on_conflict else ""
    return f"INSERT INTO {_SUPPORTERS} (association_id, member_id, first_gift_at) {rows}{skip}"


def is_supporter_sql(association: str, member: str) -> str:
    """SQL condition: the member (SQL expression ``member``) is a supporter of the
    association (``association``) already. One probe of the (association, member) index."""
    return (
        f"EXISTS (SELECT 1 FROM {_SUPPORTERS} s "
        f"WHERE s.association_id = {association} AND s.member_id = {member})"
    )


def add_totals_sql(rows: str) -> str:
    """Add to the totals; ``rows``: (association_id, its regional bank, new supporters,
    received, year, of which matched) — the bank read from the association
    (``BANK_OF_ASSOCIATION``), for a row made now."""
    return (
        f"INSERT INTO {_TOTALS} (association_id, caisse_regionale_id, supporters, "
        f"received_total, first_year, matched_total) {rows} "
        "ON CONFLICT (association_id) DO UPDATE SET "
        f"supporters = {_TOTALS}.supporters + EXCLUDED.supporters, "
        f"received_total = {_TOTALS}.received_total + EXCLUDED.received_total, "
        f"matched_total = {_TOTALS}.matched_total + EXCLUDED.matched_total, "
        # The earliest year: a sweep of a past program may come after this year's gifts.
        f"first_year = CASE WHEN {_TOTALS}.first_year IS NULL "
        f"OR EXCLUDED.first_year < {_TOTALS}.first_year "
        f"THEN EXCLUDED.first_year ELSE {_TOTALS}.first_year END"
    )


# A scalar subquery: the regional bank of the association whose id is its one parameter.
BANK_OF_ASSOCIATION = (
    f"(SELECT caisse_regionale_id FROM {Association._meta.db_table} WHERE id = %s)"
)


def add_year_totals_sql(rows: str) -> str:
    """Add to one year's totals; ``rows``: (association_id, year, received, of which
    matched)."""
    return (
        f"INSERT INTO {_YEAR_TOTALS} (association_id, year, received, matched) {rows} "
        "ON CONFLICT (association_id, year) DO UPDATE SET "
        f"received = {_YEAR_TOTALS}.received + EXCLUDED.received, "
        f"matched = {_YEAR_TOTALS}.matched + EXCLUDED.matched"
    )


def month_of(at: datetime.datetime) -> datetime.date:
    """The month an entry dated ``at`` counts in (its first day): the month of its date in the
    site's time zone (``TIME_ZONE``), whatever time zone is active."""
    return timezone.localdate(at, timezone.get_default_timezone()).replace(day=1)


def add_month_totals_sql(rows: str) -> str:
    """Add to one month's totals; ``rows``: (association_id, month (``month_of``), received,
    of which matched)."""
    return (
        f"INSERT INTO {_MONTH_TOTALS} (association_id, month, received, matched) {rows} "
        "ON CONFLICT (association_id, month) DO UPDATE SET "
        f"received = {_MONTH_TOTALS}.received + EXCLUDED.received, "
        f"matched = {_MONTH_TOTALS}.matched + EXCLUDED.matched"
    )


def ledger_month_totals() -> dict[tuple[int, datetime.date], tuple[int, int]]:
    """What each association received per month according to the ledger itself: (association,
    month) -> (received, of which matched), grouped as ``month_of`` counts an entry (the
    month of its date in the site's time zone). ``check_ledger`` holds the month totals to it;
    the migration that made them (cagnotte 0019) filled them the same way."""
    rows = (
        LedgerEntry.objects.filter(
            kind__in=[
                LedgerEntry.Kind.GIFT,
                LedgerEntry.Kind.SWEEP,
                LedgerEntry.Kind.MATCHING,
            ],
            association__isnull=False,
        )
        .annotate(at=TruncMonth("created_at", tzinfo=timezone.get_default_timezone()))
        .values("association_id", "at")
        .annotate(
            given=Sum("amount"),
            matching=Coalesce(Sum("amount", filter=Q(kind=LedgerEntry.Kind.MATCHING)), 0),
        )
        .order_by()
    )
    totals = {}
    for row in rows:
        at = row["at"]
        month = at.date() if isinstance(at, datetime.datetime) else at
        totals[(row["association_id"], month)] = (-int(row["given"]), -int(row["matching"]))
    return totals


def count_received(
    *,
    association_id: int,
    member_id: int | None,
    year: int,
    at: datetime.datetime,
    received: int,
    matched: int = 0,
) -> None:
    """Keep the figures in step with one entry dated ``at``: ``received`` Tookets of
    ``member_id`` in a program of ``year``, of which ``matched`` from a matching offer (a
    matching entry: ``member_id`` None, its gift counted the supporter).

    The same upserts on both engines: on PostgreSQL in one statement (data-modifying CTEs, one
    round trip for the four tables instead of four: a gift's transaction is short, and a
    matched gift counts twice), on SQLite one after the other (it has no INSERT in WITH)."""
    supporter_sql = insert_supporters_sql("VALUES (%s, %s, %s)")
    supporter_params = [association_id, member_id, timezone.now()]

    def totals_sql(new_supporters: str) -> str:  # an SQL expression: 0, 1 or a count
        return add_totals_sql(f"SELECT %s, {BANK_OF_ASSOCIATION}, {new_supporters}, %s, %s, %s")

    totals_params = [association_id, association_id, received, year, matched]
    year_sql = add_year_totals_sql("VALUES (%s, %s, %s, %s)")
    year_params = [association_id, year, received, matched]
    month_sql = add_month_totals_sql("VALUES (%s, %s, %s, %s)")
    month_params = [association_id, month_of(at), received, matched]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ctes, params, new = [], [], "0"
            if member_id is not None:
                ctes.append(f"supporter AS ({supporter_sql} RETURNING 1)")
                params += supporter_params
                new = "(SELECT COUNT(*) FROM supporter)"
            ctes += [f"totals AS ({totals_sql(new)})", f"year_totals AS ({year_sql})"]
            cursor.execute(
                f"WITH {', '.join(ctes)} {month_sql}",
                params + totals_params + year_params + month_params,
            )
            return
        new = "0"
        if member_id is not None:
            cursor.execute(supporter_sql, supporter_params)
            new = "1" if cursor.rowcount == 1 else "0"
        cursor.execute(totals_sql(new), totals_params)
        cursor.execute(year_sql, year_params)
        cursor.execute(month_sql, month_params)


# --- Reading ---------------------------------------------------------------------------------

# The columns ``figures_join`` brings, in ``figures_from``'s order.
FIGURES_COLUMNS = (
    "ft.supporters, ft.first_year, ft.received_total, fy.received, ft.matched_total, fy.matched"
)
FIGURES_WIDTH = FIGURES_COLUMNS.count(",") + 1


def figures_join(association: str) -> str:
    """LEFT JOINs bringing ``FIGURES_COLUMNS`` for the association whose id is the SQL
    expression ``association``; one parameter: the year. Both by primary key or unique
    index; an association nobody gave to has no rows (``figures_from`` reads zeros).

    For the few rows of a page: on PostgreSQL each is a lateral read kept apart from the
    join (``OFFSET 0``), so that it is one index read per row. Left to itself the planner,
    costing random reads as a disk's, scanned both tables whole and hashed them: 0.67 against
    0.48 ms for a page of 20 cards on the demo; the scans grow with the tables."""
    if connection.vendor == "postgresql":
        return (
            f"LEFT JOIN LATERAL (SELECT * FROM {_TOTALS} t "
            f"WHERE t.association_id = {association} OFFSET 0) ft ON true "
            f"LEFT JOIN LATERAL (SELECT * FROM {_YEAR_TOTALS} y "
            f"WHERE y.association_id = {association} AND y.year = %s OFFSET 0) fy ON true"
        )
    return (
        f"LEFT JOIN {_TOTALS} ft ON ft.association_id = {association} "
        f"LEFT JOIN {_YEAR_TOTALS} fy ON fy.association_id = {association} AND fy.year = %s"
    )


def figures_from(
    supporters, first_year, received_total, received_this_year, matched_total=0, matched_year=0
):
    """``AssociationFigures`` from the ``FIGURES_COLUMNS`` of a row."""
    return AssociationFigures(
        supporters=supporters or 0,
        first_year=first_year,
        received_total=received_total or 0,
        received_this_year=received_this_year or 0,
        matched_total=matched_total or 0,
        matched_this_year=matched_year or 0,
    )


def offer_badge(day: datetime.date):
    """The matching offers a card announces, for the association of the enclosing query
    (``OuterRef("pk")``): in effect on ``day`` in a program it is enrolled in, taking it
    (``MatchingOffer.objects.in_effect_on`` and ``qualifying``: the gift's own rules), the
    most generous first. Read ``values("pk")[:1]`` (``read_figures``), or
    ``values("name")[:1]`` and ``values("ends_on")[:1]``.
    """
    # ``qualifying`` reads the association inside its own EXISTS: two levels up.
    return (
        MatchingOffer.objects.in_effect_on(day)
        .filter(program__enrollments__association_id=OuterRef("pk"))
        .qualifying(
            association_id=OuterRef(OuterRef("pk")),
            domain_id=OuterRef(OuterRef("domain_id")),
            activity_id=OuterRef(OuterRef("activity_id")),
            caisse_locale_id=OuterRef(OuterRef("caisse_locale_id")),
        )
        .order_by(
            (Cast("ratio_matched", FloatField()) / Cast("ratio_given", FloatField())).desc(),
            "pk",
        )
    )


# Stands, in ``_badges_sql(day, skipping=True)``'s parameters, for the ids not to compute.
_SKIPPED = object()
# ``read_figure_rows``' ``skip_badges`` for « every badge is known »: the statement has none.
ALL_BADGES = object()


@functools.lru_cache(maxsize=8)
def _badges_sql(day: datetime.date, skipping: bool = False) -> tuple[str, tuple]:
    """A subselect ``(id, offer_id)`` of every association — the offer its card announces
    (``offer_badge``) — compiled from the ORM once per day and process (compiling it took
    the ORM longer than the rest of a directory page), joined by ``read_figures`` on the
    page's ids: PostgreSQL pulls it up into the join, so the badge is computed for the
    joined rows only, once per row (the offer's name and end are then read by its id).

    ``skipping`` (PostgreSQL): not computed (NULL) for the ids of an array given in
    ``_SKIPPED``'s place among the parameters."""
    badge = Subquery(offer_badge(day).values("pk")[:1])
    if skipping:
        table = Association._meta.db_table
        wanted = RawSQL(
            f'NOT ("{table}"."id" = ANY(%s::bigint[]))', (_SKIPPED,), output_field=BooleanField()
        )
        badge = Case(When(wanted, then=badge), default=None)
    sql, params = (
        Association.objects.order_by()
        .annotate(offer_id=badge)
        .values("id", "offer_id")
        .query.sql_with_params()
    )
    return sql, tuple(params)


@functools.lru_cache(maxsize=8)
def _projects_sql(day: datetime.date, shown: bool = False) -> tuple[str, tuple]:
    """The live projects (``Project.objects.live_on``: the one rule), or with ``shown`` every
    project members see (``Project.objects.shown``: the ended ones too), with their progress
    (``with_progress``), as SQL to join: columns ``project_association``, ``project_id``,
    ``title``, ``goal``, ``raised``, ``ends_on`` and ``live`` (live on ``day``). Compiled
    once per day and process: the ORM takes about a millisecond to compile it, more than the
    database takes to run it."""
    if shown:
        projects = Project.objects.shown()
        live = Exists(Project.objects.live_on(day).filter(pk=OuterRef("pk")))
    else:
        projects, live = Project.objects.live_on(day), Value(True, output_field=BooleanField())
    rows = (
        with_progress(projects)
        .annotate(live=live)
        .order_by()
        .values(
            "title",
            "goal",
            "raised",
            "ends_on",
            "live",
            project_association=F("association_id"),
            project_id=F("pk"),
        )
    )
    sql, params = rows.query.sql_with_params()
    return sql, tuple(params)


def read_figures(
    association_ids,
    *,
    year: int | None = None,
    day: datetime.date | None = None,
    member=None,
) -> tuple[dict[int, AssociationFigures], int | None]:
    """``({association id: AssociationFigures}, favourite id)`` (see ``read_figure_rows``)."""
    ids = [int(pk) for pk in association_ids]
    return figures_from_rows(ids, read_figure_rows(ids, year=year, day=day, member=member))


def read_figure_rows(
    association_ids,
    *,
    year: int | None = None,
    day: datetime.date | None = None,
    member=None,
    with_version: bool = False,
    shown_projects: bool = False,
    also: tuple[str, list] | None = None,
    badges_at: int | None = None,
    skip_badges: tuple[int, ...] | None = None,
):
    """The rows of the figures of a page of cards with their live projects' progress, and
    of the member's favourite, in one statement written in SQL — a page's rows and labels
    come from the cache, these never do. ``figures_from_rows`` makes them figures; as read,
    they name every figure the cards show (a key for the page: ``associations.views``).

    A few index reads: the page's ids (and the favourite's one row), each joined to its
    totals and this year's totals (``figures_join``) and to its projects live on ``day``
    (by the projects' (association, status) index, each summing its few ``ProjectGift``
    rows): one row per live project, or one row for an association without. The ORM would
    spend more compiling the statement than the database running it; the projects' part is
    compiled from ``Project.objects.live_on`` so that the rule stays in one place.

    ``with_version``: ``(the directory's version, rows)``, the version read in the same
    statement (so in the same snapshot), None when there is no row to carry it.

    ``shown_projects``: the rows carry every project members see, ended ones too
    (``Project.objects.shown``), for an association's own page (``shown_projects_from_rows``);
    its card still shows the live ones only (``figures_from_rows``).

    ``also`` (with ``with_version``): ``(sql, params)`` of a scalar expression read in the
    same statement, returned third: ``(version, rows, its value)`` (the favourites page's
    year end: ``cagnotte.selectors.year_end_sql``); all three None when there is no row.

    ``badges_at`` (with ``with_version``, on PostgreSQL): the directory's version the caller
    guessed (``associations.views._directory_page``). The badges of the ids known under it
    (``_kept_badges``) are not computed again, and the rows are the same as without it —
    unless the statement read another version: then the rows are no answer (the kept badges'
    columns are empty), as the caller's guess is not, and it reads again.

    ``skip_badges`` (``_with_kept_badges``'s): ids whose badge is not computed, their two
    columns NULL; ``ALL_BADGES``: none is, and the statement has no badge part at all.
    """
    if badges_at is not None and with_version and connection.vendor == "postgresql":
        return _with_kept_badges(
            association_ids,
            dict(year=year, day=day, member=member, shown_projects=shown_projects, also=also),
            version=badges_at,
        )
    ids = [int(pk) for pk in association_ids]
    day = day or timezone.localdate()
    year = year or day.year
    member_id = member.pk if member is not None and member.is_authenticated else None
    wanted, params = [], []
    if ids:
        # VALUES names its column « column1 » in PostgreSQL and SQLite alike.
        values = ", ".join(["(%s)"] * len(ids))
        wanted.append(f"SELECT column1 AS id, 0 AS favourite FROM (VALUES {values}) AS v")
        params += ids
    if member_id is not None:
        wanted.append(
            f"SELECT association_id AS id, 1 AS favourite FROM {Favourite._meta.db_table} "
            "WHERE member_id = %s"
        )
        params.append(member_id)
    if not wanted:
        return ((None, (), None) if also else (None, ())) if with_version else ()
    projects_sql, projects_params = _projects_sql(day, shown_projects)
    version = (
        f"(SELECT version FROM {DirectoryVersion._meta.db_table} WHERE id = 1), "
        if with_version
        else ""
    )
    also_sql, also_params = also or ("", [])
    if also:
        version += f"{also_sql}, "
    badge_join, badge_columns, badge_params = "", "NULL, NULL", ()
    if skip_badges is not ALL_BADGES:  # else every badge is known: the statement has none
        # (initialising the badge's subqueries, all of them skipped, cost it half its time)
        badges, badge_params = _badges_sql(day, skipping=skip_badges is not None)
        if skip_badges is not None:
            # One text for any number of ids (an array): planned once per connection.
            skipped = list(skip_badges)
            badge_params = [skipped if p is _SKIPPED else p for p in badge_params]
        badge_join = (
            f"LEFT JOIN ({badges}) AS ob ON ob.id = a.id "
            f"LEFT JOIN {MatchingOffer._meta.db_table} AS mo ON mo.id = ob.offer_id "
        )
        badge_columns = "mo.name, mo.ends_on"
    sql = (
        f"SELECT {version}a.id, a.favourite, {FIGURES_COLUMNS}, {badge_columns}, "
        "p.project_id, p.title, p.goal, p.raised, p.ends_on, p.live "
        f"FROM ({' UNION ALL '.join(wanted)}) AS a {figures_join('a.id')} "
        f"{badge_join}"
        f"LEFT JOIN ({projects_sql}) AS p ON p.project_association = a.id "
        "ORDER BY a.id, p.ends_on, p.project_id"
    )
    # The database the page reads (a replica on the directory's pages: tookets.db_router),
    # the statement planned once per connection (tookets.prepared).
    with prepared_cursor(read_connection(Association)) as cursor:
        cursor.execute(sql, [*also_params, *params, year, *badge_params, *projects_params])
        rows = tuple(map(tuple, cursor.fetchall()))
    if also:
        if not rows:
            return None, (), None
        return rows[0][0], tuple(row[2:] for row in rows), rows[0][1]
    if with_version:
        return (rows[0][0] if rows else None), tuple(row[1:] for row in rows)
    return rows


# Every card's badge (``offer_badge``: the offer's name and end, or none) is named by the
# directory's version and the day: database triggers bump the version on every write a badge
# reads — programs, enrolments, the associations' domain, activity and local bank, and the
# matching offers (their lists, and all of an offer's row but what each match moves, unless it
# spends the budget: associations migration ``0017``). A match that leaves budget bumps
# nothing, so under load the gifts matched every second do not make every page compute its
# badges again; and as with the rest of the directory, a raw edit bumps it too.
_kept_badges = Kept(16_384)  # (directory version, day, association id) -> (name, end)


def _with_kept_badges(association_ids, options: dict, *, version: int):
    """``read_figure_rows(..., with_version=True)`` computing only the badges not kept under
    ``version`` and the day, none at all when all of the page's are (the usual case); the
    statement reads the version in the same snapshot, and when it has moved the rows are no
    answer (the caller reads again, from the new version). The badges it computes are kept
    under the version it read. A row the page did not ask for (the member's favourite) whose
    badge is not kept makes it run again, computing that one."""
    day = options["day"] or timezone.localdate()
    ids = [int(pk) for pk in association_ids]

    def kept(pks) -> dict:
        return {pk: b for pk in pks if (b := _kept_badges.get((version, day, pk))) is not None}

    known = kept(ids)
    every = len(known) == len(set(ids))
    read = read_figure_rows(
        ids, with_version=True, skip_badges=ALL_BADGES if every else tuple(known), **options
    )
    read_version, rows, *also_value = read
    if read_version != version or not rows:
        return read
    if every:
        known |= kept({row[0] for row in rows} - known.keys())
        if any(row[0] not in known for row in rows):
            read = read_figure_rows(ids, with_version=True, skip_badges=tuple(known), **options)
            read_version, rows, *also_value = read
            if read_version != version or not rows:
                return read
    badge_at = 2 + FIGURES_WIDTH  # after the id, « favourite » and the figures
    filled = []
    for row in rows:
        pk = row[0]
        if pk in known:
            row = (*row[:badge_at], *known[pk], *row[badge_at + 2 :])
        else:
            _kept_badges.set((read_version, day, pk), tuple(row[badge_at : badge_at + 2]))
        filled.append(row)
    return (read_version, tuple(filled), *also_value)


def figures_from_rows(
    ids, rows: tuple[tuple, ...]
) -> tuple[dict[int, AssociationFigures], int | None]:
    """``({association id: AssociationFigures}, favourite id)`` from ``read_figure_rows``:
    zeros for the ``ids`` it has no row for."""
    figures = {pk: AssociationFigures() for pk in ids}
    favourite_id = None
    projects: dict[int, dict[int, LiveProject]] = {}
    for pk, favourite, *columns in rows:
        offer_name, offer_ends_on, project_id, title, goal, raised, _ends, live = columns[
            FIGURES_WIDTH:
        ]
        figures[pk] = _with_badge(figures_from(*columns[:FIGURES_WIDTH]), offer_name, offer_ends_on)
        shown = projects.setdefault(pk, {})
        if project_id is not None and live:
            # SUM is numeric in PostgreSQL: a Decimal, made an int for the key and the bar.
            shown[project_id] = LiveProject(project_id, title, goal, int(raised))
        if favourite:
            favourite_id = pk
    for pk, shown in projects.items():
        if shown:
            figures[pk] = replace(figures[pk], projects=tuple(shown.values()))
    return figures, favourite_id


def shown_projects_from_rows(pk: int, rows: tuple[tuple, ...]) -> list[ShownProject]:
    """The projects of association ``pk`` that its page lists, from ``read_figure_rows``
    read with ``shown_projects``: the latest end first (then the latest made)."""
    shown = {}
    for row_pk, _favourite, *columns in rows:
        project_id, title, goal, raised, ends_on, live = columns[FIGURES_WIDTH + 2 :]
        if row_pk == pk and project_id is not None:
            if isinstance(ends_on, str):  # SQLite gives the date as text
                ends_on = datetime.date.fromisoformat(ends_on)
            shown[project_id] = ShownProject(
                project_id, title, goal, int(raised), ends_on=ends_on, live=bool(live)
            )
    return sorted(shown.values(), key=lambda p: (p.ends_on, p.pk), reverse=True)


def _with_badge(figures: AssociationFigures, name, ends_on) -> AssociationFigures:
    if not name:
        return figures
    if isinstance(ends_on, str):  # SQLite gives the date as text
        ends_on = datetime.date.fromisoformat(ends_on)
    return dataclasses.replace(figures, offer_name=name, offer_ends_on=ends_on)


def with_figures(associations, *, year: int | None = None):
    """``associations`` (a queryset) with the card figures as annotations, in the same query.

    The same figures as ``read_figures``, joined instead of fetched in one more query: the
    totals row by primary key (LEFT JOIN, an association nobody gave to has none) and this
    year's row by a subquery on its unique index. Read them back with ``figures_of``.
    """
    year = year or timezone.localdate().year
    this_year = AssociationYearTotals.objects.filter(association_id=OuterRef("pk"), year=year)
    badge = offer_badge(timezone.localdate())
    return associations.annotate(
        fig_offer_name=Subquery(badge.values("name")[:1]),
        fig_offer_ends_on=Subquery(badge.values("ends_on")[:1]),
        fig_supporters=Coalesce(F("totals__supporters"), Value(0)),
        fig_first_year=F("totals__first_year"),
        fig_received_total=Coalesce(F("totals__received_total"), Value(0)),
        fig_this_year=Coalesce(Subquery(this_year.values("received")[:1]), Value(0)),
        fig_matched_total=Coalesce(F("totals__matched_total"), Value(0)),
        fig_matched_this_year=Coalesce(Subquery(this_year.values("matched")[:1]), Value(0)),
    )


def figures_of(row) -> AssociationFigures:
    """The figures of a row of ``with_figures`` (a dict of ``values()`` or an instance)."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return _with_badge(
        figures_from(
            get("fig_supporters"),
            get("fig_first_year"),
            get("fig_received_total"),
            get("fig_this_year"),
            get("fig_matched_total"),
            get("fig_matched_this_year"),
        ),
        get("fig_offer_name"),
        get("fig_offer_ends_on"),
    )


# --- A project's progress --------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectProgress:
    """A project's figures: what its gifts add up to against its goal. Exact: the sum of its
    ``ProjectGift`` rows, each written in its gift's transaction."""

    goal: int
    raised: int

    @property
    def percent(self) -> int:
        """Whole percent, rounded down (never « 100 % » one Tooket short), capped at 100."""
        return min(100, self.raised * 100 // self.goal) if self.goal > 0 else 0

    @property
    def reached(self) -> bool:
        return self.raised >= self.goal

    @property
    def bar_value(self) -> int:
        """The ``<progress>`` element's value: never past its max."""
        return min(self.raised, self.goal)


def with_progress(projects):
    """A queryset of projects with what their gifts add up to (``raised``), in the same query.
    Read the figures with ``progress_of(project)``."""
    return projects.annotate(
        raised=Coalesce(
            Subquery(
                ProjectGift.objects.filter(project_id=OuterRef("pk"))
                .values("project_id")
                .annotate(total=Sum("amount"))
                .values("total")[:1]
            ),
            Value(0),
        )
    )


def progress_of(project) -> ProjectProgress:
    return ProjectProgress(goal=project.goal, raised=project.raised)


# --- A closed campaign's figures (the « attestation de soutien ») ----------------------------


@dataclass(frozen=True)
class CampaignFigures:
    supporters: int  # distinct members who gave (or whose balance was swept) to it
    received: int  # Tookets, gifts and year-end sweeps
    paid_cents: int  # what the bank paid for this campaign (0 before the payment)
    paid_at: object


def campaign_figures(*, association_id: int, program_id: int) -> CampaignFigures:
    """What an association received in one program, read from the ledger itself (exact):
    two queries, the entries' sum and the payout line."""
    received = LedgerEntry.objects.filter(
        association_id=association_id,
        kind__in=[LedgerEntry.Kind.GIFT, LedgerEntry.Kind.SWEEP],
        wallet__program_id=program_id,
    ).aggregate(total=Coalesce(Sum("amount"), 0), supporters=Count("wallet__member", distinct=True))
    line = (
        PayoutLine.objects.filter(
            association_id=association_id,
            statement__program_id=program_id,
            statement__status=PayoutStatement.Status.PAID,
        )
        .values("amount_cents", "statement__paid_at")
        .first()
    )
    return CampaignFigures(
        supporters=received["supporters"],
        received=-received["total"],
        paid_cents=line["amount_cents"] if line else 0,
        paid_at=line["statement__paid_at"] if line else None,
    )
