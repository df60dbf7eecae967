"""Credit import benchmark: import_credits against its floor, and against a bare COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_h6 \
        .venv/bin/python bench/import_bench.py --rows 1000000 --floor

Creates (bulk SQL) bench members of Pyrénées Gascogne and a bench program if needed, then runs
``--runs`` times (3 by default; ``bench/runs.py``: refused while the machine is busy unless
``--force``), each run on a fresh CSV of ``--rows`` credits with new references, starting from
the same state (the previous run's credits and wallets removed): a bare ``COPY`` of that file
into an unindexed table of the same database, then ``import_credits`` on it, with the import's
time per step (wall and backend CPU) and the CPU of this process (the reader runs here); with
``--floor``, in the same run, what a COPY of the same rows as ready-made entries into the ledger
table costs (its indexes, checks and wallet foreign key: no import can write the entries for
less; the columns are the import's own list, ``postgres.LEDGER_COLUMNS``), rolled back. Then
the median and spread of the import, of the floor and of their ratio (target: at most 1.3), and
of the ratio to the bare COPY. With ``--floor`` it also times, rolled back, creating the
file's wallets alone (every run starts without them; the floor's entries point at the ones the
import made), and prints the ratio to the floor plus that: no target, it shows where the gap
lies. Where the database runs on this machine, each figure also gives
the PostgreSQL backend's CPU seconds, steadier than wall time on a busy machine. Bench rows are
removed afterwards unless ``--keep``.
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
from runs import Runs, add_run_arguments, require_quiet, spread  # noqa: E402

from cagnotte.imports import HEADER, import_credits  # noqa: E402
from cagnotte.imports import postgres as import_engine  # noqa: E402
from cagnotte.ledger_checks import check_ledger  # noqa: E402
from cagnotte.ledger_partitions import ensure_ledger_partition, partition_name  # noqa: E402

CAISSE = "pyrenees-gascogne"
FIRST_ACCOUNT = 97_000_000_000
YEAR = 2000  # the bench program's campaign year: its ledger partition holds only bench rows


def ensure_members(cursor, count: int) -> None:
    cursor.execute("SELECT id FROM caisses_caisseregionale WHERE code = %s", [CAISSE])
    caisse_id = cursor.fetchone()[0]
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
        INSERT INTO cagnotte_program (caisse_regionale_id, code, name, year, opens_on, closes_on,
            reminder_days_before)
        VALUES (%s, 'banc-import', 'Programme de banc d’essai', 2000, '2000-01-01', '2000-12-31',
            21), (%s, 'banc-import-wallets', 'Programme de banc d’essai (portefeuilles)', 2000,
            '2000-01-01', '2000-12-31', 21)
        ON CONFLICT DO NOTHING
        """,
        [caisse_id, caisse_id],
    )
    ensure_ledger_partition(YEAR)


