"""The standard cast and the services tests may need.

With REQUIRE_SERVICES=1 (CI), a test that needs PostgreSQL, Redis or Chromium and cannot find
it fails instead of skipping.
"""

import importlib
import os
import shutil

import pytest
from django.db import connection

from tests import factories as f

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def missing_service(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1: this test must run here)")
    pytest.skip(reason)


# Data migrations load reference rows (the regional banks, activities and domains, the staff
# group). A transactional test ends with a flush that empties every table, so the next test
# would find none: put them back when they are missing.
REFERENCE_DATA_MIGRATIONS = [
    "caisses.migrations.0002_load_caisses_regionales",
    "caisses.migrations.0004_bank_code_bic",
    "associations.migrations.0003_load_activities_domains",
]


def _uses_db(request) -> bool:
    if request.node.get_closest_marker("django_db"):
        return True
    return bool({"db", "transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _reference_data(request):
    if not _uses_db(request):
        return
    request.getfixturevalue("_django_db_helper")
    from django.apps import apps

    from caisses.models import CaisseRegionale

    if CaisseRegionale.objects.exists():
        return
    for module in REFERENCE_DATA_MIGRATIONS:
        importlib.import_module(module).load(apps, None)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate limits (their own cache), cached pages data and cached sessions live in the caches
    # (Redis in CI, which outlives a test run): each test starts clean.
    from django.core.cache import caches

    from tookets.fragments import forget_kept

    for cache in caches.all():
        cache.clear()
    forget_kept()
    yield
    for cache in caches.all():
        cache.clear()
    forget_kept()


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Celery tasks run in-process, as in development, even when CI sets a broker.

    Tests marked ``celery`` talk to a real worker through Redis instead.
    """
    from tookets.celery import app

    if request.node.get_closest_marker("celery"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def require_postgres(db):
    if connection.vendor != "postgresql":
        missing_service("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def pg_caisse(db):
    return f.caisse("pyrenees-gascogne")


@pytest.fixture
def other_caisse(db):
    return f.caisse("toulouse-31")


@pytest.fixture
def member(pg_caisse):
    """A sociétaire of Pyrénées Gascogne."""
    return f.MemberFactory(caisse_regionale=pg_caisse, display_name="Jeanne Dupont")


@pytest.fixture
def other_member(other_caisse):
    """A sociétaire of another regional bank (Toulouse 31)."""
    return f.MemberFactory(caisse_regionale=other_caisse, display_name="Paul Martin")


@pytest.fixture
def staff_pg(pg_caisse):
    return f.StaffFactory(caisse_regionale=pg_caisse, username="staff-pg")


@pytest.fixture
def staff_other(other_caisse):
    return f.StaffFactory(caisse_regionale=other_caisse, username="staff-t31")


@pytest.fixture
def national_staff(db):
    return f.StaffFactory(caisse_regionale=None, username="staff-national")


@pytest.fixture
def program(pg_caisse):
    return f.ProgramFactory(caisse_regionale=pg_caisse, code="carte-societaire-gers")


@pytest.fixture
def association(program):
    """A validated association of Pyrénées Gascogne, enrolled in this year's program."""
    association = f.AssociationFactory(
        caisse_regionale=program.caisse_regionale, name="Les Amis du Gers"
    )
    f.EnrollmentFactory(association=association, program=program)
    return association


# --- Browser tests --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        missing_service("needs Debian's chromium (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def html_documents():
    """Every HTML document the browser tests received (validated by ``pytest_sessionfinish``)."""
    from tests.browser.checks import DOCUMENTS

    return DOCUMENTS


def pytest_sessionfinish(session, exitstatus):
    """The Nu Html Checker on every page the browser tests visited, in one run at the end."""
    checks = __import__("sys").modules.get("tests.browser.checks")
    if checks is None or not checks.DOCUMENTS.documents:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    try:
        errors = checks.DOCUMENTS.validate()
    except FileNotFoundError as missing:
        errors = [str(missing)] if REQUIRE_SERVICES else []
        if not REQUIRE_SERVICES and reporter:
            reporter.write_line(f"Nu Html Checker skipped: {missing}", yellow=True)
    pages = len(checks.DOCUMENTS.documents)
    if reporter:
        reporter.write_line(
            f"Nu Html Checker: {len(errors)} error(s) in {pages} HTML page(s) the browser "
            "tests visited",
            red=bool(errors),
        )
        for error in errors:
            reporter.write_line(f"  {error}", red=True)
    if errors:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def page_checks(html_documents, request):
    """axe on every page load, HTML kept for the Nu Html Checker (``tests/browser/checks``).

    A page opened outside the ``page`` fixture (another person's device) joins with
    ``page_checks.watch(other_page)``.
    """
    from tests.browser.checks import PageChecks

    checks = PageChecks(documents=html_documents)
    yield checks
    if checks.violations:
        pytest.fail(
            "axe: serious or critical violations:\n" + "\n".join(checks.violations),
            pytrace=False,
        )


@pytest.fixture
def page(chromium_path, live_server, page_checks):
    """A Playwright page on Debian's Chromium, pointed at the live server, checked by axe."""
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in
    # a thread with a running loop unless told it is safe (it is: the test is synchronous).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("needs playwright (pip install -r requirements.lock)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(
            base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
        )
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        page_checks.watch(pg)
        yield pg
        # Playwright's sync API runs the test in a greenlet of its own: a database connection
        # the test opened there is never closed by Django and would block dropping the test
        # database. Close it from that greenlet.
        from django.db import connections

        connections.close_all()
        context.close()
        browser.close()
