"""The PostgreSQL engine: the reader's records through ``COPY``, then set-based SQL.

The records the one reader produced (never the file's own bytes) are streamed with
``COPY … FROM STDIN (FORMAT csv)`` into a temporary table; validation and application are a
handful of set-based statements, all in one transaction: validation into a temporary table
(its CASE generated from ``rules.ROW_RULES``; the insert and the totals read each row's
member and program there rather than join for them again), one aggregate per wallet (new
wallets, locks, balances), then the entries. Affected wallets are locked in id order before
any write, by the ledger's one lock helper, as gifts lock theirs: an import and gifts (or two
imports) queue behind each other and never deadlock (the wallets the import creates are its
own until it commits: not locked). Entries go in with a plain ``INSERT … SELECT`` and each wallet's
balance grows by its total in the file (a wallet created is created with it); if a reference
is already in the ledger (the same file twice, overlapping files) the unique constraint stops
that statement, it is rolled back to a savepoint and the general path runs instead (``ON
CONFLICT (reference, year) DO NOTHING RETURNING`` feeding the balance update). Writing the entries
themselves (heap, three indexes, then the deferred foreign-key checks of each entry at commit)
is most of the time: see ``bench/import_bench.py --floor``, which writes the same columns
(``LEDGER_COLUMNS``).
"""

from __future__ import annotations

import time

from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Value

from cagnotte.imports import rules
from cagnotte.imports.reader import COLUMNS, KEY_COLUMNS, Reader, copy_line
from cagnotte.imports.report import ImportReport, progress_bar
from cagnotte.ledger import entry_time, locked_wallets, partition_guard
from cagnotte.ledger_partitions import is_reference_constraint
from cagnotte.models import Wallet

PG_WORK_MEM = "256MB"
# The temporary tables' buffers (this backend's own, not shared_buffers): a million rows of
# the file staged, then checked, are about 170 MB. With PostgreSQL's default (8 MB) each
# table is written out to the operating system as it fills and read back by every later
# statement: a third of the time before the entries are written. The pages are allocated
# only as the tables grow. PostgreSQL fixes this size at a session's first use of a
# temporary table: see _session_settings.
PG_TEMP_BUFFERS = "512MB"
COPY_CHUNK = 2000  # records per write to COPY

_TEMP_TABLES = (
    "credit_import_fields, credit_import_rows, credit_import_totals, credit_import_keys, "
    "credit_import_wallets"
)

# The reader's records: its line numbers, why a line could not be read, the file's columns
# (reader.COLUMNS) as text. References compare byte-wise ("C"), as the ledger's unique index
# on them does.
_COLLATION = {"reference": ' COLLATE "C"'}
_PG_FIELDS_TABLE = (
    "CREATE TEMP TABLE credit_import_fields (line bigint NOT NULL, read_error text, "
    + ", ".join(f"{c} text{_COLLATION.get(c, '')}" for c in COLUMNS)
    + ") ON COMMIT DROP"
)
_PG_COPY = (
    f"COPY credit_import_fields FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({', '.join(COLUMNS)}))"
)