def write_file(path: Path, rows: int, members: int, run: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        chunk = []
        for n in range(rows):
            account = FIRST_ACCOUNT + (n * 7919) % members
            chunk.append(
                f"{CAISSE},{account},banc-import,2000-{n % 12 + 1:02d},{n % 500 + 1},{run}-{n:08d}\n"
            )
            if len(chunk) == 50_000:
                out.writelines(chunk)
                chunk.clear()
        out.writelines(chunk)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, when the server runs on
    this machine (/proc readable): on a busy machine it varies much less than wall time."""
    return backend_cpu_of(backend_pid())


def profile_backend_cpu_per_step() -> dict[str, float]:
    """Make the import's step timer also note the backend CPU seconds of each step (bench
    only: one /proc read per step), in the dict returned (cleared by the caller per run)."""
    per_step: dict[str, float] = {}
    timer_class = import_engine._StepTimer
    original = timer_class.__call__

    def timed(self, name):
        now = backend_cpu_of(self_pid[0])
        if now is not None and getattr(self, "_cpu", None) is not None:
            per_step[name] = per_step.get(name, 0.0) + now - self._cpu
        self._cpu = now
        original(self, name)

    original_init = timer_class.__init__

    def init(self, report):
        original_init(self, report)
        self._cpu = backend_cpu_of(self_pid[0])

    self_pid = [backend_pid()]
    timer_class.__call__ = timed
    timer_class.__init__ = init
    return per_step


def backend_cpu_of(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    def __enter__(self):
        self.start = backend_cpu()
        return self

    def __exit__(self, *exc):
        end = backend_cpu()
        self.seconds = None if end is None or self.start is None else end - self.start

    def __str__(self):
        return "" if self.seconds is None else f" (backend CPU {self.seconds:.2f} s)"


def bare_copy(path: Path) -> tuple[float, CpuClock]:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
        cursor.execute(
            "CREATE TABLE bench_bare_copy (caisse_code text, account_number text, "
            "program_code text, period text, amount text, reference text)"
        )
    start = time.perf_counter()
    with CpuClock() as cpu:
        with transaction.atomic(), connection.cursor() as cursor, open(path, "rb") as f:
            with cursor.cursor.copy(
                "COPY bench_bare_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy:
                while block := f.read(1 << 20):
                    copy.write(block)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_bare_copy")
    return elapsed, cpu


def ledger_copy_floor(run: str) -> dict[str, tuple[float, CpuClock]]:
    """COPY the imported rows again, as ready-made entries, straight into the ledger table
    (its indexes, checks and wallet foreign key included), then roll back: what writing these
    rows costs at the very least, whatever the import does around it. Timed in parts: the COPY
    itself (heap, indexes, checks), the deferred wallet foreign-key checks, and for comparison
    the same COPY into a copy of the ledger table without its indexes, checks or keys."""
    parts = {}
    with tempfile.NamedTemporaryFile(suffix=".csv") as tmp:
        # The import's own column list: a column it fills is a column the floor writes.
        columns = ", ".join(import_engine.LEDGER_COLUMNS)
        values = ", ".join(
            "'floor-' || reference" if c == "reference" else c for c in import_engine.LEDGER_COLUMNS
        )
        with connection.cursor() as cursor, open(tmp.name, "wb") as out:
            with cursor.cursor.copy(
                f"COPY (SELECT {values} FROM cagnotte_ledgerentry WHERE reference LIKE %s) "
                "TO STDOUT WITH (FORMAT csv)",
                [run + "-%"],
            ) as copy:
                for block in copy:
                    out.write(block)
        for table in ("cagnotte_ledgerentry", "bench_ledger_heap"):
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
            try:
                with transaction.atomic(), connection.cursor() as cursor, open(tmp.name, "rb") as f:
                    if table == "bench_ledger_heap":
                        cursor.execute(
                            "CREATE TABLE bench_ledger_heap "
                            "(LIKE cagnotte_ledgerentry INCLUDING DEFAULTS INCLUDING IDENTITY)"
                        )
                    start, cpu = time.perf_counter(), CpuClock().__enter__()
                    with cursor.cursor.copy(
                        f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
                    ) as copy:
                        while block := f.read(1 << 20):
                            copy.write(block)
                    cpu.__exit__()
                    parts[table] = (time.perf_counter() - start, cpu)
                    if table == "cagnotte_ledgerentry":
                        # The deferred foreign-key checks.
                        parts["fk"] = _timed(cursor, "SET CONSTRAINTS ALL IMMEDIATE")
                    raise _Rollback
            except _Rollback:
                pass
    return parts


def wallets_floor() -> dict[str, tuple[float, CpuClock]]:
    """What creating the file's wallets costs at the very least, whatever the import does
    around it: the wallets the import created (one per member of the file), written again for
    a second bench program (same members, balances and columns) with the table's indexes,
    checks and keys, then the deferred member and program foreign-key checks; rolled back.
    The floor above does not include them: its entries point at the wallets the import made.
    A file whose members all have their wallet already (every month after the first) has no
    such cost; this bench's runs all start without them."""
    parts = {}
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            parts["insert"] = _timed(
                cursor,
                "INSERT INTO cagnotte_wallet (member_id, program_id, balance, created_at) "
                "SELECT w.member_id, (SELECT id FROM cagnotte_program "
                "WHERE code = 'banc-import-wallets'), w.balance, now() "
                "FROM cagnotte_wallet w JOIN cagnotte_program p ON p.id = w.program_id "
                "WHERE p.code = 'banc-import' ORDER BY w.member_id",
            )
            parts["fk"] = _timed(cursor, "SET CONSTRAINTS ALL IMMEDIATE")
            raise _Rollback
    except _Rollback:
        pass
    return parts


