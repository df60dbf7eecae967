"""Year-end sweep benchmark: the sweep against its floor, three runs on fresh data.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_sweep_bench \\
        .venv/bin/python bench/sweep_bench.py --wallets 1000000

Migrates the database and makes sure ``--wallets`` members of Pyrénées Gascogne exist (bulk
SQL, untimed, once per database). Then each run (``--runs``, 3 by default; see
``bench/runs.py``: it refuses to start on a busy machine unless ``--force``) builds fresh data
of its own, untimed: a new closed program, 200 new associations enrolled in it, one wallet per
member credited through a ledger credit entry (the ledger stays consistent), and half of the
members (even ids) with one of this run's associations as their favourite. Then it times, on
the same database:

(a) ``INSERT … SELECT`` of one row per wallet into an unindexed table (a bare write, shown
    for scale);
(b) the floor: the same sweep/return entries the job writes (``cagnotte.sweep.SWEEP_ENTRY``,
    the job's own column list and values), ready-made by one join and in the job's order
    (wallet id), inserted into the ledger
    with its indexes, checks and foreign keys (checked at once: ``SET CONSTRAINTS ALL
    IMMEDIATE``, since the keys are deferred to a commit that this rolled-back floor never
    reaches), then rolled back;
(c) the job: ``cagnotte.sweep.sweep_program`` (batches, balances, association figures),
    then checks that every wallet was moved and that ``check_ledger`` passes.

Prints each run, then the median and spread of (c), (b) and (c)/(b); the target is
(c) ≤ 1.5 × (b). The bench's rows stay (the database is the bench's own): each run adds its
program, so runs never share data; drop the database to start from nothing.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from runs import Runs, add_run_arguments, require_quiet  # noqa: E402

from cagnotte import sweep  # noqa: E402
from cagnotte.campaigns import Program  # noqa: E402
from cagnotte.ledger_checks import check_ledger  # noqa: E402
from cagnotte.ledger_partitions import ensure_ledger_partition  # noqa: E402

CAISSE = "pyrenees-gascogne"
FIRST_ACCOUNT = 96_000_000_000
PROGRAM = "banc-soldage"
ASSOCIATIONS = 200
# Bench associations' account numbers: 95,000,000,000 + run × 1,000 + n.
FIRST_ASSOCIATION = 95_000_000_000


def build_members(cursor, caisse_id: int, count: int) -> None:
    """``count`` bench members (once per database: a rerun adds only the missing ones)."""
    cursor.execute(
        "SELECT count(*) FROM accounts_user WHERE caisse_regionale_id = %s"
        " AND username LIKE %s || ':96%%'",
        [caisse_id, CAISSE],
    )
    if cursor.fetchone()[0] >= count:
        return
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,
            email, is_staff, is_active, date_joined, kind, caisse_regionale_id, account_number,
            display_name, is_societaire, recap_emails, closed_identifier)
        SELECT '!', false, %(caisse)s || ':' || (%(first)s + n)::text, '', '', '', false, true,
            now(), 'member', %(caisse_id)s, (%(first)s + n)::text, 'Sociétaire banc ' || n,
            true, false, ''
        FROM generate_series(0, %(count)s - 1) AS n
        ON CONFLICT DO NOTHING
        """,
        {"caisse": CAISSE, "first": FIRST_ACCOUNT, "count": count, "caisse_id": caisse_id},
    )


def build_run(cursor, caisse_id: int, count: int) -> int:
    """A fresh closed program for one run (see the module docstring); returns its id."""
    cursor.execute("SELECT count(*) FROM cagnotte_program WHERE code LIKE %s", [f"{PROGRAM}-%"])
    run = cursor.fetchone()[0] + 1
    cursor.execute(
        "INSERT INTO cagnotte_program (caisse_regionale_id, code, name, year, opens_on, closes_on,"
        " reminder_days_before)"
        " VALUES (%s, %s, %s, 2001, '2001-01-01', '2001-12-31', 21) RETURNING id",
        [caisse_id, f"{PROGRAM}-{run}", f"Programme de banc d’essai (soldage) {run}"],
    )
    program_id = cursor.fetchone()[0]
    ensure_ledger_partition(2001)  # inserted in SQL: Program.save did not make it
    cursor.execute(
        """
        INSERT INTO associations_association (caisse_regionale_id, account_number, name,
            search_name, presentation, address, postal_code, city, website, email, phone, logo,
            president_name, president_email, status, created_at, updated_at)
        SELECT %(caisse_id)s, (%(first)s + n)::text, 'Association banc ' || %(run)s || '-' || n,
            'association banc ' || %(run)s || '-' || n, '', '', '', '', '', '', '', '', '', '',
            'validated', now(), now()
        FROM generate_series(1, %(n)s) AS n
        """,
        {
            "caisse_id": caisse_id,
            "first": FIRST_ASSOCIATION + run * 1_000,
            "run": run,
            "n": ASSOCIATIONS,
        },
    )
    cursor.execute(
        "INSERT INTO associations_enrollment (association_id, program_id, enrolled_at) "
        "SELECT id, %s, now() FROM associations_association WHERE name LIKE %s",
        [program_id, f"Association banc {run}-%"],
    )
    cursor.execute(
        """
        INSERT INTO cagnotte_wallet (member_id, program_id, balance, created_at)
        SELECT u.id, %(program)s, 1 + (u.id %% 997), now() FROM accounts_user u
        WHERE u.account_number::bigint >= %(first)s AND u.account_number::bigint < %(last)s
          AND u.caisse_regionale_id = %(caisse_id)s
        """,
        {
            "program": program_id,
            "first": FIRST_ACCOUNT,
            "last": FIRST_ACCOUNT + count,
            "caisse_id": caisse_id,
        },
    )
    cursor.execute(
        """
        INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, memo,
            created_at, year)
        SELECT id, 'credit', balance, 'banc-soldage-credit:' || id, '2001-12', '', now(), 2001
        FROM cagnotte_wallet WHERE program_id = %s
        """,
        [program_id],
    )
    # Half the members (even ids) chose one of this run's associations as their favourite.
    cursor.execute(
        """
        WITH a AS (
            SELECT array_agg(e.association_id ORDER BY e.association_id) AS ids
            FROM associations_enrollment e WHERE e.program_id = %(program)s
        )
        INSERT INTO cagnotte_favourite (member_id, association_id, updated_at)
        SELECT w.member_id, a.ids[1 + (w.member_id %% array_length(a.ids, 1))], now()
        FROM cagnotte_wallet w, a WHERE w.program_id = %(program)s AND w.member_id %% 2 = 0
        ON CONFLICT (member_id) DO UPDATE SET association_id = EXCLUDED.association_id
        """,
        {"program": program_id},
    )
    return program_id


