"""Reads about associations. Visibility rules are written here, once."""

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramWordSimilarity
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, Lookup, Min, OuterRef, Q, QuerySet, Sum, Value
from django.utils import timezone

from associations.models import (
    Activity,
    Association,
    DirectoryVersion,
    Domain,
    StatusChange,
    normalize_search,
)
from cagnotte.campaigns import Enrollment, Program, open_programs_of
from cagnotte.models import Favourite
from caisses.models import CaisseLocale


class _InSubquery(Lookup):
    """``column IN (subquery)``; on PostgreSQL ``column = ANY(ARRAY(subquery))``.

    The ARRAY form makes PostgreSQL run the subquery once, first (an InitPlan), so the outer
    query is planned against a list of values, not against a join whose size it can only guess:
    for the directory it then estimates the enrolments of the open program from the
    statistics and walks the directory's order index instead of sorting every visible row.
    """

    lookup_name = "in_subquery"
    prepare_rhs = False

    def _sides(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return lhs, rhs, (*lhs_params, *rhs_params)

    def as_sql(self, compiler, connection):
        lhs, rhs, params = self._sides(compiler, connection)
        return f"{lhs} IN {rhs}", params

    def as_postgresql(self, compiler, connection):
        lhs, rhs, params = self._sides(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", params


def associations_visible_to(member, *, on: datetime.date | None = None) -> QuerySet[Association]:
    """Associations a member may see, choose and give to. THE visibility rule.

    Validated, enrolled in a program of the member's regional bank that is open today, and in
    that regional bank's territory. Anyone else (anonymous, staff without a regional bank, an
    association's login) sees none.

    The enrolment test is an EXISTS subquery rather than a join: a join repeats an association
    once per open program and needs DISTINCT, which PostgreSQL pays for with a sort or hash
    over the whole directory and which breaks ``count()``/``values_list()`` efficiency.

    The open programs are resolved inside the same statement, before the rest (see
    ``_InSubquery``): with the programs as a join, PostgreSQL guessed an average program's
    enrolments (1/20 of all) for the largest regional bank and chose to sort all its
    associations to show a page of 20; with the ids known first it reads 20 rows from the
    order index. One query still, and nothing cached, so visibility is always current.
    """
    on = on or timezone.localdate()
    if directory_scope(member) is None:
        return Association.objects.none()
    open_programs = (
        open_programs_of(caisse_regionale_id=member.caisse_regionale_id, day=on)
        .order_by()
        .values("pk")
    )
    enrolled_in_open_program = Enrollment.objects.filter(
        _InSubquery(F("program_id"), open_programs),
        association_id=OuterRef("pk"),
    )
    return Association.objects.filter(
        Exists(enrolled_in_open_program),
        status=Association.Status.VALIDATED,
        caisse_regionale_id=member.caisse_regionale_id,
    )


def visible_association_or_none(
    member, *, association_id, figures: bool = False
) -> Association | None:
    """One association by id if the member may see it (for pages and forms taking an id).

    ``figures=True`` also reads its card figures in the same query (``association.figures``).
    """
    try:
        association_id = int(association_id)
    except (TypeError, ValueError):
        return None
    queryset = associations_visible_to(member).select_related("activity", "domain", "caisse_locale")
    if figures:
        from cagnotte.selectors import figures_of, with_figures

        queryset = with_figures(queryset)
    association = queryset.filter(pk=association_id).first()
    if association is not None and figures:
        association.figures = figures_of(association)
    return association


class Card:
    """What an association's card shows, read with ``values()``: no model instances.

    ``association_card`` (the template tag) reads these attributes; ``activity``, ``domain``
    and ``caisse_locale`` are their labels (what the models' ``__str__`` return, taken from
    the cached option lists: ``card_labels``) or None.
    """

    __slots__ = ("pk", "name", "presentation", "activity", "domain", "caisse_locale", "figures")

    def __init__(self, row: dict, labels: dict[str, dict[int, str]], figures):
        """``figures``: the card's ``AssociationFigures`` (``live_figures``)."""

        self.pk = row["pk"]
        self.name = row["name"]
        self.presentation = row["presentation"]
        self.activity = labels["activity"].get(row["activity_id"])
        self.domain = labels["domain"].get(row["domain_id"])
        self.caisse_locale = labels["caisse_locale"].get(row["caisse_locale_id"])
        self.figures = figures


CARD_FIELDS = ("pk", "name", "presentation", "activity_id", "domain_id", "caisse_locale_id")


def live_figures(association_ids, *, member, year: int) -> tuple[dict, int | None]:
    """``({association id: AssociationFigures}, favourite id)``: what changes with every gift
    on a page of cards, plus the member's favourite (and its figures), in one query written
    in SQL — a page's rows and labels come from the cache, these never do.

    Three small index reads joined by UNION ALL: the member's favourite (its one row), then
    the totals and this year's totals of the page's associations and of the favourite, by
    primary key and unique index. A few tenths of a millisecond; the ORM would spend more
    compiling the statement than PostgreSQL running it.
    """
    from cagnotte.models import AssociationTotals, AssociationYearTotals
    from cagnotte.selectors import AssociationFigures

    ids = [int(pk) for pk in association_ids]
    favourite = Favourite._meta.db_table
    some = ", ".join(["%s"] * len(ids)) or "NULL"
    wanted = f"(association_id IN ({some}) OR association_id IN (SELECT association_id FROM {favourite} WHERE member_id = %s))"
    sql = (
        f"SELECT 'f', association_id, NULL, NULL, NULL FROM {favourite} WHERE member_id = %s "
        "UNION ALL SELECT 't', association_id, supporters, first_year, received_total "
        f"FROM {AssociationTotals._meta.db_table} WHERE {wanted} "
        "UNION ALL SELECT 'y', association_id, received, NULL, NULL "
        f"FROM {AssociationYearTotals._meta.db_table} WHERE year = %s AND {wanted}"
    )
    member_id = member.pk if member is not None and member.is_authenticated else None
    with connection.cursor() as cursor:
        cursor.execute(sql, [member_id, *ids, member_id, year, *ids, member_id])
        rows = cursor.fetchall()
    favourite_id = None
    totals, this_year = {}, {}
    for kind, pk, a, b, c in rows:
        if kind == "f":
            favourite_id = pk
        elif kind == "t":
            totals[pk] = (a, b, c)
        else:
            this_year[pk] = a
    figures = {}
    for pk in {*ids, *([favourite_id] if favourite_id else [])}:
        supporters, first_year, received_total = totals.get(pk, (0, None, 0))
        figures[pk] = AssociationFigures(
            supporters=supporters,
            first_year=first_year,
            received_total=received_total,
            received_this_year=this_year.get(pk, 0),
        )
    return figures, favourite_id


def directory_filter(
    *,
    activity_id: int | None = None,
    domain_id: int | None = None,
    caisse_locale_id: int | None = None,
    name: str = "",
) -> Q:
    """The directory's filters as one condition (empty when no filter is set).

    The name is compared in its normalized form (lower case, no accents) with
    ``search_name``, word by word (``search_words``): every word must appear, in any order.
    On PostgreSQL each LIKE '%…%' is served by the trigram GIN index.
    """
    condition = Q()
    if activity_id is not None:
        condition &= Q(activity_id=activity_id)
    if domain_id is not None:
        condition &= Q(domain_id=domain_id)
    if caisse_locale_id is not None:
        condition &= Q(caisse_locale_id=caisse_locale_id)
    for word in search_words(name):
        condition &= Q(search_name__contains=word)
    return condition


def search_words(text: str) -> list[str]:
    """The words of a search, normalized as ``search_name`` is (no case, accents, curly
    apostrophes), apostrophes and hyphens splitting words: « asso sportive gersoise »,
    « d'eauze » and « gers » each become words that must all appear, in any order, as whole
    words or parts of words. Duplicates and words contained in another one are dropped."""
    words = list(dict.fromkeys(normalize_search(text).replace("'", " ").replace("-", " ").split()))
    return [word for word in words if not any(word != other and word in other for other in words)]


SUGGESTION_MIN_SIMILARITY = 0.3
SUGGESTIONS = 3


def search_suggestions(visible: QuerySet[Association], text: str) -> list[str]:
    """« Vouliez-vous dire … » : the visible names closest to a search that matched nothing.

    PostgreSQL only (pg_trgm's word similarity, served by the trigram index on
    ``search_name``); one query. Elsewhere (SQLite in development) no suggestion.
    """
    needle = " ".join(search_words(text))
    if not needle or connection.vendor != "postgresql":
        return []
    similarity = TrigramWordSimilarity(Value(needle), "search_name")
    return list(
        visible.annotate(similarity=similarity)
        .filter(similarity__gte=SUGGESTION_MIN_SIMILARITY)
        .order_by("-similarity", "name")
        .values_list("name", flat=True)[:SUGGESTIONS]
    )


def _markers(queryset: QuerySet[Association]) -> QuerySet:
    return (
        queryset.filter(latitude__isnull=False, longitude__isnull=False)
        .order_by()
        .values_list("pk", "latitude", "longitude", "name")
    )


def map_rows(queryset: QuerySet[Association]) -> list[list]:
    """Compact map markers ``[id, lat, lng, name]`` in one query (positions to ~10 m)."""
    return [[pk, round(lat, 4), round(lng, 4), name] for pk, lat, lng, name in _markers(queryset)]


def directory_version() -> int:
    """The directory's version (``DirectoryVersion``), one primary-key read.

    Bumped by triggers in the same transaction as any write that can change a directory
    (see the model): two reads returning the same number saw the same directory, for a given
    day. If the row is gone (a TRUNCATE), it is made again from a random start.
    """
    table = DirectoryVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version FROM {table} WHERE id = 1")
        row = cursor.fetchone()
        if row is None:
            DirectoryVersion.objects.get_or_create(
                pk=1, defaults={"version": secrets.randbelow(10**15)}
            )
            cursor.execute(f"SELECT version FROM {table} WHERE id = 1")
            row = cursor.fetchone()
    return row[0]


def read_through(key: str, *, version: int, read, timeout: int):
    """``cache[key]``, else ``read()``, kept under ``key`` — a key naming a state of the
    directory whose version is ``version`` (read before ``read()`` runs).

    Not kept when the version has moved once read: a write committed meanwhile may or may not
    be in what was read, so it is no answer for the state the key names.
    """
    value = cache.get(key)
    if value is None:
        value = read()
        if directory_version() == version:
            cache.set(key, value, timeout)
    return value


def directory_scope(member) -> int | None:
    """Whose directory a user sees: the member's regional bank, or None (they see none).

    The same test as ``associations_visible_to``: two users with the same scope see the
    same associations on the same day.
    """
    if (
        member is None
        or not member.is_authenticated
        or getattr(member, "kind", None) != "member"
        or member.caisse_regionale_id is None
    ):
        return None
    return member.caisse_regionale_id


def map_state_key(member, filters) -> tuple[str, int, datetime.date]:
    """``(key, version, day)``: a key naming exactly what the map markers of ``member`` under
    ``filters`` (``(name, value)`` pairs of the query string) show, without reading them.

    What the markers depend on: the directory's version (every write that can change them
    bumps it), the day (programs open and close by date), the member's scope and the filters.
    """
    version = directory_version()
    day = timezone.localdate()
    raw = f"{version}|{day.isoformat()}|{directory_scope(member)}|{sorted(filters)!r}"
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest(), version, day


def caisses_locales_of(caisse_regionale_id) -> QuerySet[CaisseLocale]:
    return CaisseLocale.objects.filter(caisse_regionale_id=caisse_regionale_id).order_by("name")


# The filters' option lists change a few times a year, yet every directory page and map-data
# request needs them: cached under the directory's version, which the database bumps on any
# write to an activity, a domain or a local bank (``DirectoryVersion``), so a new version is a
# new key and the lists are never stale, whatever wrote the change. The timeout only bounds
# the memory that lists of past versions take.
DIRECTORY_OPTIONS_TIMEOUT = 60 * 60  # seconds


def directory_options(
    caisse_regionale_id, *, version: int | None = None
) -> dict[str, list[tuple[int, str, str]]]:
    """``(pk, code, label)`` rows for the activity, domain and local-bank filters, and the
    local banks' ``(name, latitude, longitude)`` as ``places`` (the map's fallback).

    One cache round trip when warm (plus the version's read when not given); three small
    queries when not.
    """
    version = directory_version() if version is None else version
    reference_key = f"directory-options:{version}:reference"
    # With their positions: the map names the towns when its background cannot load.
    cr_key = f"directory-options:{version}:caisses-locales-places:{caisse_regionale_id}"
    cached = cache.get_many([reference_key, cr_key])
    reference = cached.get(reference_key)
    if reference is None:
        reference = {
            "activities": list(Activity.objects.values_list("pk", "code", "label")),
            "domains": list(Domain.objects.values_list("pk", "code", "label")),
        }
        cache.set(reference_key, reference, DIRECTORY_OPTIONS_TIMEOUT)
    caisses = cached.get(cr_key)
    if caisses is None:
        caisses = list(
            caisses_locales_of(caisse_regionale_id).values_list(
                "pk", "code", "name", "latitude", "longitude"
            )
        )
        cache.set(cr_key, caisses, DIRECTORY_OPTIONS_TIMEOUT)
    return {
        **reference,
        "caisses": [(pk, code, name) for pk, code, name, _lat, _lng in caisses],
        "places": [(name, lat, lng) for _pk, _code, name, lat, lng in caisses],
    }


def card_labels(options) -> dict[str, dict[int, str]]:
    """What a ``Card`` shows for its activity, domain and local bank, from the option lists
    (no join in the page's query: joining the three tables cost PostgreSQL more to plan
    than the whole query took to run)."""
    return {
        "activity": {pk: label for pk, _code, label in options["activities"]},
        "domain": {pk: label for pk, _code, label in options["domains"]},
        "caisse_locale": {pk: label for pk, _code, label in options["caisses"]},
    }


DIRECTORY_COUNTS_TIMEOUT = 60 * 60  # bounds memory only: the key names the state


def directory_counts(
    visible: QuerySet[Association], condition: Q, *, state: tuple | None = None
) -> tuple[int, int]:
    """(all visible, those matching the filters) in one query.

    With ``state`` (``(version, day, scope)`` of the directory, read before ``visible`` was
    built), the counts are cached under that state and the filters: the same state shows the
    same associations, so they are exact; the version is read again after counting and a
    state that changed meanwhile is not stored.
    """

    def count() -> tuple[int, int]:
        counts = visible.aggregate(
            total=Count("pk"), matching=Count("pk", filter=condition or None)
        )
        return counts["total"], counts["matching"]

    if state is None:
        return count()
    raw = f"{state!r}|{condition!r}"
    key = "directory-counts:" + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
    return read_through(key, version=state[0], read=count, timeout=DIRECTORY_COUNTS_TIMEOUT)


# --- Staff (admin) --------------------------------------------------------------------------


def programs_enrolled_in(*, association_ids):
    """The programs any of these associations is enrolled in (to withdraw it from one)."""
    return Program.objects.filter(
        pk__in=Enrollment.objects.filter(association_id__in=list(association_ids)).values(
            "program_id"
        )
    ).order_by("caisse_regionale__name", "-year", "name")


def association_history(association_id: int) -> QuerySet[StatusChange]:
    """An association's file as one story, oldest first: every event (submissions, staff
    decisions, enrolments and withdrawals) with who, when and why."""
    return (
        StatusChange.objects.filter(association_id=association_id)
        .select_related("actor")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class StaffDashboard:
    by_status: list[tuple[str, str, int]]  # (status, label, count), in the workflow's order
    total: int
    oldest_submitted_at: datetime.datetime | None  # the file waiting longest for a check
    given_this_year: int  # Tookets the associations received this calendar year
    year: int


def staff_dashboard(associations: QuerySet[Association], *, on: datetime.date | None = None):
    """The staff dashboard's figures for these (already scoped) associations: three queries."""
    from cagnotte.models import AssociationYearTotals

    year = (on or timezone.localdate()).year
    counts = dict(
        associations.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    oldest = associations.filter(status=Association.Status.SUBMITTED).aggregate(
        oldest=Min("submitted_at")
    )["oldest"]
    given = (
        AssociationYearTotals.objects.filter(
            association__in=associations.values("pk"), year=year
        ).aggregate(total=Sum("received"))["total"]
        or 0
    )
    return StaffDashboard(
        by_status=[
            (value, label, counts.get(value, 0)) for value, label in Association.Status.choices
        ],
        total=sum(counts.values()),
        oldest_submitted_at=oldest,
        given_this_year=given,
        year=year,
    )
