import functools
import gzip
import json
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.template import Context
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from associations.directory import (
    CARD_FIELDS,
    DETAIL_FIELDS,
    DIRECTORY_PLAN_TIMEOUT,
    Card,
    card_labels,
    directory_counts,
    directory_options,
    directory_plan_key,
    directory_state,
    map_rows,
    map_state_key,
    read_through,
    visible_row,
    visible_row_key,
)
from associations.directory_query import NEXT_PLACEHOLDER, directory_query_key, with_next
from associations.filters import MODE_LIST, MODE_MAP, VIEW, DirectoryFilterForm
from associations.models import DirectoryVersion
from associations.selectors import SORT_SUPPORTED, associations_visible_to, search_suggestions
from associations.templatetags.directory_tags import association_card, card_slot_marker
from cagnotte import services as cagnotte_services
from cagnotte.figures import figures_from_rows, read_figure_rows, shown_projects_from_rows
from cagnotte.selectors import (
    version_and_year_end,
    year_end_from_json,
    year_end_sql,
    year_end_state_sql,
    year_end_with_state,
)
from tookets.db_router import is_configured as replica_configured
from tookets.db_router import replica_reads
from tookets.fragments import (
    CSRF_PLACEHOLDER,
    FRAGMENT_TIMEOUT,
    Kept,
    cached_html,
    fragment_key,
    kept_get,
    kept_get_many,
    kept_html,
    kept_set,
    with_csrf,
)
from tookets.http import MAX_ID_DIGITS, int_or_none, redirect_to_next, safe_next
from tookets.user_reads import DIRECTORY_VERSION, read_user_with

PER_PAGE = 20
# The longest query string whose answers a process keeps (``_Asked``, ``map_data``): any query
# string can be sent, so the copies are bounded in size as well as in number.
MEMO_QUERY_MAX = 300
# Where the favourites page's cached content takes the member's year-end preview.
YEAR_END_SLOT = "<!--year-end-->"
YEAR_END_TEMPLATE = "associations/_year_end_preview.html"
# Where ``_directory_page`` puts the value of its ``also`` expression in the context.
ALSO = "also"
MAP_DATA_MAX_AGE = 60  # seconds a browser reuses the markers before revalidating (ETag)
# The cached body is keyed by the directory's state, so this only bounds the memory that
# bodies of past states take; it is never a staleness window.
MAP_DATA_CACHE_TIMEOUT = 60 * 60
ACCEPTS_GZIP = re.compile(r"\bgzip\b")  # as django.middleware.gzip reads Accept-Encoding


def _map_config(request, form):
    cr = request.user.caisse_regionale
    query = form.query_string(vue="")
    if cr is None:  # not a member: nothing to show, open on France
        center, bounds = [46.6, 2.4], [[42.3, -4.8], [51.1, 8.2]]
    else:
        center = [cr.center_lat, cr.center_lng]
        bounds = [[cr.min_lat, cr.min_lng], [cr.max_lat, cr.max_lng]]
    return {
        "mapDataUrl": reverse("associations:map_data") + (f"?{query}" if query else ""),
        "cardUrl": reverse("associations:card", args=[0]),
        # Named by the static storage (hashed in production): Leaflet's own guess reads its
        # stylesheet's url(), which a hashed name defeats.
        "icons": {
            "iconUrl": static("leaflet/images/marker-icon.png"),
            "iconRetinaUrl": static("leaflet/images/marker-icon-2x.png"),
            "shadowUrl": static("leaflet/images/marker-shadow.png"),
        },
        "tilesUrl": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "center": center,
        "bounds": bounds,
        # The local banks' towns, named on the map when its background cannot load.
        "places": [[name, lat, lng] for name, lat, lng in form.options["places"]],
        "labels": {
            "noTiles": _(
                "Le fond de carte n’est pas disponible : les villes des caisses locales "
                "vous aident à vous repérer."
            ),
            "zoomIn": _("Zoom avant"),
            "zoomOut": _("Zoom arrière"),
            # %s is the number of associations grouped under one marker
            "cluster": _("%s associations, agrandir"),
        },
    }


