"""Load test: simulated members log in through the keypad, browse, give 1 K, pick a favourite.

A bounded script (no load-testing package): ``--users`` threads, each a member of Pyrénées
Gascogne (the largest directory) with Tookets left, against gunicorn on a loopback port with
PostgreSQL and the cache of CACHE_URL (Redis). Each member:

1. logs in as a browser does: GET the login page (CSRF cookie), POST the regional bank and
   the identifier, read the keypad's shuffled layout from the HTML (``data-position`` of each
   digit's key) and POST the positions of the code's digits;
2. then, until the end of the run (and, at the start of each round, with a chance of
   ``--relogin``, logging in again in a new browser: the keypad login under load): wallet, directory list, map page, map data (200 once,
   then revalidated with its ETag: 304), a filtered list, a search, an association's give
   form, a gift of 1 K posted from it, a favourite chosen, the favourites page — with a
   random think time between requests (``--think`` seconds on average).

Logins arrive spread over ``--ramp`` seconds: checking a code is a deliberately slow hash
(Argon2id), and all of them at once on two cores would queue. Browsing starts once every
member is logged in, each member's first request within ``--stagger`` seconds of that.

Bounded: ``--seconds`` of browsing (max 600) and at most ``--max-requests`` requests. Prints
requests per second, p50/p95/p99 per page and the errors (any unexpected status or network
error), then runs ``check_ledger`` (wallet balances against the ledger, conservation, the
associations' summary figures).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_bench \\
    CACHE_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/load.py [--users 50] [--seconds 60] [--think 1.0] \\
            [--workers 4] [--threads-per-worker 2] [--pool]
"""

import argparse
import http.client
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu  # noqa: E402
from bench import pages_bench as pb  # noqa: E402

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY = re.compile(r'data-position="(\d)" aria-label="[^"]*?(\d)"')
CARD = re.compile(r'data-association="(\d+)"')
GIVE_FORM = re.compile(
    r'name="wallet" value="(\d+)">\s*<input type="hidden" name="token" value="([^"]+)"'
)


class Browser:
    """One member's browser: its cookies, one connection per request (as gunicorn's sync
    workers close them), and the ETag of the map data it holds."""

    def __init__(self, port, stats, lock):
        self.port, self.stats, self.lock = port, stats, lock
        self.cookies = {}
        self.map_etag = None

    def request(self, label, method, path, *, form=None, headers=None, expect=(200,)):
        body = urllib.parse.urlencode(form) if form is not None else None
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        sent["Accept-Encoding"] = "gzip"
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        start = time.perf_counter()
        status, data, response_headers = None, b"", []
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                conn.request(method, path, body=body, headers=sent)
                response = conn.getresponse()
                status, data = response.status, response.read()
                response_headers = response.getheaders()
            finally:
                conn.close()
        except OSError:
            status = None
        elapsed = time.perf_counter() - start
        for name, value in response_headers:
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, val = cookie.partition("=")
                self.cookies[key.strip()] = val.strip()
        ok = status in expect
        with self.lock:
            self.stats[label].append(elapsed)
            if not ok:
                self.stats["__errors__"].append((label, status))
        return status, data, dict(response_headers)

    def text(self, data, headers):
        if headers.get("Content-Encoding") == "gzip":
            import gzip

            data = gzip.decompress(data)
        return data.decode("utf-8", "replace")


def log_in(browser, caisse_code, account_number, code, *, label="login"):
    status, data, headers = browser.request(f"{label}: page", "GET", "/connexion/")
    token = CSRF.search(browser.text(data, headers)).group(1)
    status, data, headers = browser.request(
        f"{label}: identifier",
        "POST",
        "/connexion/",
        form={
            "csrfmiddlewaretoken": token,
            "caisse": caisse_code,
            "account_number": account_number,
        },
    )
    html = browser.text(data, headers)
    # The keypad as a browser shows it: each key's position and the digit written on it.
    position_of = {digit: position for position, digit in KEY.findall(html)}
    if len(position_of) != 10:
        raise RuntimeError("keypad not found")
    token = CSRF.search(html).group(1)
    status, _data, headers = browser.request(
        f"{label}: keypad",
        "POST",
        "/connexion/",
        form={
            "csrfmiddlewaretoken": token,
            "caisse": caisse_code,
            "account_number": account_number,
            "step": "code",
            "positions": "".join(position_of[d] for d in code),
        },
        expect=(302,),
    )
    if status != 302 or "/cagnotte/" not in headers.get("Location", ""):
        raise RuntimeError(f"login refused ({status})")


