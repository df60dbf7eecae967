"""Reads off a streaming replica, for the pages that tolerate a second of lag.

With ``REPLICA_DATABASE_URL`` set, settings add a ``replica`` alias. A view marked
``@replica_reads`` (the directory, the map data, an association's page and card, the public
results, the staff dashboard) reads from it; everything else reads from the primary:

* every write (``db_for_write`` is always the primary);
* every read inside a transaction open on the primary (a service's lock, re-check, write);
* the pages of a member who wrote in the last ``REPLICA_READ_YOUR_WRITES`` seconds: any POST
  (a gift, a favourite, a login) leaves a cookie with its time, and while it is fresh that
  member's pages read the primary, so they see their own write at once (read-your-writes);
* Celery tasks, commands, the admin (apart from the dashboard's view) and the session and
  user lookups made before the view runs: nothing marks them.

A replica that is down or further behind than ``REPLICA_MAX_LAG`` seconds is left alone: a
probe (one query on the replica, and one on the primary for the lag it measures in
``pg_stat_replication``) runs at most every ``REPLICA_PROBE_EVERY`` seconds per process. When
the replica does not answer, or a page's query on it fails mid-page, the page is served again
from the primary and the replica is not tried for ``REPLICA_RETRY`` seconds. No 500 for a
replica outage; /sante/ tells a trusted caller ``replica: degraded`` and why (down, or its
lag).

Raw SQL that reads on those pages asks ``read_connection(Model)`` for its cursor (the
directory's version, the staff's states, the figures), so a state and the content it keys
come from one database.

Without ``REPLICA_DATABASE_URL`` nothing changes: the router answers None (Django's default)
and no cookie is set.
"""

import functools
import logging
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, router

logger = logging.getLogger(__name__)

REPLICA = "replica"
WROTE_COOKIE = "tk_wrote"

# Set by @replica_reads for the length of one view: its reads may go to the replica.
_replica_allowed: ContextVar[bool] = ContextVar("replica_allowed", default=False)

# On the replica: it answers (it is up and a standby), and an upper bound of its lag: 0 when
# it has replayed all it received, else the time since the last transaction it replayed (more
# than the lag when the WAL it is replaying holds no commit: a vacuum, a checkpoint). 0 on a
# primary (the test mirror, a replica promoted).
REPLICA_LAG_SQL = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
    END
"""
# On the primary: the lag it measures for that standby (written, flushed and replayed; NULL
# once caught up and idle). Visible to a role with pg_monitor (or a superuser); without it
# no row comes back and the replica's own bound above is used.
PRIMARY_LAG_SQL = """
    SELECT COALESCE(EXTRACT(EPOCH FROM max(replay_lag)), 0) FROM pg_stat_replication
    WHERE application_name = %s AND state = 'streaming' HAVING count(*) > 0
"""


def is_configured() -> bool:
    return REPLICA in connections.settings


def read_connection(model):
    """The connection the router picks to read ``model``: for raw SQL that reads, which
    ``django.db.connection`` would send to the primary whatever the page.

    A cache keyed by a state (a version read, then the content, then the version again to see
    that it did not move) is exact only if the version and the content come from the same
    database: a version from the primary over content from a lagging replica would keep old
    content under the new version's key.
    """
    return connections[router.db_for_read(model) or DEFAULT_DB_ALIAS]


@dataclass
class _State:
    """What this process last learnt of the replica (one per process, shared by threads)."""

    checked_at: float = -1e9
    usable: bool = True
    lag: float | None = None
    error: str = ""


_state = _State()
_probe_lock = threading.Lock()


def reset_state() -> None:
    """Forget what was learnt (tests, and a replica reconfigured)."""
    global _state
    _state = _State()


def probe() -> _State:
    """Ask the replica its lag now, from this thread's connection; record and return it."""
    state = _State(checked_at=time.monotonic())
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(REPLICA_LAG_SQL)
            state.lag = float(cursor.fetchone()[0])
        if state.lag > 0:  # behind or not: the primary knows better
            state.lag = _lag_seen_by_primary(default=state.lag)
        state.usable = state.lag <= settings.REPLICA_MAX_LAG
        if not state.usable:
            state.error = f"lag {state.lag:.1f} s"
    except (OperationalError, InterfaceError) as exc:
        _forget_connection()
        state.usable, state.error = False, "down"
        logger.warning("replica unavailable, reading from the primary: %s", exc)
    global _state
    _state = state
    return state


def _lag_seen_by_primary(*, default: float) -> float:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(PRIMARY_LAG_SQL, [settings.REPLICA_APPLICATION_NAME])
            row = cursor.fetchone()
    except (OperationalError, InterfaceError):  # the primary's own trouble shows elsewhere
        return default
    return default if row is None else float(row[0])


def _forget_connection() -> None:
    try:
        connections[REPLICA].close()
    except Exception:  # a dead connection may fail to close: it is gone either way
        pass


def _replica_usable() -> bool:
    state = _state
    # A replica found down is left alone longer than one found behind (it catches up).
    wait = settings.REPLICA_RETRY if state.error == "down" else settings.REPLICA_PROBE_EVERY
    if time.monotonic() - state.checked_at < wait:
        return state.usable
    # One thread probes; the others go on with what is known meanwhile.
    if not _probe_lock.acquire(blocking=False):
        return state.usable
    try:
        return probe().usable
    finally:
        _probe_lock.release()


def wrote_recently(request) -> bool:
    """Did this browser post something in the last REPLICA_READ_YOUR_WRITES seconds?"""
    stamp = request.COOKIES.get(WROTE_COOKIE)
    if stamp is None:
        return False
    try:
        wrote_at = float(stamp)
    except ValueError:
        return True  # unreadable: the safe side is the primary
    return time.time() - wrote_at < settings.REPLICA_READ_YOUR_WRITES


def replica_reads(view):
    """Let this view's reads go to the replica (module docstring: when they do not)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_configured() or wrote_recently(request) or not _replica_usable():
            return view(request, *args, **kwargs)
        token = _replica_allowed.set(True)
        try:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # a TemplateResponse: its reads happen here, not later
            return response
        except (OperationalError, InterfaceError):
            # The replica went down mid-page, or cancelled a query (a conflict with its
            # replay), or the primary failed: the page again from the primary, which fails
            # as it would have without a replica if the primary was the cause. The probe
            # records whether the replica is up for the next pages.
            probe()
            _replica_allowed.set(False)
            return view(request, *args, **kwargs)
        finally:
            _replica_allowed.reset(token)

    return wrapped


class ReplicaRouter:
    """Sends a read to the replica only inside ``@replica_reads`` and outside a transaction."""

    def db_for_read(self, model, **hints):
        if not is_configured():
            return None
        if _replica_allowed.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        # Explicit: an object read from the replica (kept in a cache, say) must not take its
        # related lookups there from a page that may not use it.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS if is_configured() else None

    def allow_relation(self, obj1, obj2, **hints):
        return True if is_configured() else None  # one database, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA  # the replica follows the primary's schema by replication


class ReadYourWritesMiddleware:
    """After a POST (or any unsafe method), the browser carries the time it wrote for
    REPLICA_READ_YOUR_WRITES seconds; ``@replica_reads`` reads the primary meanwhile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and is_configured():
            response.set_cookie(
                WROTE_COOKIE,
                f"{time.time():.3f}",
                max_age=max(1, round(settings.REPLICA_READ_YOUR_WRITES)),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
