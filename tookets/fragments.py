"""Rendered fragments kept in the cache under a key that names everything they show.

A member page spends most of its time in Python, not in PostgreSQL: the ORM compiling its
queries and the templates rendering. Its main content is the same for every request of the
same state, so it is rendered once per state and kept in the cache (Redis in production),
under a key made of the state itself — the directory's version, the day, a wallet's entry
count, the figures read for the page — never under a name invalidated by code: a state
nobody wrote a signal for cannot be forgotten, since the key *is* the data or a version the
database bumps in the writer's own transaction. A new state is a new key; the timeout only
bounds the memory that past states take.

Rules for a fragment:

* it is rendered without a request (``render_to_string(…, request=None)``): no context
  processor, so everything it shows comes from the context the caller passes, which must be
  derived from the key;
* its CSRF token is the only per-request part: the fragment is rendered with a placeholder
  that is replaced by this request's token on the way out (the same masked token
  ``{% csrf_token %}`` writes in the rest of the page: ``request_csrf_token``, and the CSRF
  cookie is set as it would be);
* the state is read *before* the data the fragment shows, so the data is at least as new as
  its key: a write committed in between is shown under the older key, never the reverse.

With the cache down (django-redis ignores the error), every request renders: slower, exact.
"""

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

FRAGMENT_TIMEOUT = 60 * 60  # seconds; bounds memory only: the key names the state
# What a fragment's {% csrf_token %} (and the directory's card forms) write in place of the
# request's token; unguessable in content (no user input can produce it: it is not escaped-safe
# text a form would echo, and it is replaced only in the cached template output).
CSRF_PLACEHOLDER = "csrf-6f1c0d2e9b7a4e58a3d1-placeholder"


def fragment_key(name: str, state) -> str:
    """The cache key of fragment ``name`` in ``state`` (any ``repr``-able value) and the
    active language."""
    raw = f"{get_language()}|{state!r}"
    return f"fragment:{name}:{hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()}"


_every_kept: "weakref.WeakSet[Kept]" = weakref.WeakSet()


class Kept:
    """A bounded, thread-safe, least-recently-used map in this process's memory."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        _every_kept.add(self)

    def get(self, key: str):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: str, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# The hottest values kept under a key that names their state (a page's plan, a whole page of
# cards), also in this process: a key that names the data can never hold a stale value, so a
# copy in memory is as exact as the cache's and saves its round trip. Bounded in entries
# (a directory page is about 35 KB: some 20 MB at most per process).
KEPT_IN_PROCESS = 512
_kept = Kept(KEPT_IN_PROCESS)


def kept_get(key: str):
    """The value under ``key`` (a key naming its state: see the module), from this process's
    memory, else from the cache (then kept in memory too); None when neither has it. The
    value is shared: callers must not change it."""
    value = _kept.get(key)
    if value is None:
        value = cache.get(key)
        if value is not None:
            _kept.set(key, value)
    return value


def kept_get_many(keys) -> dict:
    """``{key: value}`` for those of ``keys`` (keys naming their state) found in this
    process's memory, else in the cache — one round trip for all those memory lacks, none
    when it has them all; what the cache gives is kept in memory too."""
    found, missing = {}, []
    for key in keys:
        value = _kept.get(key)
        if value is None:
            missing.append(key)
        else:
            found[key] = value
    if missing:
        for key, value in (cache.get_many(missing) or {}).items():
            if value is not None:
                _kept.set(key, value)
                found[key] = value
    return found


def kept_set(key: str, value, timeout=FRAGMENT_TIMEOUT) -> None:
    """``value`` under ``key`` in the cache and in this process's memory (``kept_get``)."""
    cache.set(key, value, timeout)
    _kept.set(key, value)


def forget_kept() -> None:
    """Empty this process's copies, every ``Kept`` (the tests, whose databases start over
    and so may name two states alike, call it with ``cache.clear()``)."""
    for kept in list(_every_kept):
        kept.clear()


def cached_html(
    template_name: str,
    *,
    state,
    context: Callable[[], dict],
    timeout=None,
    found: dict | None = None,
) -> str:
    """``template_name`` rendered with ``context()`` once per ``state``, CSRF placeholder
    left in (``with_csrf`` puts the request's token in). ``context`` is called only on a
    miss: the queries it runs are saved on a hit.

    ``found``: what a ``cache.get_many`` that asked for this fragment's key
    (``fragment_key(template_name, state)``) with others answered — one round trip for
    several fragments; the fragment is then not read again."""
    key = fragment_key(template_name, state)
    html = found.get(key) if found is not None else cache.get(key)
    if html is None:
        html = render_to_string(template_name, {**context(), "csrf_token": CSRF_PLACEHOLDER})
        cache.set(key, html, FRAGMENT_TIMEOUT if timeout is None else timeout)
    return html


def kept_html(template_name: str, *, state, context: Callable[[], dict]) -> str:
    """``cached_html`` through this process's memory first (``kept_get``): for a small
    fragment on a hot page, where the cache's round trip costs as much as the rendering."""
    key = fragment_key(template_name, state)
    html = kept_get(key)
    if html is None:
        html = render_to_string(template_name, {**context(), "csrf_token": CSRF_PLACEHOLDER})
        kept_set(key, html)
    return html


def request_csrf_token(request) -> str:
    """This request's CSRF token, masked once per request and secret: what the page's own
    forms (``csrf_context``) and its cached fragments' (``with_csrf``) carry. Django masks
    the token anew at each ``get_token`` call (a different string in every response, against
    BREACH) and one template's forms already share one; masking it again for the fragments of
    the same response cost a directory page as much as its cards' cache read."""
    secret = request.META.get("CSRF_COOKIE")
    kept = getattr(request, "_tookets_csrf", None)
    if kept is None or secret is None or kept[0] != secret:  # new, or rotated (a login)
        token = get_token(request)
        request._tookets_csrf = kept = (request.META.get("CSRF_COOKIE"), token)
    return kept[1]


def csrf_context(request) -> dict:
    """Context processor, after Django's built-in one, whose ``csrf_token`` it replaces by
    ``request_csrf_token``'s (lazily, as Django's: a page without a form masks nothing)."""
    return {"csrf_token": SimpleLazyObject(lambda: request_csrf_token(request))}


def with_csrf(request, html: str) -> SafeString:
    """Cached HTML with this request's CSRF token in place of the placeholder."""
    if CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, request_csrf_token(request))
    return mark_safe(html)


def render_fragment(
    request,
    template_name: str,
    *,
    state,
    context: Callable[[], dict],
    timeout: int = FRAGMENT_TIMEOUT,
) -> SafeString:
    """``template_name`` rendered with ``context()``, once per ``state``, with this request's
    CSRF token.

    ``state`` must determine what ``context()`` returns (see the module's rules).
    """
    html = cached_html(template_name, state=state, context=context, timeout=timeout)
    return with_csrf(request, html)
