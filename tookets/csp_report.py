"""Content-Security-Policy violations, reported by browsers and logged.

Browsers post a report when the policy blocks something: with ``report-uri`` one JSON object
``{"csp-report": {...}}`` (``application/csp-report``), with ``report-to`` (the Reporting API)
a list of ``{"type": "csp-violation", "body": {...}}`` (``application/reports+json``). Both
come here, without a CSRF token (a browser sends none) and from anyone, so the endpoint reads
at most ``MAX_REPORT_BYTES``, logs a few short fields per violation on ``tookets.csp``, and is
rate-limited per client address: a flood costs a log line a report up to the limit, then
nothing. It always answers 204 (a browser ignores the answer; an attacker learns nothing).
"""

from __future__ import annotations

import json
import logging

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

logger = logging.getLogger("tookets.csp")

MAX_REPORT_BYTES = 16 * 1024  # a real report is well under 2 KiB
MAX_REPORTS_PER_BODY = 10
MAX_FIELD_CHARS = 200
# What a violation says that helps find its cause; nothing else of the body is logged.
LOGGED_FIELDS = {
    # report-uri name: Reporting API name
    "document-uri": "documentURL",
    "violated-directive": "effectiveDirective",
    "blocked-uri": "blockedURL",
    "source-file": "sourceFile",
    "line-number": "lineNumber",
    "disposition": "disposition",
}


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, also naming the endpoint the policy's ``report-to`` refers
    to (``Reporting-Endpoints``), on the responses that carry a policy."""

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if response.has_header("Content-Security-Policy"):
            response.headers["Reporting-Endpoints"] = f'csp="{settings.CSP_REPORT_PATH}"'
        return response


def _short(value) -> str:
    text = str(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text[:MAX_FIELD_CHARS]


def _violations(payload) -> list[dict]:
    """The violation bodies of either format, reduced to ``LOGGED_FIELDS`` (report-uri names)."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        bodies = [(payload["csp-report"], False)]
    elif isinstance(payload, list):
        bodies = [
            (report["body"], True)
            for report in payload[:MAX_REPORTS_PER_BODY]
            if isinstance(report, dict)
            and report.get("type") == "csp-violation"
            and isinstance(report.get("body"), dict)
        ]
    else:
        return []
    violations = []
    for body, reporting_api in bodies:
        violations.append(
            {
                name: _short(body[key])
                for name, api_name in LOGGED_FIELDS.items()
                if (key := api_name if reporting_api else name) in body
            }
        )
    return violations


def _read_body(request) -> bytes | None:
    """At most ``MAX_REPORT_BYTES`` of the body; None when it says or proves to be longer."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if declared > MAX_REPORT_BYTES:
        return None
    body = request.read(MAX_REPORT_BYTES + 1)
    return None if len(body) > MAX_REPORT_BYTES else body


@csrf_exempt
@require_POST
@ratelimit(
    group="tookets.csp_report",
    key="ip",
    rate=lambda group, request: settings.CSP_REPORT_RATE,
    block=False,
)
def csp_report(request):
    if getattr(request, "limited", False):
        return HttpResponse(status=204)
    body = _read_body(request)
    if body is None:
        logger.warning("CSP report refused: body over %d bytes", MAX_REPORT_BYTES)
        return HttpResponse(status=204)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return HttpResponse(status=204)
    for violation in _violations(payload):
        logger.warning(
            "CSP violation: %s",
            " ".join(f"{name}={value!r}" for name, value in violation.items()),
        )
    return HttpResponse(status=204)