# The rows the sweep writes, ready-made by one join: one per wallet with a balance, in wallet
# id order, the order the job writes them in. Left in the join's order (a hash join's: the
# favourites' physical order), the floor's wallet key checks and its ledger (wallet_id, …) index
# inserts hop across tables much larger than shared_buffers; that cost grew with the bench
# database's history (each run adds 1 M wallets) and swung from run to run: measured on one
# program of 1 M wallets, backend CPU 21.3–22.8 s in the join's order against 14.6–16.0 s in
# wallet id order (docs/scale.md).
_READY = """(
    SELECT w.id AS wallet_id, w.balance, f.association_id AS to_association
    FROM cagnotte_wallet w LEFT JOIN cagnotte_favourite f ON f.member_id = w.member_id
    WHERE w.program_id = %(program_id)s AND w.balance > 0
    ORDER BY w.id
) AS ready"""


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (a local server), or
    None. On a shared machine the wall time of a step depends on who else runs; its backend's
    CPU time much less, so each step prints both."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label, fn):
    cpu = backend_cpu()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    used = "" if cpu is None else f" (database backend CPU {backend_cpu() - cpu:.2f} s)"
    print(f"  {label}: {seconds:.2f} s{used}", flush=True)
    return seconds


def one_run(caisse_id: int, count: int) -> tuple[float, float]:
    with connection.cursor() as cursor:
        start = time.perf_counter()
        program_id = build_run(cursor, caisse_id, count)
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
        print(
            f"  setup: program {program_id}, {count} wallets ({time.perf_counter() - start:.1f} s)"
        )
        program = Program.objects.get(pk=program_id)
        params = {**sweep.entry_params(program), "program_id": program_id}

        def plain():
            cursor.execute(
                "CREATE TABLE bench_sweep_plain (wallet_id bigint, balance bigint,"
                " to_association bigint)"
            )
            cursor.execute(
                f"INSERT INTO bench_sweep_plain SELECT wallet_id, balance, to_association "
                f"FROM {_READY}",
                params,
            )

        timed("(a) INSERT … SELECT into an unindexed table", plain)
        cursor.execute("DROP TABLE bench_sweep_plain")
        cursor.execute("CHECKPOINT")

        def floor():
            with transaction.atomic():
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(sweep.insert_entries_sql(_READY), params)
                transaction.set_rollback(True)

        floor_seconds = timed("(b) floor: the same entries into the ledger", floor)
        cursor.execute("VACUUM ANALYZE cagnotte_ledgerentry")
        cursor.execute("CHECKPOINT")
    outcome = None

    def run():
        nonlocal outcome
        outcome = sweep.sweep_program(program=program, run_by_label="bench")

    job_seconds = timed("(c) sweep_program", run)
    fig = outcome.figures
    print(
        f"      {fig.wallets} wallets, {fig.to_favourites} K to favourites, {fig.returned} K "
        f"returned; swept: {outcome.swept}"
    )
    if fig.wallets != count or not outcome.swept:
        sys.exit(f"the sweep moved {fig.wallets} wallets of {count}")
    result = check_ledger()
    print("  check_ledger:", "ok" if result.ok else "FAILED", flush=True)
    if not result.ok:
        sys.exit("check_ledger failed")
    return job_seconds, floor_seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wallets", type=int, default=1_000_000)
    add_run_arguments(parser)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only: set DATABASE_URL=postgres://…")
    require_quiet(args)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM caisses_caisseregionale WHERE code = %s", [CAISSE])
        caisse_id = cursor.fetchone()[0]
        start = time.perf_counter()
        build_members(cursor, caisse_id, args.wallets)
        print(f"members: {args.wallets} ({time.perf_counter() - start:.1f} s)", flush=True)
    runs = Runs("sweep (c)", floor_label="floor (b)", target=1.5)
    for n in range(args.runs):
        print(f"run {n + 1}:", flush=True)
        job, floor = one_run(caisse_id, args.wallets)
        runs.add(job=job, floor=floor)
    runs.report()


if __name__ == "__main__":
    main()
