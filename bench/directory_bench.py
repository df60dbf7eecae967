"""Requests per second of the directory and the map data, against a trivial Django view.

On PostgreSQL only. Seeds the demo data when the database has none (Pyrénées Gascogne gets its
2,795 associations), logs the demo member in by writing a session directly, starts gunicorn on
a loopback port, and hammers each URL with a bounded thread pool (count AND time bounded).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_h3 CACHE_URL=redis://127.0.0.1:6379/1 \
        .venv/bin/python bench/directory_bench.py [--seconds 8] [--threads 4] [--workers 2] [--rounds 3]

Runs VACUUM ANALYZE after seeding; prints the map data's size (raw and gzip) and, for each
URL, requests per second and the ratio to the trivial view.
"""

import argparse
import gzip
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The loopback client and the port probe are the pages bench's (one copy).
from bench.pages_bench import free_port, get, wait_until_up  # noqa: E402

ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.directory_settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
}
MAX_REQUESTS = 20_000  # per URL, whatever the duration


def setup_django():
    os.environ.update(ENV)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark runs on PostgreSQL: set DATABASE_URL=postgres://…")


def prepare() -> str:
    """Migrate, seed if empty, return a session cookie value for the demo member."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from associations.selectors import associations_visible_to
    from caisses.models import CaisseRegionale

    call_command("migrate", verbosity=0)
    call_command("seed_demo", if_empty=True, verbosity=0)
    # Fresh planner statistics, as a production database has them: right after a bulk seed,
    # autovacuum may not have analysed the tables yet and the plans would be a guess.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    cr = CaisseRegionale.objects.get(code="pyrenees-gascogne")
    member, _ = User.objects.get_or_create(
        caisse_regionale=cr,
        account_number="98652706859",
        defaults={
            "username": "pyrenees-gascogne:98652706859",
            "kind": User.Kind.MEMBER,
            "display_name": "Jeanne Dupont",
            "is_societaire": True,
            "password": "!",
        },
    )
    visible = associations_visible_to(member).count()
    print(f"demo member sees {visible} associations")
    session = SessionStore()
    session[SESSION_KEY] = str(member.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = member.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def measure(port, path, cookie, *, seconds, threads, expect, headers=None) -> float:
    """Requests per second over ``seconds`` (at most MAX_REQUESTS), with ``threads`` clients."""
    done = 0
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker():
        nonlocal done, errors
        while time.monotonic() < stop_at:
            with lock:
                if done + errors >= MAX_REQUESTS:
                    return
            status, _, _ = get(port, path, cookie, headers)
            with lock:
                if status == expect:
                    done += 1
                else:
                    errors += 1

    for _ in range(2):  # warm-up: imports, connections, template caches
        get(port, path, cookie, headers)
    start = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        print(f"  {path}: {errors} unexpected responses")
    return done / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0, help="per URL (max 60)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per URL")
    args = parser.parse_args()
    seconds = min(args.seconds, 60.0)

    setup_django()
    cookie = prepare()
    port = free_port()
    env = {**os.environ, **ENV, "DATABASE_URL": os.environ["DATABASE_URL"]}
    gunicorn = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "tookets.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_up(port)
        status, body, headers = get(port, "/associations/carte.json", cookie)
        assert status == 200, status
        gz_status, gz_body, gz_headers = get(
            port, "/associations/carte.json", cookie, {"Accept-Encoding": "gzip"}
        )
        assert gz_status == 200, gz_status
        if gz_headers.get("Content-Encoding") == "gzip":
            assert gzip.decompress(gz_body) == body
            how = "as served"
        else:  # an older version that does not compress: what gzip would make of it
            gz_body, how = gzip.compress(body, 6), "level 6, not served compressed"
        print(
            f"map data: {len(body)} bytes raw, {len(gz_body)} bytes gzip ({how}), "
            f"{body.count(b'],[') + 1} markers"
        )
        etag = headers["ETag"]
        targets = [
            ("trivial Django view", "/bench/trivial/", 200, None),
            ("directory, list", "/associations/", 200, None),
            ("directory, list filtered", "/associations/?activite=sport&q=pyrenees", 200, None),
            ("directory, map page", "/associations/?vue=carte", 200, None),
            ("map data (full body)", "/associations/carte.json", 200, None),
            ("map data (gzip)", "/associations/carte.json", 200, {"Accept-Encoding": "gzip"}),
            ("map data (304, ETag)", "/associations/carte.json", 304, {"If-None-Match": etag}),
        ]
        # Round robin: each URL is measured in several short rounds, interleaved with the
        # others, so a burst of load from elsewhere on the machine hits every URL alike; the
        # median round is reported, with the slowest and fastest.
        rounds = {label: [] for label, *_ in targets}
        for _ in range(args.rounds):
            for label, path, expect, extra in targets:
                rounds[label].append(
                    measure(
                        port,
                        path,
                        cookie,
                        seconds=seconds / args.rounds,
                        threads=args.threads,
                        expect=expect,
                        headers=extra,
                    )
                )
        results = {label: statistics.median(values) for label, values in rounds.items()}
        base = results["trivial Django view"]
        print(
            f"gunicorn {args.workers} workers, {args.threads} client threads, "
            f"{seconds:.0f} s per URL in {args.rounds} interleaved rounds (median, min-max)"
        )
        for label, rps in results.items():
            low, high = min(rounds[label]), max(rounds[label])
            print(
                f"{label:28s} {rps:8.1f} req/s   {rps / base:6.1%} of trivial"
                f"   ({low:.0f}-{high:.0f})"
            )
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gunicorn.kill()


if __name__ == "__main__":
    main()