class _DirectoryRead:
    """What a directory URL shows in one state of the directory, read through the ORM: the
    filter form, the counts and (list) the page with its rows. Built on a cold plan or a
    cold content only."""

    def __init__(self, request, *, form, page: int, state: tuple, day):
        member = request.user
        self.visible = associations_visible_to(member, on=day)
        self.form = form
        self.condition = self.form.condition()
        self.total, self.matching = directory_counts(self.visible, self.condition, state=state)
        self.page = self.rows = None
        if self.form.mode != MODE_MAP:
            paginator = Paginator(
                self.visible.filter(self.condition).order_by(*self.form.order_by()), PER_PAGE
            )
            paginator.count = self.matching  # already counted, with the total
            self.page = paginator.get_page(page)
            # Kept in the cache with the rest of the plan (``_directory_page``).
            self.rows = list(self.page.object_list.values(*CARD_FIELDS))

    def plan(self) -> dict:
        return {
            "mode": self.form.mode,
            "is_filtered": self.form.is_filtered,
            "has_errors": bool(self.form.errors),
            "matching": self.matching,
            "number": None if self.page is None else self.page.number,
            "rows": self.rows,
        }


class _Asked:
    """What a directory URL's filter form answers (mode, sort, search, canonical query),
    worked out once per process for each short query, member, day and state of the option
    lists (everything the answers depend on: the lists by the directory's version and the
    regional bank, a shuffle by the member and the day, « Les plus proches » by the member's
    local bank). The form itself is built only when a page is rendered, read from the
    database or in error."""

    def __init__(self, request, member, version: int, day):
        self._request, self._member, self._version = request, member, version
        self._page = int_or_none(request.GET.get("page")) or 1
        query = request.META.get("QUERY_STRING", "")
        self._memo = (
            (query, version, member.caisse_regionale_id, member.pk, member.caisse_locale_id, day)
            if len(query) <= MEMO_QUERY_MAX
            else None
        )
        known = _asked_answers.get(self._memo) if self._memo else None
        if known is None:
            form = self.form
            form.is_valid()
            search = form.cleaned_data.get("q") or ""
            known = (form.mode, form.sort, search, directory_query_key(form, page=self._page))
            if self._memo:
                _asked_answers.set(self._memo, known)
        self.mode, self.sort, self.search, self._key = known

    @functools.cached_property
    def form(self) -> DirectoryFilterForm:
        return DirectoryFilterForm(self._request.GET, member=self._member, version=self._version)

    @property
    def page(self) -> int:
        """The page number asked for (1 when none or not a number)."""
        return self._page

    def key(self, page: int) -> tuple:
        """``directory_query_key`` for ``page``."""
        if page == self._page:
            return self._key
        return directory_query_key(self.form, page=page)


_asked_answers = Kept(2048)


def _card_key(card, *, version: int, year: int, favourite_id) -> str:
    """The cache key of a card ``(row, figures, anchor)``: everything it shows."""
    row, figures, anchor = card
    return fragment_key(
        "card", (version, year, row["pk"], figures, row["pk"] == favourite_id, anchor)
    )