def browse(browser, *, stop_at, think, budget, rng, relogin=0.0, account=None):
    def pause():
        if think:
            time.sleep(rng.uniform(0, 2 * think))

    while time.monotonic() < stop_at and budget():
        if relogin and rng.random() < relogin:
            # The member comes back in a new browser (session over): the keypad login again,
            # this time while everyone else browses and gives.
            browser.cookies.clear()
            browser.map_etag = None
            caisse_code, account_number, code = account
            log_in(browser, caisse_code, account_number, code, label="login under load")
            pause()
        browser.request("wallet", "GET", "/cagnotte/")
        pause()
        _s, data, headers = browser.request("directory list", "GET", "/associations/")
        ids = CARD.findall(browser.text(data, headers)) or ["0"]
        pause()
        browser.request("map page", "GET", "/associations/?vue=carte")
        if browser.map_etag is None:
            _s, _d, headers = browser.request("map data 200", "GET", "/associations/carte.json")
            browser.map_etag = headers.get("ETag")
        else:
            browser.request(
                "map data 304",
                "GET",
                "/associations/carte.json",
                headers={"If-None-Match": browser.map_etag},
                expect=(304, 200),
            )
        pause()
        browser.request("directory filtered", "GET", "/associations/?activite=sport")
        pause()
        browser.request("directory search", "GET", "/associations/?q=club")
        pause()
        association = rng.choice(ids)
        _s, data, headers = browser.request("give form", "GET", f"/donner/{association}/")
        html = browser.text(data, headers)
        found = GIVE_FORM.search(html)
        csrf = CSRF.search(html)
        if found and csrf:
            pause()
            browser.request(
                "give 1 K (POST)",
                "POST",
                f"/donner/{association}/",
                form={
                    "csrfmiddlewaretoken": csrf.group(1),
                    "wallet": found.group(1),
                    "token": found.group(2),
                    "amount": "1",
                },
                expect=(302,),
            )
            pause()
            browser.request(
                "favourite (POST)",
                "POST",
                "/favoris/choisir/",
                form={
                    "csrfmiddlewaretoken": csrf.group(1),
                    "association": association,
                    "next": "/favoris/",
                },
                expect=(302,),
            )
        pause()
        browser.request("favourites", "GET", "/favoris/")
        pause()


def members_with_tookets(count):
    """``count`` members of Pyrénées Gascogne with at least 1,000 K in an open program."""
    from django.db.models import Q
    from django.utils import timezone

    from accounts import demo
    from accounts.models import User

    today = timezone.localdate()
    members = (
        User.objects.filter(
            kind=User.Kind.MEMBER,
            is_societaire=True,
            closed_at__isnull=True,
            caisse_regionale__code=demo.HOME_CAISSE,
        )
        .filter(
            Q(wallets__balance__gte=1000)
            & Q(wallets__program__opens_on__lte=today)
            & Q(wallets__program__closes_on__gte=today)
        )
        .exclude(account_number=demo.DEMO_MEMBER[0])
        .order_by("pk")
        .values_list("account_number", flat=True)
        .distinct()[:count]
    )
    return list(members)


