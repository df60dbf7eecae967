"""Reads about associations. Visibility rules are written here, once."""

import datetime
import hashlib
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramWordSimilarity
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Exists, F, Lookup, Min, OuterRef, Q, QuerySet, Sum, Value
from django.utils import timezone

from associations.models import (
    Activity,
    Association,
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
    if (
        member is None
        or not member.is_authenticated
        or getattr(member, "kind", None) != "member"
        or member.caisse_regionale_id is None
    ):
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


def visible_association_or_none(member, *, association_id) -> Association | None:
    """One association by id if the member may see it (for pages and forms taking an id)."""
    try:
        association_id = int(association_id)
    except (TypeError, ValueError):
        return None
    return (
        associations_visible_to(member)
        .select_related("activity", "domain", "caisse_locale")
        .filter(pk=association_id)
        .first()
    )


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


def directory_counts(visible: QuerySet[Association], condition: Q) -> tuple[int, int]:
    """(all visible, those matching the filters) in one query."""
    counts = visible.aggregate(total=Count("pk"), matching=Count("pk", filter=condition or None))
    return counts["total"], counts["matching"]


def _markers(queryset: QuerySet[Association]) -> QuerySet:
    return (
        queryset.filter(latitude__isnull=False, longitude__isnull=False)
        .order_by()
        .values_list("pk", "latitude", "longitude", "name")
    )


def map_rows(queryset: QuerySet[Association]) -> list[list]:
    """Compact map markers ``[id, lat, lng, name]`` in one query (positions to ~10 m)."""
    return [[pk, round(lat, 4), round(lng, 4), name] for pk, lat, lng, name in _markers(queryset)]


def map_fingerprint(queryset: QuerySet[Association]) -> tuple[str, list[list] | None]:
    """A digest of exactly what the map markers of ``queryset`` show, in one query.

    Returns ``(digest, rows)``. On PostgreSQL the database hashes the marker rows (id,
    position, name) without sending them: ``rows`` is None and the caller builds them only
    when it has no body cached for that digest. Elsewhere the rows are read and
    hashed here, and returned so they are not read twice. Any change that shows on the map
    (an association appearing, leaving, renamed or moved, whatever wrote it) changes the
    digest, so a body cached under it is never stale.
    """
    markers = _markers(queryset)
    if connection.vendor == "postgresql":
        # A sum of 64-bit hashes of the rows' text (id, position, name): no sort and no big
        # string to build, unlike md5(string_agg(… ORDER BY id)), which cost twice as much.
        # The id in each row keeps two rows from swapping or cancelling out.
        try:
            sql, params = markers.query.sql_with_params()
        except EmptyResultSet:  # .none(): someone who sees no association (staff, an association)
            return _digest(0, 0), []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), coalesce(sum(hashtextextended(markers::text, 0)), 0) "
                f"FROM ({sql}) AS markers",
                params,
            )
            count, total = cursor.fetchone()
        return _digest(count, total), None
    rows = [[pk, round(lat, 4), round(lng, 4), name] for pk, lat, lng, name in markers]
    return _digest(len(rows), repr(rows)), rows


def _digest(count: int, data) -> str:
    return f"{count}-{hashlib.blake2b(str(data).encode(), digest_size=12).hexdigest()}"


def caisses_locales_of(caisse_regionale_id) -> QuerySet[CaisseLocale]:
    return CaisseLocale.objects.filter(caisse_regionale_id=caisse_regionale_id).order_by("name")


# The filters' option lists change a few times a year, yet every directory page and map-data
# request needs them: cached, and forgotten as soon as a row changes (``apps.ready`` connects
# ``forget_directory_options`` to saves and deletes); the timeout only bounds what a change
# made without signals (a bulk update, a raw SQL edit) can leave behind.
DIRECTORY_OPTIONS_TIMEOUT = 300  # seconds
_REFERENCE_OPTIONS_KEY = "directory-options:reference"


def _caisses_locales_options_key(caisse_regionale_id) -> str:
    return f"directory-options:caisses-locales:{caisse_regionale_id}"


def directory_options(caisse_regionale_id) -> dict[str, list[tuple[int, str, str]]]:
    """``(pk, code, label)`` rows for the activity, domain and local-bank filters.

    One cache round trip when warm; three small queries when not.
    """
    cr_key = _caisses_locales_options_key(caisse_regionale_id)
    cached = cache.get_many([_REFERENCE_OPTIONS_KEY, cr_key])
    reference = cached.get(_REFERENCE_OPTIONS_KEY)
    if reference is None:
        reference = {
            "activities": list(Activity.objects.values_list("pk", "code", "label")),
            "domains": list(Domain.objects.values_list("pk", "code", "label")),
        }
        cache.set(_REFERENCE_OPTIONS_KEY, reference, DIRECTORY_OPTIONS_TIMEOUT)
    caisses = cached.get(cr_key)
    if caisses is None:
        caisses = list(caisses_locales_of(caisse_regionale_id).values_list("pk", "code", "name"))
        cache.set(cr_key, caisses, DIRECTORY_OPTIONS_TIMEOUT)
    return {**reference, "caisses": caisses}


def forget_directory_options(sender, instance, **kwargs):
    """Signal receiver: an activity, domain or local bank changed."""
    if isinstance(instance, CaisseLocale):
        cache.delete(_caisses_locales_options_key(instance.caisse_regionale_id))
    else:
        cache.delete(_REFERENCE_OPTIONS_KEY)


def favourite_association_id(member) -> int | None:
    if member is None or not member.is_authenticated:
        return None
    return Favourite.objects.filter(member=member).values_list("association_id", flat=True).first()


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
