"""Lighthouse CI on the public pages and, logged in as the demo member, the member's pages.

    make lighthouse        # installs @lhci/cli (pinned) into .tools/lhci, then runs this

What it does, as production would serve the pages:
1. migrates the database it is given (``DATABASE_URL``; without one, SQLite in a temporary
   folder) and loads the demo data if it is empty (``seed_demo --if-empty``: about 2,800
   associations on the demo member's map); collects the static files into a temporary folder;
2. starts gunicorn with ``DEBUG=0`` (hashed, compressed static files through WhiteNoise, gzip,
   the CSP) on a free local port;
3. logs the demo member in through the keypad with Playwright (Debian's Chromium), reads the
   session cookie, and picks an association of the member's directory;
4. runs ``lhci collect`` twice (once per run and URL, phone profile): the public pages
   anonymously, the member's pages with the session passed as a ``Cookie`` header
   (``--settings.extraHeaders``); then ``lhci assert`` (the budgets in
   ``bench/lighthouserc.json``: performance ≥ 0.95, accessibility, best practices and SEO 1;
   a page under its performance budget is measured again, twice at most, and its best run
   counts: on a loaded machine the same page scores 92 or 100)
   and ``lhci upload --target=filesystem``: the reports, kept as CI artefacts, land in
   ``bench/out/lhci/`` (git-ignored), the raw results in ``bench/out/.lighthouseci/``.

The cache (``LIGHTHOUSE_CACHE_URL``, default one in memory per process) is cleared first: its
keys name states of a database, and another database (the test suite's) may have left keys
naming the same states. Tiles: ``MAP_TILES_URL`` is empty unless ``LIGHTHOUSE_MAP_TILES_URL``
is set, so the run needs no network (CI has none to spare, and OpenStreetMap's tile policy
forbids such use); the map is then measured with its fallback (the local banks' towns).

Environment: ``LHCI`` (the lhci executable), ``CHROMIUM_PATH`` (default /usr/bin/chromium),
``LIGHTHOUSE_ONLY`` (some pages only, see ``_only``).
Exit status: lhci assert's (non-zero when a page misses a budget), after the reports are kept.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CONFIG = ROOT / "bench" / "lighthouserc.json"
PYTHON = sys.executable
LHCI = os.environ.get("LHCI") or ".tools/lhci/node_modules/.bin/lhci"
if "/" in LHCI:  # a path (the Makefile's is relative to the project): lhci runs from OUT
    LHCI = str((ROOT / LHCI).resolve())
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"

DEMO_CAISSE = "Pyrénées Gascogne"
DEMO_IDENTIFIER = "98652706859"
DEMO_CODE = "123456"

PERFORMANCE_BUDGET = json.loads(CONFIG.read_text())["ci"]["assert"]["assertions"][
    "categories:performance"
][1]["minScore"]
PERFORMANCE_RETRIES = 2
ASSOCIATION_PAGE = re.compile(r"^/associations/(\d+)/$")

PUBLIC_PATHS = [
    "/",
    "/comment-ca-marche/",
    "/resultats/",
    "/connexion/",
    "/association/inscription/",
]


def _only(paths: list[str]) -> list[str]:
    """``LIGHTHOUSE_ONLY=carte,/`` (exact paths or parts of them) measures only those pages,
    while looking into one; CI measures them all."""
    wanted = [part for part in os.environ.get("LIGHTHOUSE_ONLY", "").split(",") if part]
    if not wanted:
        return paths
    return [p for p in paths if any(p == part or (len(part) > 1 and part in p) for part in wanted)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain http on the loopback: no HTTPS redirect, cookies without Secure.
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_ROOT": str(tmp / "static"),
            "MEDIA_ROOT": str(tmp / "media"),
            "CACHE_URL": os.environ.get("LIGHTHOUSE_CACHE_URL", "locmemcache://lighthouse"),
            "CELERY_BROKER_URL": "",  # tasks in-process: nothing here queues any
            "MAP_TILES_URL": os.environ.get("LIGHTHOUSE_MAP_TILES_URL", ""),
            "LOG_LEVEL": "WARNING",
        }
    )
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'lighthouse.sqlite3'}")
    return env


def _manage(env, *args):
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def _wait_for(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped (status {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def _log_in(base: str) -> tuple[str, int]:
    """The demo member's session cookie (``name=value``) and an association of the
    directory, through the login page's keypad as a member would."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(base_url=base, locale="fr-FR")
        page.goto("/connexion/")
        page.get_by_label("Caisse").select_option(label=DEMO_CAISSE)
        page.get_by_label("IDENTIFIANT", exact=True).fill(DEMO_IDENTIFIER)
        page.get_by_role("button", name="ENTRER MON CODE PERSONNEL").click()
        expect(page.locator("[data-keypad-status]")).to_have_text("Aucun chiffre saisi sur 6")
        page.keyboard.type(DEMO_CODE)
        page.keyboard.press("Enter")
        page.wait_for_url("**/cagnotte/")
        page.goto("/associations/?vue=liste")
        hrefs = page.eval_on_selector_all(
            ".association-list a", "links => links.map(link => link.getAttribute('href'))"
        )
        association_id = next(
            int(match.group(1)) for href in hrefs if (match := ASSOCIATION_PAGE.match(href or ""))
        )
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        browser.close()
    return f"sessionid={cookies['sessionid']}", association_id