def _timed(cursor, sql: str) -> tuple[float, CpuClock]:
    """Runs ``sql``: its seconds and its backend CPU."""
    start, cpu = time.perf_counter(), CpuClock().__enter__()
    cursor.execute(sql)
    cpu.__exit__()
    return time.perf_counter() - start, cpu


class _Rollback(Exception):
    pass


def cleanup() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # The ledger is append-only (trigger of cagnotte/0005): the bench's own rows are
        # removed with the trigger off, inside this transaction only (table owner's right;
        # the application never does this).
        cursor.execute("ALTER TABLE cagnotte_ledgerentry DISABLE TRIGGER ledgerentry_append_only")
        cursor.execute(
            "DELETE FROM cagnotte_ledgerentry WHERE wallet_id IN (SELECT w.id FROM "
            "cagnotte_wallet w JOIN cagnotte_program p ON p.id = w.program_id "
            "WHERE p.code = 'banc-import')"
        )
        # The deleted rows' deferred checks (entries pointing at entries) run now: a table
        # with pending trigger events cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE cagnotte_ledgerentry ENABLE TRIGGER ledgerentry_append_only")
        cursor.execute(
            "DELETE FROM cagnotte_wallet WHERE program_id IN "
            "(SELECT id FROM cagnotte_program WHERE code = 'banc-import')"
        )


def vacuum() -> None:
    # Deleted bench rows leave dead index entries that would slow the next run's inserts.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE cagnotte_ledgerentry")
        cursor.execute("VACUUM ANALYZE cagnotte_wallet")
        # VACUUM empties the index pages of the deleted rows but keeps them, scattered through
        # the indexes: after a dozen runs the empty bench partition's reference index held
        # 272 MB, and later runs, import and floor alike, wrote into those pages. A ledger
        # that is only appended to never has them. Rebuilt, so that every run starts from
        # the same compact indexes: the bench's own partition (its program's year; empty
        # now) and the wallets' (a few hundred kilobytes besides the bench's).
        cursor.execute(f"REINDEX TABLE {partition_name(YEAR)}")
        cursor.execute("REINDEX TABLE cagnotte_wallet")


