"""Values read from a request, checked once where they enter.

- ``client_ip``: the client address, from a configured number of trusted proxies. django-axes
  (``AXES_CLIENT_IP_CALLABLE``) and django-ratelimit (``RATELIMIT_IP_META_KEY``) both call it,
  so the lockout records and the per-address limit see the same address.
- ``safe_next``: a ``next`` parameter that is a local path, or nothing. Never handed to
  ``redirect()`` as is: ``redirect("abc")`` takes a string without ``/`` or ``.`` for a URL
  name and raises ``NoReverseMatch`` (a 500), and ``redirect("admin:index")`` reverses it.
- ``RejectNulMiddleware``: a NUL byte anywhere in the path, the query, a form or a cookie is
  a 400 before any view runs: PostgreSQL cannot store or compare it in text, and every query
  built from such a value (an admin filter, a search) failed with a DataError (a 500).
- ``PermissionsPolicyMiddleware``: every browser feature the site does not use, denied.
- ``PrivatePagesMiddleware``: ``Cache-Control: private, no-store`` on every page made for
  the person asking.
- ``ascii_digits`` / ``int_or_none``: ``str.isdigit()`` accepts « ² », « ١ » or fullwidth
  digits, which ``int()`` refuses or reads as other digits; only ASCII digits are digits here.
"""

import ipaddress

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.utils.cache import cc_delim_re, patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme

_CLIENT_IP_ATTR = "_tookets_client_ip"
# Far above any id of ours; keeps hostile values (a million digits) out of int() and the
# database (PostgreSQL's bigint stops at 9.2e18).
MAX_ID_DIGITS = 18
MAX_NEXT_LENGTH = 2000


def _parse_address(value: str) -> str | None:
    """A proxy's entry as a normalised IP address (port and IPv6 brackets dropped), or None."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request) -> str:
    """The address of the client, as the outermost trusted proxy saw it.

    With ``TRUSTED_PROXY_COUNT = 0`` (no proxy) it is ``REMOTE_ADDR``. Behind N proxies, each
    appends the address it received the connection from to ``X-Forwarded-For``; the client's
    is the N-th from the right, the one the outermost trusted proxy appended. Whatever a
    client writes itself lands on the left of it and is never read, so forging the header
    neither moves an attacker to another address nor charges someone else's.

    A header shorter than N (a request that did not cross every proxy) gives its left-most
    entry, which a trusted proxy still wrote; an unreadable entry gives ``REMOTE_ADDR``.
    """
    cached = getattr(request, _CLIENT_IP_ATTR, None)
    if cached is not None:
        return cached
    remote = request.META.get("REMOTE_ADDR") or ""
    address = remote
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        # Several X-Forwarded-For headers arrive joined by commas (WSGI): one list.
        entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if entries:
            chosen = entries[-count] if len(entries) >= count else entries[0]
            address = _parse_address(chosen) or remote
    setattr(request, _CLIENT_IP_ATTR, address)
    return address


def safe_next(request, default: str = "") -> str:
    """The posted or queried ``next`` when it is a path on this site, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if (
        candidate
        and len(candidate) <= MAX_NEXT_LENGTH
        # A control character (NUL, a newline) cannot go into a Location header.
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in candidate)
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return default


def redirect_to_next(request, default: str) -> HttpResponseRedirect:
    """Redirect to a safe ``next``, else to ``default`` (a URL, never a URL name)."""
    return HttpResponseRedirect(safe_next(request, default))


def ascii_digits(value) -> bool:
    """True for a non-empty string of ASCII digits only (not « ² », « ١ », « ３ »)."""
    return isinstance(value, str) and value != "" and value.isascii() and value.isdigit()


def int_or_none(value, *, max_digits: int = MAX_ID_DIGITS) -> int | None:
    """A positive-or-zero integer written in ASCII digits, else None (an id, a position)."""
    if not ascii_digits(value) or len(value) > max_digits:
        return None
    return int(value)


def _has_nul(values) -> bool:
    return any("\x00" in key or any("\x00" in v for v in vals) for key, vals in values)


class RejectNulMiddleware:
    """400 for a request carrying a NUL byte (see the module docstring): no text of ours has one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or _has_nul(request.GET.lists())
            or _has_nul((k, [v]) for k, v in request.COOKIES.items())
            or (request.method == "POST" and _has_nul(request.POST.lists()))
        ):
            return HttpResponseBadRequest(
                "Requête invalide : caractère nul.", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


# The site uses none of these (the map needs no position: it opens on the member's regional
# bank). Only names Chromium knows: an unknown one is a console error on every page.
DENIED_FEATURES = (
    "accelerometer",
    "autoplay",
    "bluetooth",
    "camera",
    "display-capture",
    "encrypted-media",
    "fullscreen",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "picture-in-picture",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
)
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES)


class PermissionsPolicyMiddleware:
    """Deny every feature above to the site and to anything it might embed: a script slipped
    into a page could not open the camera or ask for the position in the site's name."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on every response made for the person asking: a
    logged-in user's (a balance, a member's, an association's or staff data), or a page
    carrying a CSRF token (a form: the login with its remembered identifier and keypad, the
    registration) — a token that a shared cache would hand to the next visitor. Neither a
    proxy nor the back button of a shared computer may keep them. Public pages (home, results)
    and static files stay cacheable.

    ``Vary: Cookie`` cannot tell them apart: every page reads the session to know whether
    someone is logged in. A response that already says ``private`` keeps its own policy (the
    map's markers, revalidated by ETag: the regional bank's associations, nothing personal).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        said = cc_delim_re.split(response.get("Cache-Control", ""))
        if "private" in {directive.split("=")[0].strip().lower() for directive in said}:
            return response
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.META.get(
            "CSRF_COOKIE_NEEDS_UPDATE"
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response
