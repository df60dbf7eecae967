"""How long a login is blocked: per identifier (django-axes) and per client address.

django-axes locks an identifier (regional bank + account number) after
``AXES_FAILURE_LIMIT`` wrong codes for ``AXES_COOLOFF_TIME``. django-ratelimit counts the wrong
codes coming from one client address, whatever the identifiers, and blocks that address for
the rest of the window once ``LOGIN_RATE_PER_ADDRESS`` is reached.
"""

import datetime
import logging
import math

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django_ratelimit.core import get_usage

_ADDRESS_GROUP = "accounts.login.address"
logger = logging.getLogger(__name__)


def identifier_lock_remaining(username: str | None) -> datetime.timedelta:
    """Time left before a locked identifier may try again (the full cool-off if unknown)."""
    cool_off = get_cool_off()
    if not username:
        return cool_off
    latest = AccessAttempt.objects.filter(username=username).aggregate(t=Max("attempt_time"))["t"]
    if latest is None:
        return cool_off
    return max(latest + cool_off - timezone.now(), datetime.timedelta(0))


def _address_usage(request, *, increment: bool):
    # None: the cache (Redis) could not count, and RATELIMIT_FAIL_OPEN lets the attempt
    # through; the identifier lockout, kept in the database, still holds.
    usage = get_usage(
        request,
        group=_ADDRESS_GROUP,
        key="ip",
        rate=settings.LOGIN_RATE_PER_ADDRESS,
        increment=increment,
    )
    if usage is None:
        logger.warning("per-address login limit not applied: the cache does not answer")
    return usage


def address_lock_remaining(request) -> datetime.timedelta | None:
    """Time left when this client address has used up its wrong codes, else None."""
    usage = _address_usage(request, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return None
    return datetime.timedelta(seconds=max(usage["time_left"], 1))


def count_address_failure(request) -> None:
    _address_usage(request, increment=True)


def minutes(delta: datetime.timedelta) -> int:
    """Whole minutes, rounded up, at least one: what the lockout page tells."""
    return max(1, math.ceil(delta.total_seconds() / 60))
