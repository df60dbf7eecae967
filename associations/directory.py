"""The directory's cache plumbing: what its pages keep, and under which keys.

The directory's pages (list, favourites, map data, an association's card and page) answer
from the cache what ``associations.selectors.associations_visible_to`` would answer, keyed
by the directory's state: ``DirectoryVersion.current()`` (bumped by database triggers in the
writer's transaction, see ``DirectoryVersion``), the day (programs open and close by date)
and the member's ``directory_scope``. A key names a state, so nothing is ever invalidated:
timeouts only bound the memory that past states take, and ``read_through`` does not keep
an answer read while the version moved.

Here: the cards (``Card``, ``CARD_FIELDS``, ``card_labels``), their live figures (never
cached), the map's rows and key, the filters' option lists, the counts, the version and
``read_through``. The pages that use them are in ``associations.views``.
"""

import datetime
import hashlib

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from associations.models import Activity, Association, DirectoryVersion, Domain
from associations.selectors import associations_visible_to, directory_scope
from caisses.models import CaisseLocale
from tookets.fragments import fragment_key, kept_get_many


class Card:
    """What an association's card shows, read with ``values()``: no model instances.

    ``association_card`` (the template tag) reads these attributes; ``activity``, ``domain``
    and ``caisse_locale`` are their labels (what the models' ``__str__`` return, taken from
    the cached option lists: ``card_labels``) or None.
    """

    __slots__ = ("pk", "name", "presentation", "activity", "domain", "caisse_locale", "figures")

    def __init__(self, row: dict, labels: dict[str, dict[int, str]], figures):
        """``figures``: the card's ``AssociationFigures`` (``cagnotte.figures.read_figures``)."""

        self.pk = row["pk"]
        self.name = row["name"]
        self.presentation = row["presentation"]
        self.activity = labels["activity"].get(row["activity_id"])
        self.domain = labels["domain"].get(row["domain_id"])
        self.caisse_locale = labels["caisse_locale"].get(row["caisse_locale_id"])
        self.figures = figures


CARD_FIELDS = ("pk", "name", "presentation", "activity_id", "domain_id", "caisse_locale_id")
# What an association's page adds to its card.
DETAIL_FIELDS = (*CARD_FIELDS, "postal_code", "city", "website", "email")


def _markers(queryset: QuerySet[Association]) -> QuerySet:
    return (
        queryset.filter(latitude__isnull=False, longitude__isnull=False)
        .order_by()
        .values_list("pk", "latitude", "longitude", "name")
    )


def map_rows(queryset: QuerySet[Association]) -> list[list]:
    """Compact map markers ``[id, lat, lng, name]`` in one query (positions to ~10 m)."""
    return [[pk, round(lat, 4), round(lng, 4), name] for pk, lat, lng, name in _markers(queryset)]


def read_through(key: str, *, version: int, read, timeout: int):
    """``cache[key]``, else ``read()``, kept under ``key`` — a key naming a state of the
    directory whose version is ``version`` (read before ``read()`` runs).

    Not kept when the version has moved once read: a write committed meanwhile may or may not
    be in what was read, so it is no answer for the state the key names.
    """
    value = cache.get(key)
    if value is None:
        value = read()
        if DirectoryVersion.current() == version:
            cache.set(key, value, timeout)
    return value


def directory_state(
    member, *, version: int | None = None, day: datetime.date | None = None
) -> tuple[int, datetime.date, tuple]:
    """``(version, day, state)``: the directory as ``member`` sees it today, in one query
    (none when the caller read the ``version`` with its own); ``day``: the one the caller's
    reads used, today by default.

    ``state`` — ``(version, day, scope)`` — names what the visibility rule answers for every
    member of the same scope on that day: the pages' cached answers are keyed by it.
    """
    version = DirectoryVersion.current() if version is None else version
    day = timezone.localdate() if day is None else day
    return version, day, (version, day.isoformat(), directory_scope(member))


DIRECTORY_PLAN_TIMEOUT = 60 * 60  # bounds memory only: the key names the state


def visible_row_key(state: tuple, pk: int) -> str:
    """The cache key of ``visible_row``'s answer."""
    return fragment_key("association-row", (state, pk))


def visible_row(
    member, pk: int, *, state: tuple, day: datetime.date, found: dict | None = None
) -> dict | None:
    """The association's ``DETAIL_FIELDS`` row if ``member`` may see it on ``day``, else
    None: what ``associations_visible_to`` answers, kept under the directory's ``state``
    (``directory_state``; « not visible » too), so read from this process's memory or one cache
    read when known — none when ``found`` (a ``kept_get_many`` that asked for
    ``visible_row_key`` with other keys) has it."""

    def read() -> dict:  # a dict: "not visible" is kept too
        visible = associations_visible_to(member, on=day).filter(pk=pk)
        return {"row": visible.values(*DETAIL_FIELDS).first()}

    key = visible_row_key(state, pk)
    # The key names the state: this process's copy is as exact as the cache's.
    kept = (found if found is not None else kept_get_many([key])).get(key)
    if kept is None:
        kept = read_through(key, version=state[0], read=read, timeout=DIRECTORY_PLAN_TIMEOUT)
    return kept["row"]


def directory_plan_key(state: tuple, query) -> str:
    """The cache key of a directory URL's plan (mode, counts, page number, the page's rows)
    in ``state``: the state and the canonical query
    (``associations.directory_query.directory_query_key``)."""
    return fragment_key("directory-plan", (state, query))


def map_state_key(member, filters, *, version: int | None = None) -> tuple[str, int, datetime.date]:
    """``(key, version, day)``: a key naming exactly what the map markers of ``member`` under
    ``filters`` (``associations.directory_query.directory_query_key``) show, without reading
    them; ``version``: the directory's, when the caller has read it.

    What the markers depend on: the directory's version (every write that can change them
    bumps it), the day (programs open and close by date), the member's scope and the filters.
    """
    version = DirectoryVersion.current() if version is None else version
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
    version = DirectoryVersion.current() if version is None else version
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
        # Where each local bank is: « Les plus proches » measures from the member's.
        "positions": {pk: (lat, lng) for pk, _code, _name, lat, lng in caisses},
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
