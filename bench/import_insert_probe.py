"""The credit import's entry write, two ways, on the same staged import (issue 22 §3).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_b_import \
        .venv/bin/python bench/import_insert_probe.py --order ABBA --checks

For each letter of ``--order``: the bench's wallets and credits removed and vacuumed (as
``import_bench.py`` starts each run), a fresh file of ``--rows`` credits (new references), then
``import_credits`` in an outer transaction with its entry statement (``_PG_INSERT_NEW``)
replaced by a no-op: the staged rows, the wallets created and locked are left in place. Then,
timed (wall and PostgreSQL backend CPU): the new wallets' own foreign-key checks (member,
program), then the entries written

* ``A``: the import's ``INSERT … SELECT`` (the executor's insert, row by row);
* ``B``: the same values, in the same order, out with ``COPY (SELECT …) TO STDOUT (FORMAT
  binary)`` into this process's memory, then back with ``COPY cagnotte_ledgerentry (…) FROM
  STDIN (FORMAT binary)`` on the same connection and transaction (COPY's batched inserts);

and with ``--checks`` the entries' deferred wallet foreign-key checks. Everything is rolled
back. Each letter stages its own file: an insert rolled back leaves dead index entries of its
references, which would slow a second insert of the same references.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from import_bench import (  # noqa: E402
    backend_cpu,
    cleanup,
    ensure_members,
    vacuum,
    write_file,
)
from runs import add_run_arguments, require_quiet  # noqa: E402

from cagnotte.imports import import_credits  # noqa: E402
from cagnotte.imports import postgres as engine  # noqa: E402
from cagnotte.ledger import entry_time  # noqa: E402

_SELECT = engine._PG_INSERT_NEW.split("\nSELECT ", 1)[1]
COPY_OUT = f"COPY (SELECT {_SELECT}) TO STDOUT (FORMAT binary)"
COPY_IN = (
    f"COPY cagnotte_ledgerentry ({', '.join(engine.LEDGER_COLUMNS)}) FROM STDIN (FORMAT binary)"
)


class _Rollback(Exception):
    pass


def timed(cursor, label: str, action, *args) -> str:
    start, cpu = time.perf_counter(), backend_cpu()
    extra = action(cursor, *args)
    extra = extra if isinstance(extra, str) else ""  # (cursor.execute returns the cursor)
    return f"{label} {time.perf_counter() - start:.2f} s (backend CPU {backend_cpu() - cpu:.2f} s){extra}"


def insert_select(cursor, params) -> str:
    cursor.execute(engine._PG_INSERT_NEW, params)
    return f", {cursor.rowcount} rows"


def copy_out_copy_in(cursor, params) -> str:
    raw = cursor.cursor  # psycopg's, behind Django's wrapper
    start, cpu, client = time.perf_counter(), backend_cpu(), time.process_time()
    blocks = []
    with raw.copy(COPY_OUT, params) as copy:
        for block in copy:
            blocks.append(bytes(block))
    out_s, out_cpu = time.perf_counter() - start, backend_cpu() - cpu
    with raw.copy(COPY_IN) as copy:
        for block in blocks:
            copy.write(block)
    return (
        f"; out {out_s:.2f} s (backend CPU {out_cpu:.2f} s), "
        f"{sum(map(len, blocks)) / 1e6:.0f} MB, this process's CPU "
        f"{time.process_time() - client:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--order", default="AB", help="A: INSERT … SELECT, B: COPY out + in")
    parser.add_argument("--checks", action="store_true", help="also the entries' key checks")
    add_run_arguments(parser)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The probe needs PostgreSQL: set DATABASE_URL=postgres://…")
    require_quiet(args)
    call_command("migrate", verbosity=0)
    with transaction.atomic(), connection.cursor() as cursor:
        ensure_members(cursor, args.members)
    methods = {
        "A": ("INSERT … SELECT", insert_select),
        "B": ("COPY out + COPY in", copy_out_copy_in),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(conname), ', ') FROM pg_constraint "
            "WHERE conrelid = 'cagnotte_wallet'::regclass AND contype = 'f'"
        )
        wallet_keys = cursor.fetchone()[0]
    for n, letter in enumerate(args.order, 1):
        label, write = methods[letter]
        cleanup()
        vacuum()
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "credits.csv"
            write_file(path, args.rows, args.members, f"probe-{uuid.uuid4().hex[:8]}")
            try:
                with transaction.atomic():
                    real = engine._PG_INSERT_NEW
                    engine._PG_INSERT_NEW = "SELECT %(created_at)s"  # staged, nothing written
                    try:
                        report = import_credits(path=path, force=True)
                    finally:
                        engine._PG_INSERT_NEW = real
                    assert report.rows == args.rows and not report.errors, report.summary()
                    with connection.cursor() as cursor:
                        lines = [
                            timed(
                                cursor,
                                "new wallets' key checks",
                                lambda c: c.execute(f"SET CONSTRAINTS {wallet_keys} IMMEDIATE"),
                            ),
                            timed(
                                cursor,
                                f"entries, {label}:",
                                write,
                                {"created_at": entry_time()},
                            ),
                        ]
                        if args.checks:
                            lines.append(
                                timed(
                                    cursor,
                                    "entries' key checks",
                                    lambda c: c.execute("SET CONSTRAINTS ALL IMMEDIATE"),
                                )
                            )
                    print(f"— {n} {letter}: " + "; ".join(lines), flush=True)
                    raise _Rollback
            except _Rollback:
                pass
    cleanup()
    vacuum()


if __name__ == "__main__":
    main()