def _fill_cards(html: str, cards, *, found: dict, version: int, year: int, favourite_id, labels):
    """``html`` with each card slot (``card_slot``) replaced by its card, each card cached on
    its own under everything it shows (``_card_key``): the directory's version (name,
    presentation, labels), the year and its figures (with its live projects' titles and
    progress: a gift to a project, a project accepted or ended changes them), whether it is
    the favourite. The URL its favourite form returns to is left for the caller to put in
    (``with_next``): no key holds a URL. ``cards``: ``(row, figures, anchor)``; ``found``:
    what the page's one ``get_many`` answered for their keys (asked with the page's other
    fragments); ``labels()`` gives the option labels, called only if a card is rendered.
    """
    keys = {
        _card_key(card, version=version, year=year, favourite_id=favourite_id): card
        for card in cards
    }
    if any(key not in found for key in keys):
        context = Context(
            {"favourite_id": favourite_id, "next": NEXT_PLACEHOLDER, "csrf_token": CSRF_PLACEHOLDER}
        )
        shown = labels()
        missing = {
            key: association_card(context, Card(row, shown, figures), anchor=anchor)
            for key, (row, figures, anchor) in keys.items()
            if key not in found
        }
        cache.set_many(missing, FRAGMENT_TIMEOUT)
        found = {**found, **missing}
    for key, (row, _figures, anchor) in keys.items():
        html = html.replace(card_slot_marker(row["pk"], anchor), found[key], 1)
    return html


def _directory_page(
    request,
    content_template: str,
    *,
    with_favourite: bool = False,
    version: int | None = None,
    also: tuple[str, list] | None = None,
):
    """The context of a directory page (see ``_directory_page_at``).

    Without a ``version`` read by the caller, the version this process saw last is assumed
    and checked in the figures' own statement (the directory changes seldom, its figures at
    every gift): one query saved when it still holds. When it has moved, when the page's plan
    is not kept under it, or on the map (which reads no figures), the page is made from the
    version read first. The guess is only ever older than the data read after it, as when
    the version is read first (``tookets.fragments``' rule)."""
    seen = _seen.get("version")
    if version is None and seen is not None and request.GET.get(VIEW) != MODE_MAP:
        context = _directory_page_at(
            request,
            content_template,
            with_favourite=with_favourite,
            version=seen,
            assumed=True,
            also=also,
        )
        if context is not None:
            return context
    return _directory_page_at(
        request, content_template, with_favourite=with_favourite, version=version, also=also
    )


# The directory's version this process read last (``_directory_page``), under « version »
# (a ``Kept``: forgotten with the tests' cache).
_seen = Kept(1)