def one_run(args, n: int, per_step_cpu: dict[str, float]) -> dict:
    """One run on a fresh file (new references): the bare COPY, the import, and with
    ``--floor`` the floor, each printed; returns their seconds."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "credits.csv"
        run = f"banc-{uuid.uuid4().hex[:8]}"
        write_file(path, args.rows, args.members, run)
        size = path.stat().st_size
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        copy_seconds, copy_cpu = bare_copy(path)
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        per_step_cpu.clear()
        start, client_start = time.perf_counter(), time.process_time()
        with CpuClock() as import_cpu:
            report = import_credits(path=path, force=True)
        import_seconds = time.perf_counter() - start
        client_cpu = time.process_time() - client_start
    assert report.applied == args.rows and not report.errors, report.summary()
    figures.update(job=import_seconds, copy=copy_seconds)
    print(f"— run {n}: rows {args.rows}, members {args.members}, file {size / 1e6:.1f} MB")
    print(f"  bare COPY into an unindexed table: {copy_seconds:.2f} s{copy_cpu}")
    print(f"  import_credits:                    {import_seconds:.2f} s{import_cpu}")
    if import_cpu.seconds is not None and copy_cpu.seconds:
        figures.update(job_cpu=import_cpu.seconds, copy_cpu=copy_cpu.seconds)
    timings = getattr(report, "timings", {})
    print("  import profile: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    if per_step_cpu:
        print(
            "  import profile, backend CPU: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in per_step_cpu.items())
        )
    print(f"  import, this process's CPU (reading the file, Django): {client_cpu:.2f} s")
    if n == args.runs:
        start = time.perf_counter()
        check = check_ledger()
        print(
            f"  check_ledger afterwards: {time.perf_counter() - start:.2f} s, "
            f"{'ok' if check.ok else 'FAILED'}"
        )
    if args.floor:
        parts = ledger_copy_floor(run)
        (rows_s, rows_cpu), (fk_s, fk_cpu) = parts["cagnotte_ledgerentry"], parts["fk"]
        heap_s, heap_cpu = parts["bench_ledger_heap"]
        floor = rows_s + fk_s
        figures["floor"] = floor
        print(
            f"  floor, COPY of ready-made entries into the ledger table: {floor:.2f} s "
            f"({floor / copy_seconds:.2f}x the bare COPY; import = {import_seconds / floor:.2f}x it)"
        )
        print(f"    of which COPY (heap, indexes, checks): {rows_s:.2f} s{rows_cpu}")
        print(f"    of which wallet foreign-key checks:     {fk_s:.2f} s{fk_cpu}")
        print(
            f"    same COPY into the ledger's columns without indexes/keys: {heap_s:.2f} s"
            f"{heap_cpu}"
        )
        wallets = wallets_floor()
        (w_insert, w_insert_cpu), (w_fk, w_fk_cpu) = wallets["insert"], wallets["fk"]
        figures["with_wallets"] = floor + w_insert + w_fk
        print(
            f"  the file's wallets alone, created with their indexes, checks and keys: "
            f"{w_insert + w_fk:.2f} s (insert {w_insert:.2f} s{w_insert_cpu}, member and "
            f"program key checks {w_fk:.2f} s{w_fk_cpu})"
        )
        print(
            f"  floor and the file's wallets: {figures['with_wallets']:.2f} s "
            f"(import = {import_seconds / figures['with_wallets']:.2f}x it)"
        )
        if "job_cpu" in figures and rows_cpu.seconds is not None:
            figures["floor_cpu"] = rows_cpu.seconds + fk_cpu.seconds
            print(
                f"    floor in backend CPU: {figures['floor_cpu']:.2f} s "
                f"(import = {figures['job_cpu'] / figures['floor_cpu']:.2f}x it)"
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the last run's credits")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time a COPY of the same rows straight into the ledger table (rolled back)",
    )
    add_run_arguments(parser)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    require_quiet(args)
    call_command("migrate", verbosity=0)  # a fresh database works too
    with transaction.atomic(), connection.cursor() as cursor:
        ensure_members(cursor, args.members)
    against_copy = Runs("import", floor_label="bare COPY")  # for comparison: no target
    against_floor = Runs("import", floor_label="floor", target=1.3)
    # For reading the gap only (no target): the floor plus creating the file's wallets, which
    # every run of this bench must do (it starts without them) and the floor has ready.
    against_wallets = Runs("import", floor_label="floor and the file's wallets")
    cpu = {"job_cpu": [], "copy_cpu": [], "floor_cpu": []}
    per_step_cpu = profile_backend_cpu_per_step()
    for n in range(1, args.runs + 1):
        cleanup()  # every run starts from the same state: no bench credit, no bench wallet
        vacuum()
        figures = one_run(args, n, per_step_cpu)
        against_copy.add(job=figures["job"], floor=figures["copy"])
        if args.floor:
            against_floor.add(job=figures["job"], floor=figures["floor"])
            against_wallets.add(job=figures["job"], floor=figures["with_wallets"])
        for key, values in cpu.items():
            if key in figures:
                values.append(figures[key])
    print("against the bare COPY:")
    against_copy.report()
    if args.floor:
        print("against the floor and the file's wallets (no target: where the gap lies):")
        against_wallets.report()
        print("against the floor (target of issue 22: the median ratio at most 1.3):")
        against_floor.report()
    if cpu["job_cpu"] and len(cpu["job_cpu"]) == args.runs:
        print(f"backend CPU, median (min–max): import {spread(cpu['job_cpu'])} s", end="")
        if len(cpu["floor_cpu"]) == args.runs:
            ratios = [j / f for j, f in zip(cpu["job_cpu"], cpu["floor_cpu"], strict=True)]
            print(f", floor {spread(cpu['floor_cpu'])} s, ratio {spread(ratios)}", end="")
        print()
    if not args.keep:
        cleanup()
        vacuum()


if __name__ == "__main__":
    main()
