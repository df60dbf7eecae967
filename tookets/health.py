"""``/sante/``: what the load balancer and docker compose ask before sending traffic.

200 as long as the database answers — the site works without Redis, only slower — and 503
when it does not. Answered by a middleware placed first, so neither the host check, the HTTPS
redirect nor the session (all of which may depend on what is being checked) stands in the way
of a probe sent to the container's own address.

Anyone may ask, so anyone gets the bare status (``ok`` or ``down``, in plain text). The
details — each optional service ``ok`` or ``degraded`` (the read replica too, with its lag,
when one is configured), the outbox's backlog — tell an attacker which part of the site is
weak: only a trusted caller gets them, one sending the
``X-Health-Token`` header equal to ``HEALTH_TOKEN`` (compared in constant time), or a process
on the same machine (docker compose's healthcheck, an operator's ``curl`` inside the
container): a loopback address with no ``X-Forwarded-For``, since a proxy on the same machine
forwards every client from the loopback but adds that header.
"""

import hmac
import ipaddress
import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse

from tookets import db_router, outbox
from tookets.celery import app as celery_app

logger = logging.getLogger(__name__)

PATH = "/sante/"
OK, DEGRADED, DOWN = "ok", "degraded", "down"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == PATH and request.method in ("GET", "HEAD"):
            return health_response() if is_trusted(request) else bare_response()
        return self.get_response(request)


def is_trusted(request) -> bool:
    """May this caller read the details (see the module docstring)?"""
    token = settings.HEALTH_TOKEN
    sent = request.headers.get("X-Health-Token", "")
    if token and sent and hmac.compare_digest(sent.encode(), token.encode()):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "").is_loopback
    except ValueError:
        return False


def bare_response() -> HttpResponse:
    """What the load balancer needs: the status code, and a word for a human reading it."""
    up = check_database() == OK
    response = HttpResponse(
        OK if up else DOWN, status=200 if up else 503, content_type="text/plain; charset=utf-8"
    )
    response["Cache-Control"] = "no-store"
    return response


def health_response() -> JsonResponse:
    report = {"database": check_database()}
    if report["database"] == OK:
        report["cache"] = check_cache()
        report["broker"] = check_broker()
        if db_router.is_configured():
            report.update(check_replica())
        try:
            report["outbox"] = outbox.pending_summary()
        except Exception:  # the database answered a moment ago; say so rather than fail
            logger.exception("health: outbox summary failed")
    services = [report[k] for k in ("database", "cache", "broker", "replica") if k in report]
    report["status"] = (
        DOWN
        if report["database"] != OK
        else OK
        if all(s in (OK, "eager") for s in services)
        else DEGRADED
    )
    response = JsonResponse(report, status=503 if report["status"] == DOWN else 200)
    response["Cache-Control"] = "no-store"
    return response


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health: the database does not answer")
        # A broken connection stays broken: the next probe opens a new one.
        connection.close()
        return DOWN
    return OK


def check_replica() -> dict:
    """``replica``: ``ok``, or ``degraded`` when it is down or further behind than
    REPLICA_MAX_LAG (the pages read from the primary meanwhile, tookets/db_router.py), with
    its lag and why. Asked now; this process's pages go by the answer until the next probe."""
    state = db_router.probe()
    report = {
        "replica": OK if state.usable else DEGRADED,
        "replica_lag_seconds": None if state.lag is None else round(state.lag, 3),
    }
    if state.error:
        report["replica_error"] = state.error  # "down" or "lag 3.2 s"
    return report


def check_cache() -> str:
    # The Redis cache swallows its errors (a miss), so a written value read back is the test.
    key = f"health:{uuid.uuid4().hex}"
    try:
        cache.set(key, 1, 10)
        ok = cache.get(key) == 1
        cache.delete(key)
    except Exception:
        ok = False
    return OK if ok else DEGRADED


def check_broker() -> str:
    if celery_app.conf.task_always_eager:
        return "eager"  # no broker configured: tasks run in-process
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
            client = getattr(conn.default_channel, "client", None)
            if client is not None:  # Redis connects lazily: ask it something
                client.ping()
    except Exception:
        return DEGRADED
    return OK