def _directory_page_at(
    request,
    content_template: str,
    *,
    with_favourite: bool = False,
    version: int | None = None,
    assumed: bool = False,
    also: tuple[str, list] | None = None,
):
    """The context of a directory page (the directory, the favourites): filters, counts and
    either a page of cards (list) or the map's settings (map), its main content rendered from
    the cache (``tookets.fragments``).

    A constant number of queries whatever the number of associations and the filters: user,
    the directory's version, then (list, or the favourites page) the page's figures and the
    member's favourite in one SQL statement (``read_figure_rows``). What the URL shows in this
    state of the directory (``(version, day, scope)``: the database bumps the version on
    every write that can change it) — mode, counts, page number, the page's rows — is one
    cache read (the plan); the page around the cards is rendered once per state and query,
    each card once per version, figures and favourite (``_fill_cards``): a gift re-renders
    the one card it changed, a new favourite the two cards whose badge moved; and the whole
    content with its cards is kept under those keys and the figures' rows, so a page whose
    figures did not move is one more cache read and nothing else. The filter form
    is built from the cached option lists (it names the keys: ``directory_query_key``); only
    when the plan or the page is new are the querysets built.

    ``assumed``: ``version`` is a guess, checked against the version read with the figures
    before anything is kept; None when it does not hold (nothing was kept under it).

    ``also``: a scalar SQL expression read in the figures' statement (``read_figure_rows``),
    its value in the context under ``ALSO`` — absent when no statement carried it.
    """
    member = request.user
    version, day, state = directory_state(member, version=version)
    if not assumed:
        _seen.set("version", version)
    full_path = request.get_full_path()
    # The keys name what the form reads, canonical (associations.directory_query); the form's
    # option lists come from the cache.
    asked = _Asked(request, member, version, day)
    page = asked.page
    # Built only when the plan or the page is new, then shared by all that needs it.
    reader = functools.cache(
        lambda: _DirectoryRead(request, form=asked.form, page=page, state=state, day=day)
    )
    plan = _plan(asked, page=page, state=state, reader=reader, known_only=assumed)
    if plan is None:  # a guess and a plan not kept: the version is read first, as usual
        return None
    rows = plan["rows"]
    ids = [row["pk"] for row in rows or ()]
    figure_rows = ()
    extra = {}
    if rows is not None or with_favourite:
        read_version, figure_rows, *also_value = read_figure_rows(
            ids,
            member=member,
            year=day.year,
            day=day,
            with_version=True,
            also=also,
            # On a guessed version, the cards' badges as this process last computed them in
            # it (the guess checked in the same statement).
            badges_at=version if assumed else None,
        )
        if also and read_version is not None:
            extra[ALSO] = also_value[0]
        if assumed and read_version != version:
            return None
    elif assumed:
        return None
    favourite_id = next((row[0] for row in figure_rows if row[1]), None)
    # Whether the favourite is shown (the member may still see it) is a cached answer too,
    # read in the same round trip as the content and the cards.
    favourite_key = None
    if with_favourite and favourite_id:
        favourite_key = fragment_key("directory-favourite", (state, favourite_id))
    if plan["has_errors"]:
        content_keys = {}
    else:
        # The search as typed, since the search box shows it.
        query = asked.key(plan["number"])
        shown_search = asked.search
        # The rows' ids: the cards' order is the content's (a page by support moves alone).
        shown_rows = tuple(row["pk"] for row in rows or ())
        # The page around the cards: the favourite's id only where the page says something
        # of it, and whether it is shown.
        shown = [None] if not with_favourite else [(favourite_id, True), (favourite_id, False)]
        if with_favourite and not favourite_id:
            shown = [(None, False)]
        content_keys = {
            shown_favourite: (state, request.path, query, shown_search, shown_favourite, shown_rows)
            for shown_favourite in shown
        }
        # The whole content with its cards in, under everything it shows: the content's keys
        # (the directory's state and the query) and the figures' rows as read (every figure
        # the cards show, and the favourite). A page whose figures did not move since it was
        # last shown is one cache read; any gift to one of its cards makes a new key.
        page_key = fragment_key(
            "directory-page", (content_template, tuple(content_keys.values()), figure_rows)
        )
        html = kept_get(page_key)
        if html is not None:
            return _page_context(request, with_next(html, full_path), plan, asked) | extra
    figures, _favourite_id = figures_from_rows(ids, figure_rows)
    card_key = functools.partial(
        _card_key, version=version, year=day.year, favourite_id=favourite_id
    )
    cards = [(row, figures[row["pk"]], True) for row in rows or ()]
    favourite_card = favourite = None
    if favourite_key:
        favourite_card = ({"pk": favourite_id}, figures[favourite_id], False)
    # One cache round trip for the content, the favourite and all the cards.
    wanted = [
        *(fragment_key(content_template, key) for key in content_keys.values()),
        *(card_key(card) for card in cards),
        *([favourite_key, card_key(favourite_card)] if favourite_key else []),
    ]
    # A copy: with Redis down, django-redis answers every get_many with one shared {}.
    found = dict(cache.get_many(wanted) or {}) if wanted else {}
    if favourite_key:
        kept = found.get(favourite_key)
        favourite = (
            kept["row"]
            if kept is not None
            else _favourite_row(reader, state=state, favourite_id=favourite_id)
        )
    if favourite is not None:
        cards.append((favourite, figures[favourite_id], False))

    def content_context():
        return _content_context(
            request, reader(), rows=rows, favourite_id=favourite_id, favourite=favourite
        )

    if plan["has_errors"]:
        # A form in error is rendered, never kept: its error message may quote the value.
        html = render_to_string(
            content_template, {**content_context(), "csrf_token": CSRF_PLACEHOLDER}
        )
    else:
        shown_favourite = (favourite_id, favourite is not None) if with_favourite else None
        html = cached_html(
            content_template,
            state=content_keys[shown_favourite],
            context=content_context,
            found=found,
        )
    html = _fill_cards(
        html,
        cards,
        found=found,
        version=version,
        year=day.year,
        favourite_id=favourite_id,
        labels=lambda: card_labels(directory_options(member.caisse_regionale_id, version=version)),
    )
    if not plan["has_errors"]:
        kept_set(page_key, html)
    return _page_context(request, with_next(html, full_path), plan, asked) | extra


