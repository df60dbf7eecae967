"""``/sante/``: what the load balancer and docker compose ask before sending traffic.

200 as long as the database answers — the site works without Redis, only slower — with each
optional service said ``ok`` or ``degraded``; 503 when the database does not answer. Answered
by a middleware placed first, so neither the host check, the HTTPS redirect nor the session
(all of which may depend on what is being checked) stands in the way of a probe sent to the
container's own address.
"""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from tookets import outbox
from tookets.celery import app as celery_app

logger = logging.getLogger(__name__)

PATH = "/sante/"
OK, DEGRADED, DOWN = "ok", "degraded", "down"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == PATH and request.method in ("GET", "HEAD"):
            return health_response()
        return self.get_response(request)


def health_response() -> JsonResponse:
    report = {"database": check_database()}
    if report["database"] == OK:
        report["cache"] = check_cache()
        report["broker"] = check_broker()
        try:
            report["outbox"] = outbox.pending_summary()
        except Exception:  # the database answered a moment ago; say so rather than fail
            logger.exception("health: outbox summary failed")
    services = [report[k] for k in ("database", "cache", "broker") if k in report]
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
