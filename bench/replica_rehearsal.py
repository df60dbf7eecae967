"""Rehearse reads off a streaming replica on this machine, and losing it under load.

1. Seeds the bench database if empty (``DATABASE_URL``, PostgreSQL on 127.0.0.1:5432).
2. Lets 127.0.0.1 make replication connections if ``pg_hba.conf`` does not (one ``host
   replication`` line, removed at the end), then ``pg_basebackup -R`` into a temporary
   directory and starts the copy as a hot standby on another port (as the ``postgres`` user).
3. Runs the pages bench (``bench/pages_bench.py``) and the load test (``bench/load.py``) with
   ``REPLICA_DATABASE_URL`` pointing at it: both start gunicorn with the environment they get.
4. During the load test: samples the replica's lag each second (``replay_lag`` from
   ``pg_stat_replication`` on the primary and the replica's own replay delay) and counts the
   transactions each server ran for the bench database; half-way through the browsing it
   stops the replica, then asks the health page (in-process, same settings) what it says.
5. Prints the figures, then stops the replica and removes its directory, whatever happened.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_bench \\
    CACHE_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/replica_rehearsal.py [--users 30] [--seconds 40] [--ramp 10]

Run as root (the replica runs as ``postgres``) or as ``postgres``. Sizes are small on
purpose: it rehearses the mechanism; the figures are one run on a 2-core machine whose cores
the primary, the replica, gunicorn and the load generator share.
"""

import argparse
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
HBA_LINE = "host replication all 127.0.0.1/32 trust  # tookets replica rehearsal"

# The settings a hot standby must have at least as high as its primary.
STANDBY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
LAG_ON_REPLICA = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
)


def psql(port: int, sql: str, *, db: str = "postgres", timeout: float = 5) -> str:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db, "-Atc", sql],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return result.stdout.strip()