def _plan(asked, *, page: int, state: tuple, reader, known_only: bool = False) -> dict | None:
    """What the query shows in ``state`` (mode, counts, page number, the page's rows), kept
    under the canonical query (``directory_plan_key``).

    A page number past the last one shows the last page. Kept under the number asked for
    only when it is the one just after (a « Suivante » link made before the list got
    shorter), else under the page shown: any number makes no key of its own. Not kept if the
    version moved (as ``read_through``). ``known_only``: None rather than read it.
    """
    if asked.mode != MODE_MAP and asked.sort == SORT_SUPPORTED:
        # Ordered by supporters, which a gift changes without moving the directory's version:
        # read every time (the counts still come from their cache).
        return reader().plan()
    plan = kept_get(directory_plan_key(state, asked.key(page)))
    if plan is None and known_only:
        return None
    if plan is None:
        plan = reader().plan()
        shown = page if plan["number"] is None or page <= plan["number"] + 1 else plan["number"]
        if DirectoryVersion.current() == state[0]:
            kept_set(
                directory_plan_key(state, asked.key(shown)),
                plan,
                DIRECTORY_PLAN_TIMEOUT,
            )
    return plan


def _favourite_row(reader, *, state: tuple, favourite_id: int) -> dict | None:
    """The favourite's card row if the member may see it, kept under the directory's state
    (« not visible » too)."""
    return read_through(
        fragment_key("directory-favourite", (state, favourite_id)),
        version=state[0],
        read=lambda: {"row": reader().visible.filter(pk=favourite_id).values(*CARD_FIELDS).first()},
        timeout=DIRECTORY_PLAN_TIMEOUT,
    )["row"]


def _content_context(request, read: _DirectoryRead, *, rows, favourite_id, favourite) -> dict:
    """The context of a directory page's main content (rendered on a cold page only)."""
    form = read.form
    context = {
        "form": form,
        "total": read.total,
        "matching": read.matching,
        "mode": form.mode,
        "path": request.path,
        "next": NEXT_PLACEHOLDER,
        "favourite_id": favourite_id,
        "favourite": favourite,
    }
    searched = form.cleaned_data.get("q") or ""
    if searched and not read.matching:
        # Nothing matched: one more query for the closest names (a typo still leads somewhere).
        context["suggestions"] = search_suggestions(read.visible, searched)
    if form.mode == MODE_MAP:
        context["map_config"] = _map_config(request, form)
        context["list_query"] = form.query_string(vue=MODE_LIST)
    else:
        # The plan's rows, not the read's: the page shows what its key names.
        read.page.object_list = rows
        context.update(
            page=read.page,
            page_query=form.query_string(),
            map_query=form.query_string(vue=MODE_MAP),
        )
    return context


def _page_context(request, html: str, plan: dict, asked: _Asked) -> dict:
    """The context of the page around the content: what its title and headings read."""
    context = {
        "content": with_csrf(request, html),
        "mode": plan["mode"],
        "is_filtered": plan["is_filtered"],
        "matching": plan["matching"],
    }
    if plan["has_errors"]:  # the page's error summary and title read the bound form
        context["form"] = asked.form
    return context


