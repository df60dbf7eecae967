import pytest
from django.db import connections


@pytest.fixture(autouse=True)
def _close_connections_opened_beside_playwright(request):
    """Close the test's database connections while Playwright still runs.

    A connection the test opened while Playwright's sync API runs can be closed from inside
    that session but not after it: the ``page`` fixture's own ``close_all()`` runs once
    Playwright has stopped and leaves it open, which blocks dropping the PostgreSQL test
    database at the end of the run. Set up after ``page``, this is torn down before it.
    """
    if "page" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("page")
    yield
    connections.close_all()