def free_port(start: int = 5433) -> int:
    for port in range(start, start + 50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    sys.exit("no free port for the replica")


def as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class Replica:
    """A hot standby of the local primary in a temporary directory; ``cleanup`` undoes all."""

    def __init__(self, primary_port: int):
        self.primary_port = primary_port
        self.port = free_port()
        self.dir: Path | None = None
        self.running = False
        self.hba_file: Path | None = None
        self.hba_added = False

    def allow_replication(self) -> None:
        self.hba_file = Path(psql(self.primary_port, "SHOW hba_file"))
        lines = self.hba_file.read_text().splitlines()
        if any(line.split()[:2] in (["host", "replication"],) for line in lines if line.strip()):
            print(f"pg_hba: replication from 127.0.0.1 already allowed ({self.hba_file})")
            return
        self.hba_file.write_text("\n".join([*lines, HBA_LINE]) + "\n")
        self.hba_added = True
        psql(self.primary_port, "SELECT pg_reload_conf()")
        print(f"pg_hba: added « {HBA_LINE} » for the rehearsal (removed at the end)")

    def create(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tookets-replica-"))
        started = time.monotonic()
        subprocess.run(
            [
                str(PG_BIN / "pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"),
                *("-D", str(self.dir), "-R", "-X", "stream", "--checkpoint=fast"),
            ],
            check=True,
        )
        size = sum(f.stat().st_size for f in self.dir.rglob("*") if f.is_file())
        print(
            f"pg_basebackup: {size / 1e6:.0f} MB in {time.monotonic() - started:.1f} s "
            f"into {self.dir}"
        )
        # Debian keeps the configuration outside the data directory: the copy gets its own.
        minimums = "\n".join(
            f"{name} = {psql(self.primary_port, f'SHOW {name}')}" for name in STANDBY_MINIMUMS
        )
        (self.dir / "postgresql.conf").write_text(
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.dir}'\nhot_standby = on\n"
            "hot_standby_feedback = on\nlogging_collector = off\n" + minimums + "\n"
        )
        (self.dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        (self.dir / "pg_ident.conf").write_text("")
        postgres = pwd.getpwnam("postgres")
        if os.geteuid() == 0:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, postgres.pw_uid, postgres.pw_gid, follow_symlinks=False)
        self.dir.chmod(0o700)

    def start(self) -> None:
        subprocess.run(
            as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.dir / "log"), "-w"]
                + ["-t", "60", "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.running = True
        deadline = time.monotonic() + 30
        while psql(self.port, "SELECT pg_is_in_recovery()") != "t":
            if time.monotonic() > deadline:
                raise RuntimeError("the copy did not start as a standby")
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while True:
            streaming = psql(
                self.primary_port,
                "SELECT string_agg(application_name || ' ' || state, ', ') FROM pg_stat_replication",
            )
            if "streaming" in streaming or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        print(
            f"replica: hot standby on port {self.port}; pg_stat_replication: {streaming or 'none'}"
        )

    def stop(self, mode: str = "fast") -> None:
        if not self.running:
            return
        subprocess.run(
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.running = False

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                print(f"cleanup: replica stopped, {self.dir} removed")
            if self.hba_added and self.hba_file is not None:
                lines = [
                    line for line in self.hba_file.read_text().splitlines() if line != HBA_LINE
                ]
                self.hba_file.write_text("\n".join(lines) + "\n")
                psql(self.primary_port, "SELECT pg_reload_conf()")
                print("cleanup: pg_hba line removed, primary reloaded")


def xacts(port: int, db: str) -> int:
    return int(
        psql(
            port, f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"
        )
    )


def run(command: list[str], env: dict, label: str) -> tuple[int, str]:
    print(f"\n--- {label}: {' '.join(command[1:])}", flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    print(result.stdout.rstrip())
    if result.returncode != 0:
        print(result.stderr.rstrip()[-3000:])
    return result.returncode, result.stdout


def health_in_process(env: dict) -> dict:
    """The health page's details (``/sante/`` from the loopback), same settings and databases."""
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/sante/');"
        "print(json.dumps({'http': r.status_code, **json.loads(r.content)}))"
    )
    result = subprocess.run(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tookets.settings", "ALLOWED_HOSTS": "testserver"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"error": result.stderr.strip()[-300:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=40.0, help="browsing time of the load")
    parser.add_argument("--ramp", type=float, default=10.0, help="logins spread over this long")
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--pages-seconds", type=float, default=3.0, help="pages bench, per URL")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument(
        "--pages-without-replica", action="store_true", help="run the pages bench without too"
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    url = urllib.parse.urlsplit(database_url)
    if url.scheme not in ("postgres", "postgresql") or url.hostname != "127.0.0.1":
        sys.exit("Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<bench database>")
    db = url.path.lstrip("/")
    primary_port = url.port or 5432
    env = {**os.environ}
    env.pop("REPLICA_DATABASE_URL", None)

    print(f"load average at the start: {os.getloadavg()[0]:.2f} (2 cores, shared)")
    if psql(primary_port, f"SELECT count(*) FROM pg_database WHERE datname = '{db}'") == "0":
        psql(primary_port, f'CREATE DATABASE "{db}"')
    code, _ = run(
        [
            PYTHON,
            "-c",
            "import django; django.setup(); from django.core.management import "
            "call_command as c; c('migrate', verbosity=0); c('seed_demo', if_empty=True, "
            "verbosity=0)",
        ],
        {**env, "DJANGO_SETTINGS_MODULE": "tookets.settings"},
        "seed the bench database if empty",
    )
    if code:
        return code

    replica = Replica(primary_port)
    samples: list[tuple[float, float | None, str, str]] = []
    figures: dict = {}
    try:
        replica.allow_replication()
        replica.create()
        replica.start()
        replica_url = f"postgres://postgres@127.0.0.1:{replica.port}/{db}"
        with_replica = {**env, "REPLICA_DATABASE_URL": replica_url}
        figures["health before"] = health_in_process(with_replica)

        if not args.skip_pages:
            pages = [PYTHON, "bench/pages_bench.py", "--seconds", str(args.pages_seconds)]
            pages += ["--rounds", "1"]
            if args.pages_without_replica:
                run(pages, env, "pages bench without the replica (for comparison)")
                pages.append("--no-analyze")  # analysed just now
            before = xacts(replica.port, db)
            run(pages, with_replica, "pages bench with the replica")
            figures["pages bench: transactions on the replica"] = xacts(replica.port, db) - before

        # The load test in the background; sampling and the outage here.
        primary_before = xacts(primary_port, db)
        replica_before = xacts(replica.port, db)
        load_cmd = [
            PYTHON,
            "bench/load.py",
            "--users",
            str(args.users),
            "--seconds",
            str(args.seconds),
            "--ramp",
            str(args.ramp),
            "--think",
            str(args.think),
            "--stagger",
            "2",
        ]
        print(f"\n--- load test with the replica: {' '.join(load_cmd[1:])}", flush=True)
        output: dict = {}

        def load():
            output["result"] = subprocess.run(
                load_cmd, cwd=ROOT, env=with_replica, capture_output=True, text=True
            )

        loader = threading.Thread(target=load)
        started = time.monotonic()
        loader.start()
        # Logins take the ramp and a little more; the replica goes half-way through browsing.
        stop_at = started + args.ramp + 8 + args.seconds / 2
        replica_xacts_at_stop = None
        primary_xacts_at_stop = None
        health = None
        while loader.is_alive():
            now = time.monotonic() - started
            replay_lag = psql(
                primary_port,
                "SELECT CASE WHEN count(*) = 0 THEN 'none' ELSE "
                "COALESCE(round(EXTRACT(EPOCH FROM max(replay_lag)), 3)::text, 'idle') END "
                "FROM pg_stat_replication",
            )
            try:
                own = float(psql(replica.port, LAG_ON_REPLICA, timeout=2))
            except Exception:  # noqa: BLE001 - stopped or not answering: recorded as such
                own = None
            state = "up" if replica.running else "stopped"
            samples.append((now, own, replay_lag, state))
            if replica.running and time.monotonic() >= stop_at:
                replica_xacts_at_stop = xacts(replica.port, db)
                primary_xacts_at_stop = xacts(primary_port, db)
                replica.stop("fast")
                print(f"  t={now:.0f} s: replica stopped (pg_ctl stop -m fast)", flush=True)
                health = threading.Thread(
                    target=lambda: figures.__setitem__(
                        "health with the replica stopped", health_in_process(with_replica)
                    )
                )
                health.start()
            time.sleep(1)
        loader.join()
        if health is not None:
            health.join()
        result = output["result"]
        print(result.stdout.rstrip())
        if result.returncode != 0:
            print(result.stderr.rstrip()[-3000:])
        if replica_xacts_at_stop is not None:
            on_replica = replica_xacts_at_stop - replica_before
            on_primary = primary_xacts_at_stop - primary_before
            figures["until the stop: transactions on the replica"] = on_replica
            figures["until the stop: transactions on the primary"] = on_primary
            figures["until the stop: share served by the replica"] = (
                f"{on_replica / max(1, on_replica + on_primary):.0%}"
            )
        figures["after the stop: transactions on the primary"] = xacts(primary_port, db) - (
            primary_xacts_at_stop or primary_before
        )
        figures["load test exit status"] = result.returncode
    finally:
        replica.cleanup()

    print("\n--- replica lag during the load (1 s samples)")
    print(
        f"{'t (s)':>6} {'replica':>8} {'replay delay on it (s)':>24} {'replay_lag (primary)':>22}"
    )
    for now, own, replay_lag, state in samples:
        own_text = "-" if own is None else f"{own:.3f}"
        print(f"{now:6.0f} {state:>8} {own_text:>24} {replay_lag:>22}")
    lags = [own for _t, own, _r, state in samples if own is not None and state == "up"]
    if lags:
        lags.sort()
        print(
            f"replay delay while up: median {lags[len(lags) // 2]:.3f} s, "
            f"max {lags[-1]:.3f} s over {len(lags)} samples"
        )
    print("\n--- figures")
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
