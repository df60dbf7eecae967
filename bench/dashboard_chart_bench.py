"""The staff dashboard's monthly chart with a big ledger: summing the ledger against reading the
month totals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_b_chart \\
        .venv/bin/python bench/dashboard_chart_bench.py --entries 1000000

Migrates the database and seeds the demo when it has none. Then, once per database (untimed),
adds gifts and year-end sweeps until the ledger holds ``--entries`` of the bench's own (bulk
SQL: from the demo's wallets of Pyrénées Gascogne's current campaign to its validated
associations, dated across the campaign year up to today), then writes every association's
month totals again from the ledger (``cagnotte.figures.ledger_month_totals``, what
``check_ledger`` compares them with), and analyzes. Those entries skip the ledger's writer:
the balances, the other figures and the supporters do not follow them, so ``check_ledger``
fails on this database by design (it is the bench's own).

Then times, alternately, ``--repeat`` times each, the chart's figures for the bank's
associations (the last twelve months):

* read as the chart read them until the tenth session: a grouped sum over the ledger's gifts
  and sweeps of those associations since the first month;
* read as it reads them now (``associations.charts.tookets_given_per_month``): a grouped sum
  over their month totals;

and prints each one's median and spread, and whether both gave the same figures. Bench rows
stay (the database is the bench's own).
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.db.models.functions import TruncMonth  # noqa: E402
from django.utils import timezone  # noqa: E402
from runs import add_run_arguments, require_quiet  # noqa: E402

from associations.charts import _month_starts, tookets_given_per_month  # noqa: E402
from associations.models import Association  # noqa: E402
from cagnotte.figures import ledger_month_totals  # noqa: E402
from cagnotte.models import AssociationMonthTotals, LedgerEntry  # noqa: E402
from caisses.models import CaisseRegionale  # noqa: E402

CAISSE = "pyrenees-gascogne"
PREFIX = "banc-graphe-"


def add_entries(caisse_id: int, wanted: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM cagnotte_ledgerentry WHERE reference LIKE %s", [PREFIX + "%"]
        )
        have = cursor.fetchone()[0]
    if have >= wanted:
        print(f"bench entries: {have} already")
        return
    today = timezone.localdate()
    year = today.year
    days = max(1, (today - datetime.date(year, 1, 1)).days)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH w AS (
                SELECT w.id, row_number() OVER (ORDER BY w.id) - 1 AS i, count(*) OVER () AS n
                FROM cagnotte_wallet w JOIN cagnotte_program p ON p.id = w.program_id
                WHERE p.caisse_regionale_id = %(caisse)s AND p.year = %(year)s
            ), a AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS i, count(*) OVER () AS n
                FROM associations_association
                WHERE caisse_regionale_id = %(caisse)s AND status = 'validated'
            )
            INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, memo,
                created_at, year, association_id)
            SELECT w.id, CASE WHEN g %% 5 = 0 THEN 'sweep' ELSE 'gift' END, -(1 + g %% 50),
                %(prefix)s || g, '', '', make_timestamptz(%(year)s, 1, 1, 12, 0, 0)
                + (g %% %(days)s) * interval '1 day', %(year)s, a.id
            FROM generate_series(%(have)s, %(wanted)s - 1) AS g
            JOIN w ON w.i = g %% w.n JOIN a ON a.i = g %% a.n
            """,
            {
                "caisse": caisse_id,
                "year": year,
                "days": days,
                "have": have,
                "wanted": wanted,
                "prefix": PREFIX,
            },
        )
        added = cursor.rowcount
        AssociationMonthTotals.objects.all().delete()
        AssociationMonthTotals.objects.bulk_create(
            [
                AssociationMonthTotals(association_id=a, month=m, received=r, matched=x)
                for (a, m), (r, x) in ledger_month_totals().items()
            ],
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"bench entries: {added} added ({time.perf_counter() - start:.1f} s, untimed)")


def from_ledger(associations, months: int = 12) -> list[int]:
    """The chart's figures as it read them before the month totals: the ledger summed."""
    starts = _month_starts(timezone.localdate(), months)
    since = timezone.make_aware(datetime.datetime.combine(starts[0], datetime.time.min))
    rows = (
        LedgerEntry.objects.filter(
            kind__in=[LedgerEntry.Kind.GIFT, LedgerEntry.Kind.SWEEP],
            association__in=associations.values("pk"),
            created_at__gte=since,
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    given = {}
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, datetime.datetime) else month
        given[month] = given.get(month, 0) - row["total"]
    return [given.get(start, 0) for start in starts]


def from_month_totals(associations) -> list[int]:
    return [value for _label, value in tookets_given_per_month(associations=associations)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    add_run_arguments(parser)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    require_quiet(args)
    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--if-empty", verbosity=0)
    caisse = CaisseRegionale.objects.get(code=CAISSE)
    add_entries(caisse.pk, args.entries)
    associations = Association.objects.filter(caisse_regionale=caisse)
    times = {"ledger": [], "month totals": []}
    figures = {}
    for _ in range(args.repeat):
        for name, read in (("ledger", from_ledger), ("month totals", from_month_totals)):
            start = time.perf_counter()
            figures[name] = read(associations)
            times[name].append(time.perf_counter() - start)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cagnotte_ledgerentry WHERE kind IN ('gift', 'sweep')")
        entries = cursor.fetchone()[0]
    print(
        f"{associations.count()} associations of {caisse.name}, {entries} gifts and sweeps in "
        f"the ledger, {AssociationMonthTotals.objects.count()} month totals rows"
    )
    for name, values in times.items():
        print(
            f"  the chart's figures from the {name}: median {statistics.median(values) * 1000:.1f}"
            f" ms ({min(values) * 1000:.1f}–{max(values) * 1000:.1f}, {len(values)} reads)"
        )
    print(f"  same figures both ways: {figures['ledger'] == figures['month totals']}")


if __name__ == "__main__":
    main()
