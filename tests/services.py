"""Real services a test starts for itself: a redis-server on a free port, a Celery worker."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from django.db import connection
from django.test import override_settings

from tests.conftest import missing_service

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class RedisServer:
    """A redis-server of the test's own, which the test may kill and start again."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        try:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            missing_service("needs redis-server on the PATH")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost host: no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None


def redis_cache_settings(url: str, limits_url: str | None = None) -> dict:
    """The cache at ``url`` and the login limits' cache at ``limits_url`` (the same Redis
    server, database 2, by default), configured as tookets.settings does."""

    def alias(location: str) -> dict:
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }

    return {
        "default": alias(url),
        "limits": alias(limits_url or url.rsplit("/", 1)[0] + "/2"),
    }


def reset_celery_connections(app) -> None:
    # The app keeps its broker connection pools once made: forget them so the next publish
    # connects to the broker now configured. (Not closed: kombu's registry of pools would hand
    # the closed one back for the same URL.)
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def site_on(server: RedisServer):
    """Point the cache (database 1) and the Celery broker (database 0) at ``server``."""
    from tookets.celery import app

    # broker_url itself yields to the CELERY_BROKER_URL environment variable; the read and
    # write URLs set in the configuration do not.
    keys = ("broker_url", "broker_read_url", "broker_write_url", "task_always_eager")
    saved = {k: app.conf.get(k) for k in keys}
    broker = server.url(0)
    with override_settings(CACHES=redis_cache_settings(server.url(1))):
        app.conf.update(
            broker_url=broker,
            broker_read_url=broker,
            broker_write_url=broker,
            task_always_eager=False,
        )
        reset_celery_connections(app)
        try:
            yield
        finally:
            app.conf.update(saved)
            reset_celery_connections(app)


@contextmanager
def celery_worker(server: RedisServer, *, env: dict | None = None, pool: str = "solo"):
    """A real worker on the test database, through ``server``; yields the process."""
    worker_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_POOL": "0",
        "CACHE_URL": server.url(1),
        "CELERY_BROKER_URL": server.url(0),
        "DJANGO_SETTINGS_MODULE": "tookets.settings",
        **(env or {}),
    }
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tookets",
        "worker",
        f"--pool={pool}",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    if pool == "prefork":
        args.append("--concurrency=1")
    worker = subprocess.Popen(
        args,
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.output, _ = worker.communicate()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