@login_required
@require_GET
@replica_reads
def directory(request):
    context = _directory_page(request, "associations/_directory_content.html")
    return render(request, "associations/directory.html", context)


@login_required
@require_GET
def favourites(request):
    """« Associations Favorites », with the year end before it happens: where each balance of
    a campaign near its end (or closed, waiting for its sweep) will go, put in the cached
    content's place for it. On PostgreSQL the page's figures' statement reads what names the
    year end (``year_end_state_sql``: a wallet row's ``xmin``, the favourite, the version) and
    the preview kept under it is shown: the year end itself is read (with its state, in one
    statement more) only when that state is new — the first visit after a gift, a credit or
    a sweep. On SQLite the statement reads the year end itself (``year_end_sql``). Else (no
    row carried it: no favourite and no card) in one statement more."""
    day = timezone.localdate()
    member = request.user
    by_state = connection.vendor == "postgresql"
    context = _directory_page(
        request,
        "associations/_favourites_content.html",
        with_favourite=True,
        also=year_end_state_sql(member) if by_state else year_end_sql(member, day=day),
    )
    if ALSO in context and by_state:
        # What names the year end, read with the figures: its preview as kept under that
        # state, else the year end read with its state in one statement more and kept.
        state = context.pop(ALSO)
        preview = kept_get(fragment_key(YEAR_END_TEMPLATE, (member.pk, day, state)))
        if preview is None:
            state, raw = year_end_with_state(member, day=day)
            preview = kept_html(
                YEAR_END_TEMPLATE,
                state=(member.pk, day, state),
                context=lambda: _year_end_context(*year_end_from_json(member, raw), day=day),
            )
    elif ALSO in context:
        # The year end as read (JSON text) names all the preview shows: kept under it, the
        # wallets and the last sweep are made from it only when it is new.
        raw = context.pop(ALSO)
        preview = kept_html(
            YEAR_END_TEMPLATE,
            state=(day, raw),
            context=lambda: _year_end_context(*year_end_from_json(member, raw), day=day),
        )
    else:
        _version, year_end, last_sweep = version_and_year_end(member, day=day)
        preview = _year_end_preview(year_end, last_sweep, day=day)
    context["content"] = mark_safe(context["content"].replace(YEAR_END_SLOT, preview, 1))
    return render(request, "associations/favourites.html", context)


def _year_end_preview(wallets, last_sweep, *, day) -> str:
    """The favourites page's year end (``version_and_year_end``'s answer), rendered once per
    what it shows: each wallet's balance, campaign and destination, the last sweep, the day."""
    shown = (
        day,
        tuple(
            (w.pk, w.balance, w.program.name, w.program.year, w.program.closes_on)
            + (w.sweep_to_id, w.sweep_to_name)
            for w in wallets
        ),
        last_sweep
        and (last_sweep.pk, last_sweep.given, last_sweep.association_id)
        + (last_sweep.association_name, last_sweep.wallet.program.name)
        + (last_sweep.wallet.program.year,),
    )
    return kept_html(
        YEAR_END_TEMPLATE,
        state=shown,
        context=lambda: _year_end_context(wallets, last_sweep, day=day),
    )


def _year_end_context(wallets, last_sweep, *, day) -> dict:
    return {"wallets": wallets, "last_sweep": last_sweep, "here": True, "today": day}