# Every row checked once, set-based; the CASE comes from rules.ROW_RULES (all but the deferred
# duplicate rule, below). The OFFSET 0 fences compute amount_ok and amount_value once per row:
# without them the planner copies their expressions into every rule and column reading them
# (a quarter of the validation's time). Digit checks use ltrim(x, '0123456789') = '' rather than regular
# expressions: a million rows times four regex matches was a third of the validation time.
# The keyed rules (regional bank, program, period) are checked once per distinct key of the
# file (``k``: a dozen rows for a month's file), which also finds each row's regional bank and
# program: one join on the key instead of a join per table and the period's rule per row (a
# third of the validation's time). The distinct keys are the reader's (Reader.keys, sent as
# arrays): no pass over the staged rows to find them. The members are read from the file's
# regional banks only: the last condition of the join says again what k.caisse_id says, as
# the banks' ids (caisse_ids, read before), which the planner can use to read only their
# members through the index on their bank. Without it the hash of members holds every
# member of every bank (the join's own condition cannot narrow the scan of accounts_user),
# twelve million at national size. With 2 M members of another bank in the database, the
# validation of 1 M rows took 2.7-3.0 s of backend CPU without it, 1.7 s with it (2.0 s with
# the ids as a subquery: the planner then scans every member and filters).
_PG_PARSE = """
CREATE TEMP TABLE credit_import_rows ON COMMIT DROP AS
SELECT s.line, s.reference, s.period, u.id AS member_id, k.program_id,
       k.program_year,
       s.amount_value AS amount,
       {error_case} AS error
FROM (
    SELECT a.*, CASE WHEN a.amount_ok THEN a.amount::bigint END AS amount_value
    FROM (
        SELECT f.*, octet_length(amount) BETWEEN 1 AND {digits}
                    AND {amount_digits} AS amount_ok
        FROM credit_import_fields f
        OFFSET 0
    ) a
    OFFSET 0
) s
LEFT JOIN (
    SELECT s.caisse_code, s.program_code, s.period, cr.id AS caisse_id, p.id AS program_id,
           p.year AS program_year, {keyed_columns}
    FROM unnest({key_arrays}) AS s ({key_columns})
    LEFT JOIN caisses_caisseregionale cr ON cr.code = s.caisse_code
    LEFT JOIN cagnotte_program p ON p.code = s.program_code
) k ON k.caisse_code = s.caisse_code AND k.program_code = s.program_code AND k.period = s.period
LEFT JOIN accounts_user u
       ON u.caisse_regionale_id = k.caisse_id AND u.account_number = s.account_number
      AND u.kind = 'member'
      AND u.caisse_regionale_id = ANY(%(caisse_ids)s::bigint[])
"""

# The deferred rule: a reference seen earlier in the file (on any readable row). Grouping a
# million references is a third of the validation, and a clean file cannot break it: when no
# row broke another rule and the plain INSERT below went through the ledger's unique index,
# no reference occurred twice. So it runs when the file has bad rows (a duplicate of a bad
# row is reported too), for --all-or-nothing (every error before any write), and when that
# INSERT fails on a reference.
_PG_DEFERRED = """
UPDATE credit_import_rows s SET error = {reason}
FROM (
    SELECT reference, min(line) AS first_line
    FROM credit_import_fields WHERE read_error IS NULL
    GROUP BY 1 HAVING count(*) > 1
) d
WHERE s.error IS NULL AND d.reference = s.reference AND ({condition})
"""

# One pass over the valid rows: per (member, program), how many credits and how much (a
# numeric sum: it cannot overflow). The wallet upsert, the locks, the total check and the
# balance update then read 1 row per wallet, not per credit.
_PG_TOTALS = """
CREATE TEMP TABLE credit_import_totals ON COMMIT DROP AS
SELECT member_id, program_id, count(*) AS n, sum(amount) AS total
FROM credit_import_rows WHERE error IS NULL
GROUP BY member_id, program_id
"""

# A wallet whose total alone would not fit is not even created (rules.wallet_total_*). On the
# fast path (every valid row will be inserted, or the savepoint undoes it all) a new wallet is
# created with its balance: no UPDATE of it afterwards (a second version of each new row, and
# its member and program foreign-key checks queued once more for the commit). Each wallet of the file is kept with the id of the wallet created for it, if
# one was (credit_import_keys): the others are the ones to lock.
#
# The wallets missing are found first (NOT EXISTS, one probe of the (member, program) unique
# index each) and created by a plain INSERT: no ON CONFLICT, whose speculative insertion costs
# a probe and a confirmation record per row (0.35 s more for 100,000 new wallets, measured on
# this statement alone). A wallet created meanwhile by another transaction (a member's first
# gift, committed after this statement's snapshot) makes that INSERT fail on the unique
# constraint: the savepoint around it is rolled back and the statement runs again with
# ON CONFLICT DO NOTHING (_PG_WALLETS_ON_CONFLICT), which leaves that wallet to be locked like
# any wallet that existed.
_PG_CREATE_WALLETS = """
CREATE TEMP TABLE credit_import_keys ON COMMIT DROP AS
WITH created AS (
    INSERT INTO cagnotte_wallet (member_id, program_id, balance, created_at)
    SELECT member_id, program_id, CASE WHEN %(credited)s THEN total ELSE 0 END, now()
    FROM credit_import_totals k
    WHERE total <= %(balance_max)s
      AND NOT EXISTS (
          SELECT FROM cagnotte_wallet w
          WHERE w.member_id = k.member_id AND w.program_id = k.program_id
      )
    ORDER BY member_id, program_id
    {on_conflict}
    RETURNING id, member_id, program_id
)
SELECT k.member_id, k.program_id, c.id AS created_id
FROM credit_import_totals k
LEFT JOIN created c ON c.member_id = k.member_id AND c.program_id = k.program_id
"""
_PG_WALLETS_ON_CONFLICT = "ON CONFLICT (member_id, program_id) DO NOTHING"
_WALLET_UNIQUE = "wallet_one_per_member_program"

