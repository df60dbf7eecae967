"""Heartbeat files for the worker and beat, read by docker compose's healthchecks.

The worker touches ``CELERY_HEARTBEAT_FILE`` from its own timer (driven by the event loop
that consumes tasks, so a stuck or disconnected worker stops touching it); beat touches it on
every tick of its scheduler. ``python -m tookets.heartbeat FILE MAX_AGE`` exits 1 when the file
is older than MAX_AGE seconds, without importing Django (a healthcheck runs every few seconds).
"""

import os
import sys
import time
from pathlib import Path

from celery import bootsteps
from celery.beat import PersistentScheduler

WORKER_INTERVAL_SECONDS = 10


def touch(path: str) -> None:
    if path:
        Path(path).touch()


def is_fresh(path: str, max_age: float) -> bool:
    try:
        return time.time() - os.path.getmtime(path) <= max_age
    except OSError:
        return False


class WorkerHeartbeat(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.path = worker.app.conf.get("heartbeat_file") or ""
        self.tref = None

    def start(self, worker):
        if self.path:
            touch(self.path)
            self.tref = worker.timer.call_repeatedly(
                WORKER_INTERVAL_SECONDS, touch, (self.path,), priority=10
            )

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler, touching the heartbeat file on each tick."""

    def tick(self, *args, **kwargs):
        touch(self.app.conf.get("heartbeat_file") or "")
        return super().tick(*args, **kwargs)


if __name__ == "__main__":
    file, max_age = sys.argv[1], float(sys.argv[2])
    sys.exit(0 if is_fresh(file, max_age) else 1)