def _map_body(rows: list[list]) -> tuple[bytes, bytes]:
    """The map data, plain and gzipped (compressed once, when it is built)."""
    body = json.dumps(
        {"n": len(rows), "rows": rows}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    return body, gzip.compress(body, compresslevel=6)


# ``map_data``'s canonical filters, by query (bounded: any query string can be sent).
_map_filters = Kept(1024)


def user_with_directory_version(view):
    """Reads the request's user with the directory's version (``request.user.
    directory_version``), in one statement, when both come from the same database: without a
    replica. With one, the view reads the version from the database it reads its content
    from."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not replica_configured():
            read_user_with(request, DIRECTORY_VERSION)
        return view(request, *args, **kwargs)

    return wrapped


@user_with_directory_version
@login_required
@require_GET
@replica_reads
def map_data(request):
    """Markers as ``{"n": N, "rows": [[id, lat, lng, "name"], …]}``, cacheable.

    Compact on purpose (about 2,800 markers for the largest regional bank). The ETag names
    the state of what the markers show (``map_state_key``: the directory's version, kept by
    database triggers, the day, the member's regional bank and the filters), read in one
    primary-key query: a browser revalidating after ``max-age`` gets a 304 without a marker
    being read or hashed; without a replica, that version comes with the member's own row
    (``user_with_directory_version``). The body, plain and gzipped, is kept in the cache
    under that key, so members seeing the same markers share it; any write that can change
    the markers bumps the version, so the cache is never stale.
    """
    member = request.user
    version = getattr(member, "directory_version", None)
    if version is None:  # read without it (a replica configured), or the row is gone
        version = DirectoryVersion.current()
    # The canonical filters depend on the query and the option lists only (the directory's
    # version, the regional bank): worked out once per process for each short query, so a
    # browser's revalidation builds no form.
    query = request.META.get("QUERY_STRING", "")
    asked = (version, member.caisse_regionale_id, query) if len(query) <= MEMO_QUERY_MAX else None
    form = None
    filters = _map_filters.get(asked) if asked else None
    if filters is None:
        form = DirectoryFilterForm(request.GET, member=member, version=version)
        filters = directory_query_key(form)
        if asked:
            _map_filters.set(asked, filters)
    key, version, day = map_state_key(member, filters, version=version)
    meta = request.META  # not request.headers: that builds a dict of every header
    use_gzip = bool(ACCEPTS_GZIP.search(meta.get("HTTP_ACCEPT_ENCODING", "")))
    # One ETag per representation: a cache must not answer a gzip request with the plain body.
    etag = f'"{key}{"-gz" if use_gzip else ""}"'
    if meta.get("HTTP_IF_NONE_MATCH") == etag and not _other_preconditions(meta):
        # What a browser revalidating sends: its ETag alone, as given. Django's answer to
        # it, without parsing the header (a list, weak tags, dates: Django's, below).
        response = HttpResponseNotModified()
    else:
        response = get_conditional_response(request, etag=etag)
    if response is None:
        cache_key = f"map-data:{key}"
        bodies = cache.get(cache_key)
        if bodies is None:
            if form is None:
                form = DirectoryFilterForm(request.GET, member=member, version=version)
            markers = associations_visible_to(member, on=day).filter(form.condition())
            bodies = _map_body(map_rows(markers))
            # A write committed between the version read and the markers read shows in a
            # second read of the version: then the body is not stored under the first one.
            if DirectoryVersion.current() == version:
                cache.set(cache_key, bodies, MAP_DATA_CACHE_TIMEOUT)
            else:
                etag = None
        body, gzipped = bodies
        response = HttpResponse(gzipped if use_gzip else body, content_type="application/json")
        if use_gzip:
            response["Content-Encoding"] = "gzip"
    if etag:
        response["ETag"] = etag
    patch_cache_control(response, private=True, max_age=MAP_DATA_MAX_AGE)
    patch_vary_headers(response, ["Cookie", "Accept-Encoding"])
    return response


def _other_preconditions(meta) -> bool:
    """Whether a request has a precondition besides If-None-Match (Django's
    ``get_conditional_response`` weighs them)."""
    return any(
        name in meta
        for name in ("HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_MODIFIED_SINCE")
    )


class DetailCard(Card):
    """A card with what the association's page adds to it."""

    __slots__ = DETAIL_FIELDS[len(CARD_FIELDS) :]

    def __init__(self, row: dict, labels, figures):
        super().__init__(row, labels, figures)
        for name in self.__slots__:
            setattr(self, name, row[name])


def _card_content(
    request, pk, template_name: str, *, next_url: str, shown_projects: bool = False, **extra
):
    """``(html, row, figure rows)``: an association's card (``template_name``: the card
    alone, or the association's page) for a member who may see it, else 404, rendered as a
    cached fragment; the rows as ``read_figure_rows`` read them (with every project members
    see when ``shown_projects``: the association's page lists them).

    Two queries: user, then its figures and the member's favourite with the directory's
    version (``read_figure_rows``). Whether the member may see it and what its card says
    depend on the directory's state only: kept under that state in this process (else one
    cache read), with the rendered card (its figures are read first, shown only if the member
    may see it).
    """
    if len(str(pk)) > MAX_ID_DIGITS:
        raise Http404
    member = request.user
    day = timezone.localdate()
    # The directory's version read with the figures, in the same statement: the card's keys
    # name a state no older than what it shows (``tookets.fragments``' rule).
    version, rows = read_figure_rows(
        [pk],
        member=member,
        year=day.year,
        day=day,
        with_version=True,
        shown_projects=shown_projects,
    )
    version, day, state = directory_state(member, version=version, day=day)
    figures, favourite_id = figures_from_rows([pk], rows)
    # The URL the favourite form returns to is put in on the way out: no key holds a URL.
    content_state = (state, pk, figures[pk], favourite_id, sorted(extra.items()))
    found = kept_get_many([visible_row_key(state, pk), fragment_key(template_name, content_state)])
    row = visible_row(member, pk, state=state, day=day, found=found)
    if row is None:
        raise Http404(_("Cette association n’est pas visible pour vous."))

    def context():
        labels = card_labels(directory_options(member.caisse_regionale_id, version=version))
        association = DetailCard(row, labels, figures[pk])
        return {
            "association": association,
            "favourite_id": favourite_id,
            "next": NEXT_PLACEHOLDER,
            **extra,
        }

    html = cached_html(template_name, state=content_state, context=context, found=found)
    return with_csrf(request, with_next(html, next_url)), row, rows


@login_required
@require_GET
@replica_reads
def detail(request, pk):
    content, row, rows = _card_content(
        request,
        pk,
        "associations/_detail_content.html",
        next_url=request.get_full_path(),
        shown_projects=True,
    )
    # Its projects, read with its figures (live and ended), their list rendered once per
    # what it shows (each project's title, goal, raised and whether it is still live).
    projects = shown_projects_from_rows(pk, rows)
    projects_html = kept_html(
        "associations/_projects_list.html",
        state=(pk, tuple(projects)),
        context=lambda: {"projects": projects, "association_id": pk},
    )
    return render(
        request,
        "associations/detail.html",
        {"content": content, "name": row["name"], "projects": mark_safe(projects_html)},
    )


@login_required
@require_GET
@replica_reads
def card(request, pk):
    """The card alone, fetched by the map when a marker is opened."""
    content, _row, _rows = _card_content(
        request, pk, "associations/_card.html", next_url=safe_next(request)
    )
    return HttpResponse(content)


@login_required
@require_POST
def set_favourite(request):
    back = reverse("associations:favourites")
    association_id = int_or_none(request.POST.get("association"))
    if association_id is None:
        messages.error(request, _("Choisissez une association de la liste."))
        return redirect_to_next(request, back)
    try:
        favourite = cagnotte_services.set_favourite(
            member=request.user, association_id=association_id
        )
    except cagnotte_services.NotEligible:
        messages.error(
            request,
            _(
                "Cette association ne peut pas être votre favorite : elle n’est pas retenue "
                "cette année par votre Caisse régionale."
            ),
        )
        return redirect_to_next(request, back)
    messages.success(
        request,
        _("« %(name)s » est maintenant votre association favorite.")
        % {"name": favourite.association.name},
    )
    return redirect_to_next(request, back)
