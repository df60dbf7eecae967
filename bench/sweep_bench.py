"""Year-end sweep benchmark: the sweep against two INSERT … SELECT floors, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_bench \\
        .venv/bin/python bench/sweep_bench.py --wallets 1000000

Migrates the database, then builds (bulk SQL, untimed) ``--wallets`` members of Pyrénées
Gascogne with one wallet each in a closed bench program, each wallet credited (a ledger
credit entry, so the ledger stays consistent), half of the members with a favourite enrolled
in the program. Then it times, on the same database:

(a) ``INSERT … SELECT`` of one row per wallet into an unindexed table (a bare write);
(b) the floor: ``INSERT … SELECT`` of the same ready-made sweep/return entries into the
    ledger table, with its indexes, checks and keys (rolled back afterwards);
(c) the sweep itself (``cagnotte.sweep.sweep_program``: batches, balances, association
    figures), then checks the ledger.

Prints the three times and the ratios (c)/(a) and (c)/(b); the target is (c) ≤ 1.5 × (b).
Bench rows stay (the database is the bench's own); ``--reset`` drops them first.
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

from cagnotte.campaigns import Program  # noqa: E402
from cagnotte.ledger_checks import check_ledger  # noqa: E402
from cagnotte.ledger_partitions import ensure_ledger_partition  # noqa: E402
from cagnotte.sweep import sweep_program  # noqa: E402

CAISSE = "pyrenees-gascogne"
FIRST_ACCOUNT = 96_000_000_000
PROGRAM = "banc-soldage"
ASSOCIATIONS = 200


def build(cursor, count: int) -> int:
    cursor.execute("SELECT id FROM caisses_caisseregionale WHERE code = %s", [CAISSE])
    caisse_id = cursor.fetchone()[0]
    cursor.execute("SELECT id FROM cagnotte_program WHERE code = %s", [PROGRAM])
    row = cursor.fetchone()
    if row:
        return row[0]
    cursor.execute(
        "INSERT INTO cagnotte_program (caisse_regionale_id, code, name, year, opens_on, closes_on,"
        " reminder_days_before)"
        " VALUES (%s, %s, 'Programme de banc d’essai (soldage)', 2001, '2001-01-01',"
        " '2001-12-31', 21) RETURNING id",
        [caisse_id, PROGRAM],
    )
    program_id = cursor.fetchone()[0]
    ensure_ledger_partition(2001)
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
    cursor.execute(
        """
        INSERT INTO associations_association (caisse_regionale_id, account_number, name,
            search_name, presentation, address, postal_code, city, website, email, phone, logo,
            president_name, president_email, status, created_at, updated_at)
        SELECT %(caisse_id)s, (95000000000 + n)::text, 'Association banc ' || n,
            'association banc ' || n, '', '', '', '', '', '', '', '', '', '', 'validated',
            now(), now()
        FROM generate_series(1, %(n)s) AS n
        """,
        {"caisse_id": caisse_id, "n": ASSOCIATIONS},
    )
    cursor.execute(
        "INSERT INTO associations_enrollment (association_id, program_id, enrolled_at) "
        "SELECT id, %s, now() FROM associations_association WHERE name LIKE 'Association banc %%'",
        [program_id],
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
    # Half the members (even ids) chose one of the enrolled associations as their favourite.
    cursor.execute(
        """
        WITH a AS (
            SELECT array_agg(id ORDER BY id) AS ids FROM associations_association
            WHERE name LIKE 'Association banc %%'
        )
        INSERT INTO cagnotte_favourite (member_id, association_id, updated_at)
        SELECT w.member_id, a.ids[1 + (w.member_id %% array_length(a.ids, 1))], now()
        FROM cagnotte_wallet w, a WHERE w.program_id = %s AND w.member_id %% 2 = 0
        ON CONFLICT DO NOTHING
        """,
        [program_id],
    )
    return program_id


# The rows the sweep writes, ready-made: one per wallet with a balance.
_READY = """
SELECT w.id, CASE WHEN f.association_id IS NULL THEN 'return' ELSE 'sweep' END, -w.balance,
       f.association_id, 'sweep:' || w.id, '', 'banc', now(), 2001
FROM cagnotte_wallet w
LEFT JOIN cagnotte_favourite f ON f.member_id = w.member_id
WHERE w.program_id = %s AND w.balance > 0
"""


def timed(label, fn):
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label}: {seconds:.2f} s", flush=True)
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wallets", type=int, default=1_000_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        start = time.perf_counter()
        program_id = build(cursor, args.wallets)
        cursor.execute(
            "SELECT count(*) FROM cagnotte_wallet WHERE program_id = %s AND balance > 0",
            [program_id],
        )
        wallets = cursor.fetchone()[0]
        print(f"setup: {wallets} wallets with a balance ({time.perf_counter() - start:.1f} s)")
        if wallets == 0:
            sys.exit("the bench program is swept already: drop the database and run again")
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")

        def plain():
            cursor.execute("DROP TABLE IF EXISTS bench_sweep_plain")
            cursor.execute(
                "CREATE TABLE bench_sweep_plain (wallet_id bigint, kind varchar(12), amount bigint,"
                " association_id bigint, reference varchar(100), period varchar(7),"
                " memo varchar(200), created_at timestamptz, year smallint)"
            )
            cursor.execute("INSERT INTO bench_sweep_plain " + _READY, [program_id])

        a = timed("(a) INSERT … SELECT into an unindexed table", plain)
        cursor.execute("DROP TABLE bench_sweep_plain")
        cursor.execute("CHECKPOINT")

        def floor():
            with transaction.atomic():
                cursor.execute(
                    "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, association_id,"
                    " reference, period, memo, created_at, year) " + _READY,
                    [program_id],
                )
                transaction.set_rollback(True)

        b = timed("(b) INSERT … SELECT of the same entries into the ledger", floor)
        cursor.execute("VACUUM ANALYZE cagnotte_ledgerentry")
        cursor.execute("CHECKPOINT")
    program = Program.objects.get(pk=program_id)
    outcome = None

    def run():
        nonlocal outcome
        outcome = sweep_program(program=program, run_by_label="bench")

    c = timed("(c) sweep_program", run)
    fig = outcome.figures
    print(
        f"    {fig.wallets} wallets, {fig.to_favourites} K to favourites, {fig.returned} K "
        f"returned; swept: {outcome.swept}"
    )
    print(f"ratio sweep / (a) = {c / a:.2f}")
    print(f"ratio sweep / (b) = {c / b:.2f} (target ≤ 1.5)")
    result = check_ledger()
    print("check_ledger:", "ok" if result.ok else "FAILED")


if __name__ == "__main__":
    main()
