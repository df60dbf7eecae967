"""The ledger's partitions, one per campaign year (PostgreSQL; SQLite keeps one plain table).

On PostgreSQL ``cagnotte_ledgerentry`` is partitioned by LIST on ``year``, the campaign year of
the entry's program (migration 0012): this year's partition and its indexes stay small and
hot, past years freeze. A row whose year has no partition is refused by PostgreSQL (« no
partition of relation … found for row »), never stored elsewhere: there is no default
partition, on purpose. So a year's partition is made before its first entry:

* when a program is saved (``Program.save``: the admin, renewing a campaign, the demo, the
  benches and the tests' factories all create programs that way), for its year;
* by the beat job ``cagnotte.tasks.ensure_ledger_partitions`` (and ``manage.py
  ensure_ledger_partitions``), a safety net, for every program's year, this year and next.

A writer that still meets a missing year raises ``cagnotte.ledger.LedgerYearMissing``.

Creating a partition takes a short ACCESS EXCLUSIVE lock on the ledger's parent table (the
gifts of that moment wait for it), so it is done only when the partition is missing: the
catalog is read first, without a lock.
"""

from __future__ import annotations

import datetime
import re

from django.db import connection
from django.utils import timezone

LEDGER_TABLE = "cagnotte_ledgerentry"


def partition_name(year: int) -> str:
    return f"{LEDGER_TABLE}_y{int(year)}"


def is_partitioned() -> bool:
    """True on PostgreSQL once migration 0012 partitioned the ledger."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))",
            [LEDGER_TABLE],
        )
        return cursor.fetchone()[0]


def ledger_partition_years() -> list[int]:
    """The years that have a partition (empty on SQLite)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [LEDGER_TABLE],
        )
        prefix = f"{LEDGER_TABLE}_y"
        return [
            int(name[len(prefix) :]) for (name,) in cursor.fetchall() if name.startswith(prefix)
        ]


def ensure_ledger_partition(year: int) -> bool:
    """Make the ledger's partition for ``year`` if it is missing; True if it was made.

    Idempotent, safe to race (``IF NOT EXISTS``); a no-op on SQLite and before migration 0012.
    Runs in the caller's transaction: a program saved and rolled back takes its partition
    with it.
    """
    year = int(year)
    if not 1 <= year <= 9999 or connection.vendor != "postgresql":
        return False
    name = partition_name(year)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0] or not is_partitioned():
            return False
        # year is an int within 1..9999: safe to format (DDL takes no parameters).
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {LEDGER_TABLE} FOR VALUES IN ({year})"
        )
    return True


def ensure_ledger_partitions(today: datetime.date | None = None) -> list[int]:
    """The safety net (beat job, ``manage.py ensure_ledger_partitions``): a partition for every
    program's year, this year and next. Returns the years whose partition it made."""
    if connection.vendor != "postgresql":
        return []
    this_year = (today or timezone.localdate()).year
    with connection.cursor() as cursor:
        # Raw SQL: the Program model's module imports this one.
        cursor.execute("SELECT DISTINCT year FROM cagnotte_program")
        years = {this_year, this_year + 1} | {year for (year,) in cursor.fetchall()}
    return [year for year in sorted(years) if ensure_ledger_partition(year)]


# A table whose rows written at once exceed this share of the rows it had when last analyzed
# has its statistics read again: autovacuum's own default (autovacuum_analyze_scale_factor).
STALE_SHARE = 0.1


def analyze_after_bulk_write(written: dict[str, int]) -> list[str]:
    """After a bulk write that committed (an import, a sweep): ``ANALYZE`` each table of
    ``written`` (table name: rows just written) that has never been analyzed or whose rows
    written exceed ``STALE_SHARE`` of what its statistics count. Returns the tables analyzed.

    PostgreSQL's advice after a bulk load. The planner reads a partition without statistics
    as if any value matched 0.5 % of its rows: on a partition of a million entries never
    analyzed (the first import of a campaign year), a member's history, the wallet page's
    state and its « mes données » page each chose a scan of the whole partition (220 ms to
    1.65 s each, 7 to 25 times their time once analyzed). Autovacuum analyzes too, but only after
    its next round, and not at all where it is off. Reading a sample (30,000 rows at the
    default target) costs a fraction of the write. On SQLite, nothing to do."""
    if connection.vendor != "postgresql":
        return []
    names = [name for name, rows in written.items() if rows > 0]
    if not names:
        return []
    with connection.cursor() as cursor:
        # reltuples: the rows the statistics count, -1 before the first ANALYZE or VACUUM.
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            [names],
        )
        stale = [
            name
            for name, counted in cursor.fetchall()
            if counted < 0 or written[name] > STALE_SHARE * counted
        ]
        for name in sorted(stale):
            # A name of pg_class, matched above: safe to format (ANALYZE takes no parameter).
            cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")
    return sorted(stale)


def is_reference_constraint(name: str | None) -> bool:
    """True for ``entry_reference_unique`` as PostgreSQL names it in an error: on a
    partitioned table, a duplicate is reported under the partition's own index
    (``cagnotte_ledgerentry_y2026_reference_year_key``)."""
    return name == "entry_reference_unique" or bool(
        name and re.fullmatch(rf"{LEDGER_TABLE}_y\d+_reference_year_key", name)
    )
