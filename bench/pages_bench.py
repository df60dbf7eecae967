"""Every member page, the association space and the staff pages, against two baselines.

On PostgreSQL (and the cache of CACHE_URL, Redis in production) only. Seeds the demo data when
the database has none, logs in the demo member, a demo association's login and the regional
bank's staff member by writing their sessions directly, starts gunicorn on a loopback port and
measures each URL in short interleaved rounds (each round bounded in time AND requests), so a
burst of load from elsewhere on the machine hits every URL alike. Every figure is a ratio to
two baselines served by the same server in the same run (``bench/pages_urls.py``, mounted only
by ``bench.pages_settings``):

* ``text``: a logged-in view returning a few bytes of text (session, user, nothing else);
* ``base``: a logged-in page rendering ``base.html`` with no data (menu, CSRF token, CSP).

Each page is measured between two short slots of its baseline (``REFERENCE_SLOT``), and its
ratio in a round is to their mean: the machine's speed drifts within a run (on a quiet 2-core
machine the baselines' rounds were 30 % apart in one run), and a page measured half a minute
after its baseline read that drift as its own. The target reads the median round of these
paired ratios; the ratios to the baselines' median rounds are printed too, as before.

Before gunicorn starts, each page is also run in-process (Django's test client, same settings)
to print its median time and its query count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_bench \\
    CACHE_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/pages_bench.py [--seconds 6] [--rounds 3] [--threads 4] \\
            [--workers 2] [--threads-per-worker 1] [--only wallet,list]

Targets (issue 23): member pages and the association space >= 70 % of ``base``; map data 304
>= 90 % of ``text``; staff pages >= 45 % of ``base``. The last column says whether each is met.
"""

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.pages_settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
}
MAX_REQUESTS = 5_000  # per URL and round, whatever the duration
IN_PROCESS_RUNS = 15
GZIP = {"Accept-Encoding": "gzip, deflate"}  # what a browser sends