# Every affected wallet that existed before, locked first by ``ledger.locked_wallets`` in id
# order (the order every writer of several wallets uses), before any entry is written: no
# deadlock with gifts or another import. A batch job: it waits as long as it takes. (The
# wallets this import created are its own until it commits: nobody else can write them.) The
# rows are locked in the database, never read into Python; this statement then keeps the
# locked wallets as a small map (member, program) -> wallet (id, balance, credited: the
# file's total already in its balance) for the writes below: credit_import_wallets, to which
# the wallets created are added (their count is the report's).
_PG_AFFECTED_WALLETS = (
    "EXISTS (SELECT FROM credit_import_keys k WHERE k.member_id = cagnotte_wallet.member_id "
    "AND k.program_id = cagnotte_wallet.program_id AND k.created_id IS NULL)"
)
_PG_ADD_CREATED_WALLETS = """
WITH added AS (
    INSERT INTO credit_import_wallets (id, member_id, program_id, balance, credited)
    SELECT created_id, member_id, program_id, 0, %(credited)s
    FROM credit_import_keys WHERE created_id IS NOT NULL
    RETURNING 1
)
SELECT count(*) FROM added
"""

# rules.wallet_total_too_large, on the locked balances (0 for a wallet not created).
_PG_TOTALS_TOO_LARGE = """
SELECT k.member_id, k.program_id FROM credit_import_totals k
LEFT JOIN credit_import_wallets w ON w.member_id = k.member_id AND w.program_id = k.program_id
WHERE k.total > %(balance_max)s - coalesce(w.balance, 0)
"""
_PG_REPORT_TOO_LARGE = """
WITH too_large (member_id, program_id) AS (SELECT * FROM unnest(%(members)s, %(programs)s)),
flagged AS (
    UPDATE credit_import_rows r SET error = %(reason)s FROM too_large t
    WHERE r.error IS NULL AND r.member_id = t.member_id AND r.program_id = t.program_id
), dropped_totals AS (
    DELETE FROM credit_import_totals k USING too_large t
    WHERE k.member_id = t.member_id AND k.program_id = t.program_id
)
DELETE FROM credit_import_wallets w USING too_large t
WHERE w.member_id = t.member_id AND w.program_id = t.program_id
"""

# The ledger's columns an imported credit fills, each with its value (over ``r``, the file's
# row, and ``w``, its wallet; ``r.program_year`` is its program's year): the one list that the
# plain INSERT, the general path and the bench's floor (bench/import_bench.py) write. A new
# column of the ledger is one line here.
LEDGER_VALUES = {
    "wallet_id": "w.id",
    "kind": "'credit'",
    "amount": "r.amount",
    "reference": "r.reference",
    "period": "r.period",
    "memo": "''",
    "created_at": "%(created_at)s",
    "year": "r.program_year",  # the partition key: the program's campaign year
}
LEDGER_COLUMNS = tuple(LEDGER_VALUES)
_LEDGER_COLUMNS = ", ".join(LEDGER_COLUMNS)
_LEDGER_VALUES = ", ".join(LEDGER_VALUES.values())