def percentile(values, share):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="browsing time (max 600)")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads-per-worker", type=int, default=2, help="gunicorn --threads")
    parser.add_argument("--pool", action="store_true", help="DATABASE_POOL=1 (psycopg pool)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--ramp", type=float, default=30.0, help="logins spread over this many seconds"
    )
    parser.add_argument(
        "--stagger", type=float, default=5.0, help="browsing starts spread over this many seconds"
    )
    parser.add_argument(
        "--relogin",
        type=float,
        default=0.1,
        help="chance, at each round of browsing, that a member logs in again (under load)",
    )
    args = parser.parse_args()
    seconds = min(args.seconds, 600.0)

    pb.setup_django()
    from django.core.management import call_command

    from accounts import demo

    call_command("migrate", verbosity=0)
    call_command("seed_demo", if_empty=True, verbosity=0)
    # Each run starts from a vacuumed database, as the pages bench does: in production
    # autovacuum keeps up with the rows every round updates (a favourite, an association's
    # totals), and a server where it is off (this one) would otherwise carry the earlier
    # runs' dead rows into this one's timings.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    accounts = members_with_tookets(args.users)
    if len(accounts) < args.users:
        sys.exit(f"only {len(accounts)} members with Tookets left")
    extra_env = {}
    if args.pool:
        extra_env = {
            "DATABASE_POOL": "1",
            "DATABASE_POOL_MIN": "2",
            "DATABASE_POOL_MAX": str(max(2, args.threads_per_worker)),
        }
    port = pb.free_port()
    gunicorn = pb.start_gunicorn(
        port, workers=args.workers, threads_per_worker=args.threads_per_worker, extra_env=extra_env
    )
    stats = defaultdict(list)
    lock = threading.Lock()
    login_failures = []

    def budget():
        with lock:
            return sum(len(v) for k, v in stats.items() if k != "__errors__") < args.max_requests

    try:
        pb.wait_until_up(port)
        timing = {}

        def everyone_logged_in():  # run once, before any thread is released
            timing["cpu_before"] = cpu.snapshot(gunicorn.pid)
            timing["browse_start"] = time.monotonic()
            timing["stop_at"] = timing["browse_start"] + seconds

        logged_in = threading.Barrier(args.users + 1, action=everyone_logged_in)

        def member(index, account):
            rng = random.Random(args.seed * 1000 + index)
            browser = Browser(port, stats, lock)
            try:
                time.sleep(rng.uniform(0, args.ramp))  # arrivals spread over the ramp
                log_in(browser, demo.HOME_CAISSE, account, demo.DEMO_CODE)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    login_failures.append(f"{account}: {exc}")
                logged_in.wait()
                return
            logged_in.wait()
            # Browsing starts when the last login is done (the barrier); members then start
            # over a few seconds, as people do, not all on the same millisecond.
            time.sleep(rng.uniform(0, args.stagger))
            try:
                browse(
                    browser,
                    stop_at=timing["stop_at"],
                    think=args.think,
                    budget=budget,
                    rng=rng,
                    relogin=args.relogin,
                    account=(demo.HOME_CAISSE, account, demo.DEMO_CODE),
                )
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    login_failures.append(f"{account} (again, under load): {exc}")

        threads = [
            threading.Thread(target=member, args=(i, account)) for i, account in enumerate(accounts)
        ]
        login_start = time.monotonic()
        for t in threads:
            t.start()
        logged_in.wait()
        login_seconds = timing["browse_start"] - login_start
        for t in threads:
            t.join()
        browse_seconds = time.monotonic() - timing["browse_start"]
        cpu_after = cpu.snapshot(gunicorn.pid)
    finally:
        pb.stop(gunicorn)

    errors = stats.pop("__errors__", [])
    logins = {k: v for k, v in stats.items() if k.startswith("login")}
    pages = {k: v for k, v in stats.items() if not k.startswith("login")}
    total = sum(len(v) for v in pages.values())
    print(
        f"{args.users} members, gunicorn {args.workers} workers x {args.threads_per_worker} "
        f"threads, DATABASE_POOL={'1' if args.pool else '0'}, think {args.think:.1f} s mean; "
        f"logins in {login_seconds:.1f} s, then {browse_seconds:.1f} s of browsing "
        f"(started over {args.stagger:.0f} s)"
    )
    print(f"browsing: {total} requests, {total / browse_seconds:.1f} req/s")
    header = f"{'page':28s} {'count':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}"
    print(header)
    print("-" * len(header))
    for label, values in [*logins.items(), *pages.items()]:
        ms = [v * 1000 for v in values]
        print(
            f"{label:28s} {len(ms):6d} {statistics.median(ms):8.1f} {percentile(ms, 0.95):8.1f} "
            f"{percentile(ms, 0.99):8.1f}"
        )
    # Logins under load are requests of the browsing phase too.
    under_load = total + sum(len(v) for k, v in logins.items() if "under load" in k)
    print(cpu.report(timing.get("cpu_before"), cpu_after, requests=under_load))
    print(f"errors: {len(errors)} unexpected answers, {len(login_failures)} failed logins")
    for label, status in errors[:10]:
        print(f"  {label}: {status}")
    for failure in login_failures[:10]:
        print(f"  login {failure}")
    from django.core.management import CommandError

    try:
        call_command("check_ledger")
        print("check_ledger: passed")
    except (CommandError, SystemExit) as exc:
        print(f"check_ledger: FAILED ({exc})")
        sys.exit(1)
    if errors or login_failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