def setup_django():
    os.environ.update(ENV)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark runs on PostgreSQL: set DATABASE_URL=postgres://…")


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def prepare(*, analyze: bool = True) -> dict:
    """Migrate, seed if empty; the three logins' cookies and the ids the URLs need."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts import demo as accounts_demo
    from accounts.models import User
    from associations.models import Association, Project
    from associations.selectors import associations_visible_to
    from caisses.models import CaisseRegionale

    call_command("migrate", verbosity=0)
    call_command("seed_demo", if_empty=True, verbosity=0)
    if analyze:
        # Fresh planner statistics, as a production database has them.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    cr = CaisseRegionale.objects.get(code=accounts_demo.HOME_CAISSE)
    member = User.objects.get(caisse_regionale=cr, account_number=accounts_demo.DEMO_MEMBER[0])
    staff = User.objects.get(username="staff-pg")
    visible = associations_visible_to(member)
    association = visible.order_by("name", "pk").first()
    # A demo association's own login, for its space (the demo seeds none): made once.
    with transaction.atomic():
        if association.user_id is None:
            account = association.account_number
            login = User.objects.create(
                username=f"{cr.code}:{account}:bench",
                kind=User.Kind.ASSOCIATION,
                caisse_regionale=cr,
                account_number=account,
                display_name=association.name,
                password="!",
            )
            Association.objects.filter(pk=association.pk).update(user=login)
            association.refresh_from_db()
        association_user = association.user
    # A live project the demo member sees (the demo seeds one), for the project's page.
    project = (
        Project.objects.live_on(timezone.localdate())
        .filter(association__in=visible)
        .order_by("pk")
        .values("pk", "association_id")
        .first()
    )
    n_members = User.objects.filter(kind=User.Kind.MEMBER).count()
    print(
        f"data: {n_members} members, {Association.objects.count()} associations, "
        f"demo member sees {visible.count()}"
    )
    return {
        "member": session_cookie(member),
        "staff": session_cookie(staff),
        "association": session_cookie(association_user),
        "association_id": association.pk,
        "project": project,
    }


def targets(ctx, etag: str):
    """(label, group, cookie name, path, expected status, headers)."""
    a = ctx["association_id"]
    return [
        ("baseline: logged-in text", "text", "member", "/bench/text/", 200, None),
        ("baseline: logged-in base.html", "base", "member", "/bench/base/", 200, None),
        ("wallet", "member", "member", "/cagnotte/", 200, None),
        ("directory list", "member", "member", "/associations/", 200, None),
        ("directory filtered", "member", "member", "/associations/?activite=sport", 200, None),
        ("directory search", "member", "member", "/associations/?q=club", 200, None),
        (
            "directory filter+search",
            "member",
            "member",
            "/associations/?activite=sport&q=club",
            200,
            None,
        ),
        ("map page", "member", "member", "/associations/?vue=carte", 200, None),
        ("map data 200 (gzip)", "member", "member", "/associations/carte.json", 200, GZIP),
        (
            "map data 304",
            "304",
            "member",
            "/associations/carte.json",
            304,
            {**GZIP, "If-None-Match": etag},
        ),
        ("favourites", "member", "member", "/favoris/", 200, None),
        ("give form", "member", "member", f"/donner/{a}/", 200, None),
        ("association detail", "member", "member", f"/associations/{a}/", 200, None),
        *(
            [
                (
                    "project page",
                    "member",
                    "member",
                    f"/associations/{p['association_id']}/projets/{p['pk']}/",
                    200,
                    None,
                )
            ]
            if (p := ctx["project"])
            else []
        ),
        ("messages", "member", "member", "/messages/", 200, None),
        ("settings", "member", "member", "/parametres/", 200, None),
        ("association space", "member", "association", "/association/espace/", 200, None),
        (
            "staff: association list",
            "staff",
            "staff",
            "/admin/associations/association/",
            200,
            None,
        ),
        (
            "staff: dashboard",
            "staff",
            "staff",
            "/admin/associations/association/tableau-de-bord/",
            200,
            None,
        ),
    ]


def in_process(ctx, rows) -> dict:
    """Median in-process time (ms) and query count of each URL, with Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    results = {}
    for label, _group, who, path, expect, headers in rows:
        name, value = ctx[who].split("=", 1)
        client = Client(SERVER_NAME="127.0.0.1")
        client.cookies[name] = value
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        for _ in range(2):  # warm-up: templates, caches
            client.get(path, **extra)
        times = []
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, **extra)
        count = len(queries)  # now: the next request resets Django's query log
        assert response.status_code == expect, (label, response.status_code)
        for _ in range(IN_PROCESS_RUNS):
            start = time.perf_counter()
            client.get(path, **extra)
            times.append(time.perf_counter() - start)
        results[label] = (statistics.median(times) * 1000, count)
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, cookie="", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def wait_until_up(port, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            get(port, "/bench/trivial/")
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start")


def measure(port, path, cookie, *, seconds, threads, expect, headers=None) -> tuple[float, int]:
    """(requests per second, unexpected answers) over ``seconds`` with ``threads`` clients."""
    done = errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker():
        nonlocal done, errors
        while time.monotonic() < stop_at:
            with lock:
                if done + errors >= MAX_REQUESTS:
                    return
            try:
                status, _, _ = get(port, path, cookie, headers)
            except OSError:
                status = None
            with lock:
                if status == expect:
                    done += 1
                else:
                    errors += 1

    get(port, path, cookie, headers)  # warm-up
    start = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done / (time.monotonic() - start), errors


def start_gunicorn(port, *, workers, threads_per_worker, extra_env=None):
    env = {**os.environ, **ENV, **(extra_env or {})}
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "tookets.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    if threads_per_worker > 1:
        command += ["--threads", str(threads_per_worker)]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


TARGETS = {"member": ("base", 0.70), "304": ("text", 0.90), "staff": ("base", 0.45)}
REFERENCES = ("text", "base")  # the baselines' groups
# A reference's slot, as a share of a page's: each page is measured between two of them.
REFERENCE_SLOT = 0.5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0, help="per URL, all rounds (max 60)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="gunicorn --threads")
    parser.add_argument("--only", default="", help="comma-separated label prefixes")
    parser.add_argument("--no-analyze", action="store_true", help="skip VACUUM ANALYZE")
    args = parser.parse_args()
    seconds = min(args.seconds, 60.0)
    rounds = max(1, min(args.rounds, 10))

    setup_django()
    ctx = prepare(analyze=not args.no_analyze)
    port = free_port()
    gunicorn = start_gunicorn(
        port, workers=args.workers, threads_per_worker=args.threads_per_worker
    )
    try:
        wait_until_up(port)
        status, _body, headers = get(port, "/associations/carte.json", ctx["member"], GZIP)
        assert status == 200, status
        rows = targets(ctx, headers["ETag"])
        if args.only:
            wanted = [p.strip() for p in args.only.split(",")]
            rows = [r for r in rows if r[1] in ("text", "base") or r[0].startswith(tuple(wanted))]
        # In-process while gunicorn idles (it is up, so both share the same warm database).
        local = in_process(ctx, rows)
        figures = {label: [] for label, *_ in rows}
        paired = {label: [] for label, *_ in rows}
        errors = dict.fromkeys(figures, 0)
        by_group = {row[1]: row for row in rows if row[1] in REFERENCES}
        slot = seconds / rounds

        def run(row, duration):
            label, _group, who, path, expect, extra = row
            rps, bad = measure(
                port,
                path,
                ctx[who],
                seconds=duration,
                threads=args.threads,
                expect=expect,
                headers=extra,
            )
            figures[label].append(rps)
            errors[label] += bad
            return rps

        for _ in range(rounds):
            run(by_group["text"], slot * REFERENCE_SLOT)
            last = ("base", run(by_group["base"], slot * REFERENCE_SLOT))
            for row in rows:
                if row[1] in REFERENCES:
                    continue
                reference = TARGETS[row[1]][0] if row[1] in TARGETS else "base"
                if last is None or last[0] != reference:
                    last = (reference, run(by_group[reference], slot * REFERENCE_SLOT))
                before = last[1]
                rps = run(row, slot)
                after = run(by_group[reference], slot * REFERENCE_SLOT)
                last = (reference, after)
                # Against the reference measured right before and right after it.
                if before + after > 0:
                    paired[row[0]].append(rps / ((before + after) / 2))
    finally:
        stop(gunicorn)

    results = {label: statistics.median(values) for label, values in figures.items()}
    text = results["baseline: logged-in text"]
    base = results["baseline: logged-in base.html"]
    print(
        f"gunicorn {args.workers} workers x {args.threads_per_worker} threads, "
        f"{args.threads} client threads, {seconds:.0f} s per page in {rounds} interleaved rounds, "
        f"each between two slots of its reference ({REFERENCE_SLOT:.0%} as long)"
    )
    print(
        "req/s: median round (min-max); /text, /base: against the baselines' median rounds; "
        "paired: the median round's ratio to its reference measured right before and after it "
        "(min-max), which the target reads"
    )
    header = (
        f"{'page':30s} {'req/s':>7s} {'min-max':>11s} {'/text':>6s} {'/base':>6s} "
        f"{'paired':>6s} {'min-max':>9s} {'in-proc':>8s} {'queries':>7s}  target"
    )
    print(header)
    print("-" * len(header))
    failed = failed_unpaired = 0
    for label, group, *_ in rows:
        rps = results[label]
        low, high = min(figures[label]), max(figures[label])
        ms, queries = local[label]
        verdict = pair = spread = ""
        if group in TARGETS:
            against, share = TARGETS[group]
            ratio = statistics.median(paired[label] or [0.0])
            pair = f"{ratio:.0%}"
            spread = f"{min(paired[label] or [0]):.0%}-{max(paired[label] or [0]):.0%}"
            ok = ratio >= share
            failed += not ok
            failed_unpaired += rps / (base if against == "base" else text) < share
            verdict = f"{'ok ' if ok else 'MISS'} >= {share:.0%} of {against}"
        if errors[label]:
            verdict += f"  ({errors[label]} unexpected answers)"
        print(
            f"{label:30s} {rps:7.1f} {f'{low:.0f}-{high:.0f}':>11s} {rps / text:6.0%} "
            f"{rps / base:6.0%} {pair:>6s} {spread:>9s} {ms:6.1f}ms {queries:7d}  {verdict}"
        )
    print(f"targets missed: {failed} (paired)")
    print(f"targets missed against the baselines' median rounds (/text, /base): {failed_unpaired}")


if __name__ == "__main__":
    main()