# Fast path, for rows whose references are all new (the common case: this month's file):
# a plain INSERT, with no ON CONFLICT arbiter and no RETURNING, in wallet order (the
# (wallet, -created_at) index and the commit-time wallet foreign-key checks then walk their
# pages in order). A reference already in the ledger makes it fail on the unique constraint;
# the caller then rolls it back and takes the general path below. The same rows sent out with
# COPY … TO STDOUT and back with COPY … FROM STDIN (COPY's batched writes) cost as much of the
# backend's time and more of the client's (bench/import_insert_probe.py, docs/scale.md).
_PG_INSERT_NEW = f"""
INSERT INTO cagnotte_ledgerentry ({_LEDGER_COLUMNS})
SELECT {_LEDGER_VALUES}
FROM credit_import_rows r
JOIN credit_import_wallets w ON w.member_id = r.member_id AND w.program_id = r.program_id
WHERE r.error IS NULL
ORDER BY w.id
"""
# Every valid row was inserted: each wallet's new balance adds its total of the file (the
# wallets created with it already hold it).
_PG_BALANCES_FROM_TOTALS = """
UPDATE cagnotte_wallet w SET balance = w.balance + k.total
FROM credit_import_wallets l
JOIN credit_import_totals k ON k.member_id = l.member_id AND k.program_id = l.program_id
WHERE w.id = l.id AND NOT l.credited
"""

# General path: rows already imported (same file twice, overlapping files) are skipped by
# ON CONFLICT, and the balances come from what was actually inserted.
_PG_APPLY = f"""
WITH inserted AS (
    INSERT INTO cagnotte_ledgerentry ({_LEDGER_COLUMNS})
    SELECT {_LEDGER_VALUES}
    FROM credit_import_rows r
    JOIN credit_import_wallets w ON w.member_id = r.member_id AND w.program_id = r.program_id
    WHERE r.error IS NULL
    ORDER BY w.id
    ON CONFLICT (reference, year) DO NOTHING
    RETURNING wallet_id, amount
), per_wallet AS (
    SELECT wallet_id, sum(amount) AS total, count(*) AS n FROM inserted GROUP BY wallet_id
), updated AS (
    UPDATE cagnotte_wallet w SET balance = w.balance + per_wallet.total
    FROM per_wallet WHERE w.id = per_wallet.wallet_id
    RETURNING per_wallet.n, per_wallet.total
)
SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM updated
"""


class _StepTimer:
    """Adds the seconds since the previous step to ``report.timings[name]``."""

    def __init__(self, report: ImportReport):
        self.report = report
        self.last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.report.timings[name] = self.report.timings.get(name, 0.0) + now - self.last
        self.last = now


class _DeferredNeeded(Exception):
    """Wallet totals too large on a file whose deferred rule was not checked yet."""


class _Rejected(Exception):
    """All or nothing, and a wallet total found too large once wallets were locked."""


def import_postgres(reader: Reader, report: ImportReport, *, size: int, progress: bool):
    timer = _StepTimer(report)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                _stage_and_apply(cursor, reader, report, timer, size, progress)
    except _Rejected:
        pass
    # The ledger's wallet foreign key is deferred: one check per new entry runs at commit.
    timer("commit")


def _fetch_errors(cursor, report: ImportReport) -> None:
    """The rows' errors into the report: read after every statement that sets some (the
    validation, the deferred rule, the wallet totals), and only then."""
    cursor.execute(
        "SELECT line, error FROM credit_import_rows WHERE error IS NOT NULL ORDER BY line"
    )
    report.errors = [(int(line), error) for line, error in cursor.fetchall()]


