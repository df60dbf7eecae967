"""Reads about associations: the visibility rule (written here, once), the directory's filters
and search, and the staff's reads.

What the directory's pages keep of these answers, and under which keys, is in
``associations.directory``.
"""

import datetime
import hashlib
import math
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Lookup,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone

from associations.models import Association, StatusChange, normalize_search
from cagnotte.campaigns import Enrollment, Program, open_programs_of
from cagnotte.models import AssociationYearTotals


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
    order index. One query still.

    The rule reads no cache, but its answer is kept by the pages that show it, each under
    the directory's state — ``DirectoryVersion.current()``, the day and ``directory_scope(member)``:
    the directory's and favourites' plans (counts and rows), contents and favourite row, an
    association's row for its card and page (« not visible » too), the map's markers and
    their ETag (``associations.directory``, ``associations.views``), and the gift page
    (``cagnotte.views``, named by ``cagnotte.selectors.give_page_state``). So every input of
    the rule must change that state in the writer's transaction: a table or column it reads
    needs a trigger bumping ``DirectoryVersion`` (today migrations ``associations/0010``:
    associations validated before or after the write, enrolments, programs, activities,
    domains, local banks; and ``0011``: regional banks), and a new fact about the member goes
    into ``directory_scope``. A new input without its trigger leaves those pages showing the
    old answer until something else bumps the version.
    """
    scope = directory_scope(member)
    if scope is None:
        return Association.objects.none()
    return associations_visible_in(scope, on=on)


def associations_visible_in(caisse_regionale_id: int, *, on: datetime.date | None = None):
    """``associations_visible_to`` a member whose ``directory_scope`` is this regional bank
    (the rule itself; an id or a placeholder of ``tookets.compiled``)."""
    on = on or timezone.localdate()
    open_programs = (
        open_programs_of(caisse_regionale_id=caisse_regionale_id, day=on).order_by().values("pk")
    )
    enrolled_in_open_program = Enrollment.objects.filter(
        _InSubquery(F("program_id"), open_programs),
        association_id=OuterRef("pk"),
    )
    return Association.objects.filter(
        Exists(enrolled_in_open_program),
        status=Association.Status.VALIDATED,
        caisse_regionale_id=caisse_regionale_id,
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


# --- The directory's order ------------------------------------------------------------------
# « Au hasard » (the default), « Les plus proches », « Les plus soutenues », « Nom ».
SORT_RANDOM, SORT_NEAREST, SORT_SUPPORTED, SORT_NAME = "hasard", "proches", "soutenues", "nom"
# A prime above every id: ``(id * a + b) mod P`` is then a permutation of the ids.
_SHUFFLE_PRIME = 2_147_483_647


def shuffle_seed(member_id: int, day: datetime.date) -> tuple[int, int]:
    """The ``(a, b)`` of one member's shuffle on one day: stable for them that day (every page,
    filter and view), another for another member or another day. Derived, never stored."""
    digest = hashlib.blake2b(f"{member_id}:{day.isoformat()}".encode(), digest_size=8).digest()
    a = int.from_bytes(digest[:4], "big") % (_SHUFFLE_PRIME - 1) + 1
    b = int.from_bytes(digest[4:], "big") % _SHUFFLE_PRIME
    return a, b


def directory_order(sort: str, *, seed: tuple[int, int], origin: tuple[float, float] | None):
    """The directory's ``order_by`` for ``sort`` (one of ``SORT_*``), every sort ending on the
    id so that pages never overlap.

    * random: ``(id * a + b) mod P`` with the member's ``seed`` of the day (``shuffle_seed``),
      as participatory-budget platforms shuffle their projects: no association wins by its
      name. Integer arithmetic: the same order on PostgreSQL and SQLite;
    * nearest: the distance from ``origin`` (latitude, longitude), on a plane scaled by the
      latitude's cosine (exact enough over a regional bank), associations without a position
      last; without ``origin``, by name;
    * supported: most supporters first (``AssociationTotals``), then by name;
    * name.
    """
    if sort == SORT_NEAREST and origin is not None:
        lat, lng = origin
        scale = math.cos(math.radians(lat))
        dy = F("latitude") - Value(lat)
        dx = (F("longitude") - Value(lng)) * Value(scale)
        distance = ExpressionWrapper(dy * dy + dx * dx, output_field=FloatField())
        return [distance.asc(nulls_last=True), "name", "pk"]
    if sort == SORT_SUPPORTED:
        return [F("totals__supporters").desc(nulls_last=True), "name", "pk"]
    if sort == SORT_RANDOM:
        a, b = seed
        shuffled = ExpressionWrapper(
            (F("pk") * Value(a) + Value(b)) % Value(_SHUFFLE_PRIME), output_field=BigIntegerField()
        )
        return [shuffled.asc(), "pk"]
    return ["name", "pk"]


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


# --- Staff (admin) --------------------------------------------------------------------------


def renewal_candidates(program: Program) -> QuerySet[Association]:
    """Who may be retained again for ``program``: the associations enrolled in its previous
    campaign (``Program.previous``) that are still validated and not enrolled in it yet."""
    previous = program.previous()
    if previous is None:
        return Association.objects.none()
    return (
        Association.objects.filter(
            status=Association.Status.VALIDATED,
            caisse_regionale_id=program.caisse_regionale_id,
            pk__in=Enrollment.objects.filter(program=previous).values("association_id"),
        )
        .exclude(pk__in=Enrollment.objects.filter(program=program).values("association_id"))
        .order_by("name", "pk")
    )


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