def _collect(urls: list[str], *, additive: bool, headers: dict | None = None) -> None:
    args = [LHCI, "collect", f"--config={CONFIG}", f"--chromePath={CHROMIUM}"]
    args += [f"--url={url}" for url in urls]
    if additive:
        args.append("--additive")
    if headers:
        args.append("--settings.extraHeaders=" + json.dumps(headers))
    subprocess.run(args, cwd=OUT, check=True)


def _reports() -> list[dict]:
    return [
        json.loads(path.read_text())
        for path in sorted((OUT / ".lighthouseci").glob("lhr-*.json"), key=os.path.getmtime)
    ]


def _performance_misses() -> set[str]:
    """The URLs none of whose runs so far meets the performance budget."""
    best: dict[str, float] = {}
    for report in _reports():
        score = report["categories"]["performance"]["score"] or 0
        url = report["requestedUrl"]
        best[url] = max(best.get(url, 0), score)
    return {url for url, score in best.items() if score < PERFORMANCE_BUDGET}


def _summary() -> list[str]:
    lines = []
    for report in _reports():
        scores = " ".join(
            f"{key[:4]} {round((report['categories'][key]['score'] or 0) * 100):>3}"
            for key in ("performance", "accessibility", "best-practices", "seo")
        )
        audits = report["audits"]
        metrics = (
            f"LCP {audits['largest-contentful-paint']['numericValue'] / 1000:.1f} s, "
            f"TBT {audits['total-blocking-time']['numericValue']:.0f} ms, "
            f"CLS {audits['cumulative-layout-shift']['numericValue']:.3f}"
        )
        path_only = "/" + report["finalDisplayedUrl"].split("/", 3)[-1]
        lines.append(f"{scores}  {metrics}  {path_only}")
    return lines


def main() -> int:
    if not Path(LHCI).exists() and shutil.which(LHCI) is None:
        raise SystemExit(f"{LHCI} not found: `make lighthouse` installs @lhci/cli")
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tookets-lighthouse-") as folder:
        tmp = Path(folder)
        env = _server_env(tmp)
        _manage(env, "migrate", "--noinput", "-v0")
        _manage(env, "seed_demo", "--if-empty")
        _manage(env, "collectstatic", "--noinput", "-v0")
        _manage(env, "shell", "-c", "from django.core.cache import cache; cache.clear()")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "tookets.wsgi", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "2", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        try:
            _wait_for(base + "/", server)
            prepared = time.monotonic()
            cookie, association_id = _log_in(base)
            member_paths = [
                "/cagnotte/",
                "/associations/?vue=liste",
                "/associations/?vue=carte",
                "/favoris/",
                f"/associations/{association_id}/",
                f"/donner/{association_id}/",
            ]
            os.environ["CHROME_PATH"] = CHROMIUM
            public = [base + p for p in _only(PUBLIC_PATHS)]
            members = [base + p for p in _only(member_paths)]
            if public:
                _collect(public, additive=False)
            if members:
                _collect(members, additive=bool(public), headers={"Cookie": cookie})
            # The performance score moves with the machine's load (Lighthouse scales the
            # main-thread time it observes): a page under its budget is measured again, at
            # most PERFORMANCE_RETRIES times, and lhci assert keeps its best run
            # ("optimistic"). The other categories do not depend on the load.
            for _retry in range(PERFORMANCE_RETRIES):
                slow = _performance_misses()
                if not slow:
                    break
                print(f"Performance under budget, measured again: {', '.join(sorted(slow))}")
                if again := [u for u in public if u in slow]:
                    _collect(again, additive=True)
                if again := [u for u in members if u in slow]:
                    _collect(again, additive=True, headers={"Cookie": cookie})
            collected = time.monotonic()
        finally:
            server.terminate()
            server.wait(timeout=30)
    asserted = subprocess.run([LHCI, "assert", f"--config={CONFIG}"], cwd=OUT)
    shutil.rmtree(OUT / "lhci", ignore_errors=True)
    subprocess.run([LHCI, "upload", f"--config={CONFIG}"], cwd=OUT, check=True)
    print("\n".join(["", "Lighthouse (phone profile), one run per page:", *_summary()]))
    print(
        f"Set-up {prepared - started:.0f} s, Lighthouse {collected - prepared:.0f} s, "
        f"total {time.monotonic() - started:.0f} s. Reports: {OUT / 'lhci'}"
    )
    return asserted.returncode


if __name__ == "__main__":
    sys.exit(main())
