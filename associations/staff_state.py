"""The states that the staff's cached pages are keyed by, each read in one query.

The staff's association list and dashboard spend their time in Python (the admin's changelist
machinery, the templates), so their content is a fragment rendered once per state
(``tookets.fragments``). A state names everything the fragment shows:

* ``BankAssociationsVersion`` — the bank's associations, every status and column (bumped by
  triggers in the writer's transaction);
* ``DirectoryVersion.current()`` — the names of local banks, activities and domains (the columns and
  the filters' choices show them);
* the sum of what the bank's associations received (``AssociationTotals.received_total``,
  every year): each gift or year-end sweep to one of them adds its positive amount in the
  same transaction as its ledger entry (``check_ledger`` holds them equal), and the ledger is
  append-only, so with the associations unchanged (the version above) an equal sum means the
  same gifts: the dashboard's figures and its monthly chart. Each totals row carries its
  association's bank (kept equal by a trigger), so the sum is one index range of the bank's
  rows — PostgreSQL reads it from the index alone — not a join over all its associations.

A missing version row (never bumped, or a TRUNCATE) is made again from a random start, as
the directory's is, so a state never repeats one a cached fragment may still be keyed by.
"""

import datetime
import secrets
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.dateparse import parse_datetime

from associations.models import Association, BankAssociationsVersion, DirectoryVersion
from cagnotte.models import AssociationTotals
from caisses.models import CaisseRegionale
from tookets.db_router import read_connection
from tookets.prepared import prepared_cursor

VERSIONS = BankAssociationsVersion._meta.db_table
DIRECTORY = DirectoryVersion._meta.db_table
ASSOCIATIONS = Association._meta.db_table
TOTALS = AssociationTotals._meta.db_table
BANKS = CaisseRegionale._meta.db_table

LIST_STATE_SQL = (
    f"SELECT (SELECT version FROM {VERSIONS} WHERE caisse_regionale_id = %(bank)s), "
    f"(SELECT version FROM {DIRECTORY} WHERE id = 1)"
)
DASHBOARD_STATE_SQL = (
    f"SELECT (SELECT version FROM {VERSIONS} WHERE caisse_regionale_id = %(bank)s), "
    f"(SELECT COALESCE(SUM(received_total), 0) FROM {TOTALS} "
    "WHERE caisse_regionale_id = %(bank)s), "
    f"(SELECT name FROM {BANKS} WHERE id = %(bank)s), "
    f"(SELECT MIN(submitted_at) FROM {ASSOCIATIONS} "
    f"WHERE caisse_regionale_id = %(bank)s AND status = %(submitted)s)"
)


def _ensure_versions(caisse_regionale_id: int) -> None:
    BankAssociationsVersion.objects.db_manager(DEFAULT_DB_ALIAS).get_or_create(
        caisse_regionale_id=caisse_regionale_id,
        defaults={"version": secrets.randbelow(10**15)},
    )
    DirectoryVersion.current()  # makes its row again if it is gone


def _read(sql: str, caisse_regionale_id: int) -> tuple:
    params = {"bank": caisse_regionale_id, "submitted": Association.Status.SUBMITTED.value}
    # From the database the page reads (tookets.db_router.read_connection): the state and the
    # content it keys come from the same one.
    with prepared_cursor(read_connection(BankAssociationsVersion)) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if None in row[:2]:  # made again on the primary, and read there
        _ensure_versions(caisse_regionale_id)
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return tuple(row)


def staff_list_state(caisse_regionale_id: int) -> tuple[int, int]:
    """(the bank's associations version, the directory's version): what the staff list of
    that bank shows, for a given query string."""
    return _read(LIST_STATE_SQL, caisse_regionale_id)


@dataclass(frozen=True)
class DashboardState:
    associations_version: int
    received: int  # what the bank's associations received, every year (see the module)
    bank_name: str  # the page's heading (regional banks have no version: the name itself)
    # Named by the version too, but read here: how long it has waited changes by the hour.
    oldest_submitted_at: datetime.datetime | None
    month: datetime.date  # the monthly chart's last month; its year is « donnés en … »'s


def staff_dashboard_state(caisse_regionale_id: int, *, today: datetime.date) -> DashboardState:
    """What the dashboard of that bank shows on ``today``, but for the time the oldest
    submitted file has waited (the view adds it from ``oldest_submitted_at``)."""
    version, received, bank_name, oldest = _read(DASHBOARD_STATE_SQL, caisse_regionale_id)
    if isinstance(oldest, str):  # SQLite hands a raw cursor the stored text (UTC)
        oldest = parse_datetime(oldest).replace(tzinfo=datetime.UTC)
    return DashboardState(
        associations_version=version,
        received=received,
        bank_name=bank_name,
        oldest_submitted_at=oldest,
        month=today.replace(day=1),
    )