def _stage_and_apply(cursor, reader, report, timer, size, progress):
    ceiling = rules.amount_ceiling()
    error_case, params = rules.sql_error_case(ceiling)
    _session_settings(cursor)
    # ON COMMIT DROP is not enough when the import runs inside a caller's transaction
    # (it is then a savepoint): start from a clean slate.
    cursor.execute(f"DROP TABLE IF EXISTS {_TEMP_TABLES}")
    cursor.execute(_PG_FIELDS_TABLE)
    _copy_records(cursor, reader, size, progress)
    report.rows = reader.rows
    # The planner's count of rows (the keys' is the arrays' length).
    cursor.execute("ANALYZE credit_import_fields (account_number)")
    timer("staging COPY")
    steps = progress_bar(4, progress, "Validation et application", unit="étapes")
    parse = _PG_PARSE.format(
        error_case=error_case,
        digits=rules.AMOUNT_DIGITS_MAX,
        amount_digits=rules.sql_digits_only("amount"),
        keyed_columns=rules.sql_keyed_columns(),
        key_arrays=", ".join(f"%(key_{c})s::text[]" for c in KEY_COLUMNS),
        key_columns=", ".join(KEY_COLUMNS),
    )
    keys = list(zip(*reader.keys, strict=True)) or [()] * len(KEY_COLUMNS)
    params |= {f"key_{c}": list(values) for c, values in zip(KEY_COLUMNS, keys, strict=True)}
    cursor.execute(
        "SELECT coalesce(array_agg(id), '{}') FROM caisses_caisseregionale "
        "WHERE code = ANY(%s::text[])",
        [sorted(reader.caisse_codes)],
    )
    params["caisse_ids"] = cursor.fetchone()[0]
    cursor.execute(parse, params)
    _fetch_errors(cursor, report)
    deferred_checked = False
    if report.errors or report.all_or_nothing:
        _check_deferred(cursor, report, ceiling)
        deferred_checked = True
    has_errors = bool(report.errors)
    # Statistics for the plans below: only the columns they join, group or filter on.
    cursor.execute("ANALYZE credit_import_rows (member_id, program_id, error)")
    steps.update(1)
    timer("validation")
    fast = True
    while True:
        try:
            with transaction.atomic(), partition_guard():
                _apply(
                    cursor,
                    report,
                    timer,
                    steps,
                    fast=fast,
                    deferred_checked=deferred_checked,
                    has_errors=has_errors,
                )
            break
        except _DeferredNeeded:
            pass
        except IntegrityError as exc:
            diag = getattr(exc.__cause__, "diag", None)
            if not is_reference_constraint(getattr(diag, "constraint_name", None)):
                raise
            # A reference already in the ledger (the same file twice, overlapping files), or
            # one that occurs twice in the file: everything since the savepoint is undone.
            timer("insert (rolled back: references already imported)")
            fast = False
        if not deferred_checked:
            _check_deferred(cursor, report, ceiling)
            deferred_checked = True
            timer("validation")
    steps.close()


def _session_settings(cursor) -> None:
    """This transaction's settings: sorts and hashes over a million rows stay in memory
    (work_mem); no JIT (compiling the big statements costs more than it saves on these simple
    expressions); the temporary tables get PG_TEMP_BUFFERS.

    PostgreSQL refuses another temp_buffers once the session has used a temporary table with
    the one it had (the imports of a long-lived worker each set the same size, which it
    accepts). When the session's first temporary table had another size (it used one before,
    with the default), the import keeps that size: slower, the same result.
    """
    settings = "set_config('work_mem', %s, true), set_config('jit', 'off', true)"
    try:
        with transaction.atomic():
            cursor.execute(
                f"SELECT set_config('temp_buffers', %s, true), {settings}",
                [PG_TEMP_BUFFERS, PG_WORK_MEM],
            )
    except DataError:
        cursor.execute(f"SELECT {settings}", [PG_WORK_MEM])


def _check_deferred(cursor, report: ImportReport, ceiling: int) -> None:
    checks, params = rules.sql_deferred_checks(ceiling)
    found = 0
    for condition, reason in checks:
        cursor.execute(_PG_DEFERRED.format(condition=condition, reason=reason), params)
        found += cursor.rowcount
    if found:
        _fetch_errors(cursor, report)


