"""Heartbeat files for the worker and beat, read by docker compose's healthchecks.

The worker touches ``CELERY_HEARTBEAT_FILE`` from its own timer (driven by the event loop
that consumes tasks, so a stuck or disconnected worker stops touching it); beat touches it on
every tick of its scheduler. The healthchecks in docker-compose.yml are one line of Python
reading the file's age, so a probe every few seconds costs no Django start-up.
"""

from pathlib import Path

from celery import bootsteps
from celery.beat import PersistentScheduler

WORKER_INTERVAL_SECONDS = 10


def touch(path: str) -> None:
    if path:
        Path(path).touch()


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
