import gzip
import json
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from associations.filters import MODE_LIST, MODE_MAP, DirectoryFilterForm
from associations.selectors import (
    associations_visible_to,
    directory_counts,
    favourite_association_id,
    map_fingerprint,
    map_rows,
    search_suggestions,
    visible_association_or_none,
)
from cagnotte import services as cagnotte_services
from cagnotte.selectors import association_figures
from tookets.http import int_or_none, redirect_to_next, safe_next

PER_PAGE = 20
MAP_DATA_MAX_AGE = 60  # seconds a browser reuses the markers before revalidating (ETag)
# The cached body is keyed by the markers' digest, so this only bounds the memory that bodies
# of past states take; it is never a staleness window.
MAP_DATA_CACHE_TIMEOUT = 60 * 60
ACCEPTS_GZIP = re.compile(r"\bgzip\b")  # as django.middleware.gzip reads Accept-Encoding


def _with_figures(associations):
    """Attach the card figures (supporters, totals) in two queries whatever the page size."""
    figures = association_figures(association_ids=[a.pk for a in associations])
    for association in associations:
        association.figures = figures[association.pk]
    return associations


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
        "tilesUrl": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "center": center,
        "bounds": bounds,
        "labels": {
            "zoomIn": _("Zoom avant"),
            "zoomOut": _("Zoom arrière"),
            # %s is the number of associations grouped under one marker
            "cluster": _("%s associations, agrandir"),
        },
    }


def _directory_context(request):
    """Filters, counts and either a page of cards (list) or the map's settings (map).

    A constant number of queries whatever the number of associations and the filters:
    session, user, three option lists, one count, then (list) one page, two figures, one
    favourite.
    """
    member = request.user
    visible = associations_visible_to(member)
    form = DirectoryFilterForm(request.GET, member=member)
    condition = form.condition()
    total, matching = directory_counts(visible, condition)
    context = {"form": form, "total": total, "matching": matching, "mode": form.mode}
    searched = form.cleaned_data.get("q") or ""
    if searched and not matching:
        # Nothing matched: one more query for the closest names (a typo still leads somewhere).
        context["suggestions"] = search_suggestions(visible, searched)
    if form.mode == MODE_MAP:
        context["map_config"] = _map_config(request, form)
        context["list_query"] = form.query_string(vue=MODE_LIST)
    else:
        paginator = Paginator(
            visible.filter(condition)
            .select_related("activity", "domain", "caisse_locale")
            .order_by("name", "pk"),
            PER_PAGE,
        )
        paginator.count = matching  # already counted above, with the total
        page = paginator.get_page(request.GET.get("page"))
        _with_figures(page.object_list)
        context.update(
            page=page,
            favourite_id=favourite_association_id(member),
            page_query=form.query_string(),
            map_query=form.query_string(vue=MODE_MAP),
        )
    return context


@login_required
@require_GET
def directory(request):
    context = _directory_context(request)
    return render(request, "associations/directory.html", context)


@login_required
@require_GET
def favourites(request):
    context = _directory_context(request)
    if "favourite_id" in context:
        favourite_id = context["favourite_id"]
    else:
        favourite_id = favourite_association_id(request.user)
    favourite = (
        visible_association_or_none(request.user, association_id=favourite_id)
        if favourite_id
        else None
    )
    if favourite is not None:
        _with_figures([favourite])
    context.update(favourite=favourite, favourite_id=favourite_id)
    return render(request, "associations/favourites.html", context)


def _map_body(rows: list[list]) -> tuple[bytes, bytes]:
    """The map data, plain and gzipped (compressed once, when it is built)."""
    body = json.dumps(
        {"n": len(rows), "rows": rows}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    return body, gzip.compress(body, compresslevel=6)


@login_required
@require_GET
def map_data(request):
    """Markers as ``{"n": N, "rows": [[id, lat, lng, "name"], …]}``, cacheable.

    Compact on purpose (about 2,800 markers for the largest regional bank). The ETag is the
    digest of the markers (``map_fingerprint``, one query): a browser revalidating after
    ``max-age`` gets a 304 without anything else being read. The body, plain and gzipped, is
    kept in the cache under that digest, so members seeing the same markers share it and any
    change to the markers is a new key: the cache is never stale.
    """
    visible = associations_visible_to(request.user)
    form = DirectoryFilterForm(request.GET, member=request.user)
    markers = visible.filter(form.condition())
    fingerprint, rows = map_fingerprint(markers)
    use_gzip = bool(ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))
    # One ETag per representation: a cache must not answer a gzip request with the plain body.
    etag = f'"{fingerprint}{"-gz" if use_gzip else ""}"'
    response = get_conditional_response(request, etag=etag)
    if response is None:
        key = f"map-data:{fingerprint}"
        bodies = cache.get(key)
        if bodies is None:
            read_now = rows is None
            bodies = _map_body(map_rows(markers) if read_now else rows)
            # The rows were read after the digest: keep them only if the markers did not
            # change in between, so a key never holds another state's body.
            if not read_now or map_fingerprint(markers)[0] == fingerprint:
                cache.set(key, bodies, MAP_DATA_CACHE_TIMEOUT)
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


def _card_context(request, pk):
    association = visible_association_or_none(request.user, association_id=pk)
    if association is None:
        raise Http404(_("Cette association n’est pas visible pour vous."))
    _with_figures([association])
    return {
        "association": association,
        "favourite_id": favourite_association_id(request.user),
    }


@login_required
@require_GET
def detail(request, pk):
    return render(request, "associations/detail.html", _card_context(request, pk))


@login_required
@require_GET
def card(request, pk):
    """The card alone, fetched by the map when a marker is opened."""
    context = _card_context(request, pk)
    context["next"] = safe_next(request)
    return render(request, "associations/_card.html", context)


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