def _apply(
    cursor, report, timer, steps, *, fast: bool, deferred_checked: bool, has_errors: bool
) -> None:
    """Totals per wallet, wallets created and locked, then the entries and the balances:
    ``fast`` with a plain INSERT (raises IntegrityError if a reference is already taken),
    else skipping references already in the ledger. ``has_errors``: whether a row broke a
    rule (all the rules, deferred one included, under all or nothing)."""
    report.wallets_created = report.applied = report.tookets_applied = 0
    cursor.execute(_PG_TOTALS)
    steps.update(1)
    timer("totals per wallet")
    if report.all_or_nothing and has_errors:
        return  # report.errors holds them all
    limits = {"balance_max": rules.BALANCE_MAX, "credited": fast}
    _create_wallets(cursor, limits)
    timer("wallet upsert")
    affected = Wallet.objects.extra(where=[_PG_AFFECTED_WALLETS])
    with locked_wallets(
        affected.values("id", "member_id", "program_id", "balance", credited=Value(False)),
        wait=None,
        into="credit_import_wallets",
    ):
        cursor.execute(_PG_ADD_CREATED_WALLETS, limits)
        report.wallets_created = cursor.fetchone()[0]
        cursor.execute("ANALYZE credit_import_wallets")
    cursor.execute(_PG_TOTALS_TOO_LARGE, limits)
    too_large = cursor.fetchall()
    if too_large and not deferred_checked:
        # Rows of these wallets become bad rows: a later row with the same reference is then
        # a duplicate of a bad row, which only the deferred rule reports.
        raise _DeferredNeeded
    if too_large:
        cursor.execute(
            _PG_REPORT_TOO_LARGE,
            {
                "members": [m for m, _ in too_large],
                "programs": [p for _, p in too_large],
                "reason": rules.wallet_total_message(),
            },
        )
        # (A savepoint rolled back undoes these errors: the next attempt sets them again.)
        _fetch_errors(cursor, report)
    steps.update(1)
    timer("wallet lock")
    if report.rejected:
        raise _Rejected  # undoes the wallets created above
    cursor.execute("SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM credit_import_totals")
    valid, valid_tookets = (int(x) for x in cursor.fetchone())
    if valid:
        if fast:
            cursor.execute(_PG_INSERT_NEW, {"created_at": entry_time()})
            timer("insert")
            cursor.execute(_PG_BALANCES_FROM_TOTALS)
            timer("balances")
            report.applied, report.tookets_applied = valid, valid_tookets
        else:
            cursor.execute(_PG_APPLY, {"created_at": entry_time()})
            applied, tookets = cursor.fetchone()
            report.applied, report.tookets_applied = int(applied), int(tookets)
            timer("insert skipping known references, and balances")
    steps.update(1)
    report.already_applied = valid - report.applied


def _create_wallets(cursor, limits: dict) -> None:
    """The file's missing wallets, created (see _PG_CREATE_WALLETS): credit_import_keys."""
    try:
        with transaction.atomic():
            cursor.execute(_PG_CREATE_WALLETS.format(on_conflict=""), limits)
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)
        if getattr(diag, "constraint_name", None) != _WALLET_UNIQUE:
            raise
        cursor.execute(_PG_CREATE_WALLETS.format(on_conflict=_PG_WALLETS_ON_CONFLICT), limits)


def _copy_records(cursor, reader: Reader, size: int, progress: bool) -> None:
    # psycopg 3's copy, behind Django's cursor wrapper. Records go in chunks: one write per
    # record would cost more than the reading.
    bar = progress_bar(size, progress, "COPY")
    stream = reader.stream
    done = stream.tell()
    chunk = []
    append = chunk.append
    try:
        with cursor.cursor.copy(_PG_COPY) as copy:
            for record in reader:
                append(copy_line(record))
                if len(chunk) == COPY_CHUNK:
                    copy.write("".join(chunk).encode())
                    chunk.clear()
                    if progress:
                        position = stream.tell()
                        bar.update(position - done)
                        done = position
            if chunk:
                copy.write("".join(chunk).encode())
    finally:
        bar.close()
