"""The PostgreSQL engine: each good row written into the ledger with ``COPY`` as it is read.

The one reader gives the file's records and the one checker (``checker.py``) checks each
against the rule list as it comes. Each good row then goes at once, as its ledger entry, into
``COPY cagnotte_ledgerentry … FROM STDIN``: the entries are written while the file is read,
this process reading and checking on one core while the database writes on the other, with
no staging table and no second pass over the rows. The bench's floor
(``bench/import_bench.py --floor``) is a COPY of the same entries (``LEDGER_COLUMNS``): what
the import adds to it is its wallets and whatever of the reading the database's writing does
not hide.

An entry needs its wallet's id as it is written. A program's wallets are read once, when a
row first names it (member -> wallet). A member of the file without a wallet gets an id
reserved from the wallets' sequence; the ids are reserved when the program is read, as many
as its bank's members without a wallet, and at most as many as the file has room for rows
(``MIN_LINE_BYTES``); ids reserved and not used are lost, as a sequence's are. That wallet is
created after the entries, with that id and the file's total for it as its balance (the
entries' wallet foreign key is checked at commit). The wallets that existed are then locked
in id order by the ledger's one lock helper, before any balance moves (an import and gifts,
or two imports, queue behind each other and never deadlock; the wallets the import creates
are its own until it commits), and each balance grows by its total in the file.

That is the fast path, for a file whose references are all new (the common case: this
month's file). It runs inside a savepoint, and three things send it back: a reference already
in the ledger (the same file twice, overlapping files) makes the COPY fail on the ledger's
unique index; a wallet created meanwhile by another transaction (a member's first gift) makes
the wallets' COPY fail on theirs; a wallet whose total would not fit (``rules.wallet_total_*``)
refuses its rows. Everything since the savepoint is then undone and the general path runs:
the file is read and checked again, its good rows staged in a temporary table, and set-based
SQL creates the missing wallets (``ON CONFLICT DO NOTHING``), locks the wallets, reports the
totals too large, inserts the entries with ``ON CONFLICT (reference, year) DO NOTHING
RETURNING`` and adds to each balance what was inserted.
"""

from __future__ import annotations

import time
from operator import itemgetter

from django.db import DataError, IntegrityError, connection, transaction

from cagnotte.imports import rules
from cagnotte.imports.checker import Checker
from cagnotte.imports.reader import Reader
from cagnotte.imports.report import ImportReport, progress_bar
from cagnotte.ledger import entry_time, locked_wallets, partition_guard
from cagnotte.ledger_partitions import is_reference_constraint
from cagnotte.models import Wallet

PG_WORK_MEM = "256MB"
# The temporary tables' buffers (this backend's own, not shared_buffers): the general path
# stages a million rows in one (about 100 MB). With PostgreSQL's default (8 MB) the table is
# written out to the operating system as it fills and read back by every later statement. The
# pages are allocated only as the tables grow. PostgreSQL fixes this size at a session's first
# use of a temporary table: see _session_settings.
PG_TEMP_BUFFERS = "512MB"
COPY_CHUNK = 2000  # lines per write to COPY
# The shortest line a good row can have: a one-character bank code, an 11-digit account, a
# one-character program code, a period (7), a one-digit amount, a one-character reference,
# five commas and the line feed. A file of n bytes holds at most n // MIN_LINE_BYTES + 1 good
# rows: no more wallet ids are reserved than that.
MIN_LINE_BYTES = 28

# The steps of report.timings (bench/import_bench.py prints them; the tests read which path
# ran).
STEP_FAST = "read, checked and written (COPY)"
STEP_FAST_UNDONE = "rolled back: the general path instead"
STEP_GENERAL = "insert skipping known references, and balances"

_TEMP_TABLES = (
    "credit_import_wallet_totals, credit_import_locked, credit_import_rows, "
    "credit_import_totals, credit_import_keys, credit_import_wallets"
)
_WALLET_UNIQUE = "wallet_one_per_member_program"

# The ledger's columns an imported credit fills, each with its value in the general path's
# INSERT (over ``r``, the staged row, and ``w``, its wallet) and in the fast path's COPY line
# (``{0}`` the wallet's id, ``{1}`` the amount, ``{2}`` the reference as a CSV field, ``{3}``
# the period; ``{created_at}`` and ``{year}`` per file and program): the one list that both
# paths and the bench's floor (bench/import_bench.py) write. A new column of the ledger is one
# line here.
LEDGER_VALUES = {
    "wallet_id": ("w.id", "{0}"),
    "kind": ("'credit'", "credit"),
    "amount": ("r.amount", "{1}"),
    "reference": ("r.reference", "{2}"),
    "period": ("r.period", "{3}"),
    "memo": ("''", '""'),
    "created_at": ("%(created_at)s", "{created_at}"),
    "year": ("r.program_year", "{year}"),  # the partition key: the program's campaign year
}
LEDGER_COLUMNS = tuple(LEDGER_VALUES)
_LEDGER_COLUMNS = ", ".join(LEDGER_COLUMNS)
_LEDGER_SQL = ", ".join(sql for sql, _ in LEDGER_VALUES.values())
_LEDGER_LINE = ",".join(line for _, line in LEDGER_VALUES.values()) + "\n"

# Fast path. The entries, in the file's order (no sort: the rows are written as they come).
_PG_COPY_ENTRIES = f"COPY cagnotte_ledgerentry ({_LEDGER_COLUMNS}) FROM STDIN WITH (FORMAT csv)"
# The wallets the file needs and did not have, with their balance: after the entries.
_PG_COPY_WALLETS = (
    "COPY cagnotte_wallet (id, member_id, program_id, balance, created_at) "
    "FROM STDIN WITH (FORMAT csv)"
)
# The sequence's name read once (a subquery), not once per id: 100,000 ids in 0.03 s instead
# of 0.30 s.
_PG_RESERVE_IDS = (
    "SELECT nextval((SELECT pg_get_serial_sequence('cagnotte_wallet', 'id'))::regclass) "
    "FROM generate_series(1, %s)"
)
# The wallets that existed, with the file's total for each: locked, checked, credited.
_PG_WALLET_TOTALS_TABLE = (
    "CREATE TEMP TABLE credit_import_wallet_totals (wallet_id bigint PRIMARY KEY, "
    "total numeric NOT NULL) ON COMMIT DROP"
)
_PG_COPY_WALLET_TOTALS = (
    "COPY credit_import_wallet_totals (wallet_id, total) FROM STDIN WITH (FORMAT csv)"
)
_PG_LOCKED_WALLETS = (
    "EXISTS (SELECT FROM credit_import_wallet_totals t WHERE t.wallet_id = cagnotte_wallet.id)"
)
_PG_LOCKED_TOO_LARGE = """
SELECT count(*) FROM credit_import_locked l
JOIN credit_import_wallet_totals t ON t.wallet_id = l.id
WHERE t.total > %(balance_max)s - l.balance
"""
_PG_CREDIT_LOCKED = """
UPDATE cagnotte_wallet w SET balance = w.balance + t.total
FROM credit_import_wallet_totals t WHERE w.id = t.wallet_id
"""

# General path. The good rows, staged (error: a wallet total found too large, later).
_PG_ROWS_TABLE = (
    "CREATE TEMP TABLE credit_import_rows (line bigint NOT NULL, "
    'reference text COLLATE "C" NOT NULL, period text NOT NULL, member_id bigint NOT NULL, '
    "program_id bigint NOT NULL, program_year integer NOT NULL, amount bigint NOT NULL, "
    "error text) ON COMMIT DROP"
)
_PG_COPY_ROWS = (
    "COPY credit_import_rows (line, reference, period, member_id, program_id, program_year, "
    "amount) FROM STDIN WITH (FORMAT csv)"
)

# One pass over the good rows: per (member, program), how many credits and how much (a
# numeric sum: it cannot overflow). The wallet upsert, the locks, the total check and the
# balance update then read 1 row per wallet, not per credit.
_PG_TOTALS = """
CREATE TEMP TABLE credit_import_totals ON COMMIT DROP AS
SELECT member_id, program_id, count(*) AS n, sum(amount) AS total
FROM credit_import_rows
GROUP BY member_id, program_id
"""

# A wallet whose total alone would not fit is not even created (rules.wallet_total_*). Each
# wallet of the file is kept with the id of the wallet created for it, if one was
# (credit_import_keys): the others are the ones to lock. The wallets missing are found first
# (NOT EXISTS) and created by a plain INSERT; a wallet created meanwhile by another
# transaction makes it fail on the unique constraint, and it runs again (savepoint) with ON
# CONFLICT DO NOTHING, which leaves that wallet to be locked like any wallet that existed.
_PG_CREATE_WALLETS = """
CREATE TEMP TABLE credit_import_keys ON COMMIT DROP AS
WITH created AS (
    INSERT INTO cagnotte_wallet (member_id, program_id, balance, created_at)
    SELECT member_id, program_id, 0, now()
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

# Every affected wallet that existed before, locked by ``ledger.locked_wallets`` in id order
# into credit_import_wallets, to which the wallets created are added (their count is the
# report's).
_PG_AFFECTED_WALLETS = (
    "EXISTS (SELECT FROM credit_import_keys k WHERE k.member_id = cagnotte_wallet.member_id "
    "AND k.program_id = cagnotte_wallet.program_id AND k.created_id IS NULL)"
)
_PG_ADD_CREATED_WALLETS = """
WITH added AS (
    INSERT INTO credit_import_wallets (id, member_id, program_id, balance)
    SELECT created_id, member_id, program_id, 0
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
    WHERE r.member_id = t.member_id AND r.program_id = t.program_id
    RETURNING r.line
), dropped_totals AS (
    DELETE FROM credit_import_totals k USING too_large t
    WHERE k.member_id = t.member_id AND k.program_id = t.program_id
), dropped_wallets AS (
    DELETE FROM credit_import_wallets w USING too_large t
    WHERE w.member_id = t.member_id AND w.program_id = t.program_id
)
SELECT line FROM flagged
"""

# Rows already imported (same file twice, overlapping files) are skipped by ON CONFLICT, and
# the balances come from what was actually inserted.
_PG_APPLY = f"""
WITH inserted AS (
    INSERT INTO cagnotte_ledgerentry ({_LEDGER_COLUMNS})
    SELECT {_LEDGER_SQL}
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


class _Rejected(Exception):
    """All or nothing, and a bad row (or a wallet total too large): nothing is kept."""


class _GeneralPath(Exception):
    """The fast path cannot write this file as it is: undo it, take the general path."""


class _Copy:
    """``COPY … FROM STDIN`` of the lines given to ``write`` (or put in ``lines`` and sent
    every ``COPY_CHUNK`` with ``send``). ``pause`` ends it, so that the connection can run a
    query; the next ``send`` starts another. As a context manager: an error inside aborts
    it. PostgreSQL's errors (a reference already taken, say) come as Django's, as from any
    query."""

    def __init__(self, cursor, statement: str):
        self.cursor = cursor
        self.statement = statement
        self.lines: list[str] = []
        self._context = None
        self._copy = None

    def write(self, line: str) -> None:
        """One line, sent with the lines before it every ``COPY_CHUNK`` (the fast path's loop
        does the same inline)."""
        self.lines.append(line)
        if len(self.lines) == COPY_CHUNK:
            self.send()

    def send(self) -> None:
        if not self.lines:
            return
        with connection.wrap_database_errors:
            if self._copy is None:
                self._context = self.cursor.cursor.copy(self.statement)
                self._copy = self._context.__enter__()
            self._copy.write("".join(self.lines).encode())
        self.lines.clear()

    def pause(self) -> None:
        self.send()
        if self._copy is not None:
            self._copy = None
            with connection.wrap_database_errors:
                self._context.__exit__(None, None, None)

    def __enter__(self) -> _Copy:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.pause()
        elif self._copy is not None:
            self._copy = None
            self._context.__exit__(exc_type, exc, traceback)  # COPY aborted


class _WalletIds:
    """The wallets' ids of the file's rows: ``by_program`` (program -> member -> id), each
    program's read the first time a row names it (``read``: ids are reserved then, see the
    module's docstring), and ids reserved for the wallets to create (``new``; ``created``:
    id, member, program)."""

    def __init__(self, cursor, checker: Checker, copy: _Copy, *, rows_at_most: int):
        self.cursor = cursor
        self.checker = checker
        self.copy = copy
        self.room = rows_at_most  # ids that may still be reserved
        self.by_program: dict[int, dict[int, int]] = {}
        self.pool: list[int] = []  # reserved, not used yet (the smallest last)
        self.created: list[tuple[int, int, int]] = []

    def new(self, wallets: dict[int, int], member_id: int, program_id: int) -> int:
        """A reserved id for the member's new wallet in the program (``wallets``: the
        program's, from ``read``)."""
        if not self.pool:
            self._reserve(max(1, min(self.room, 1024)))
        wallet = wallets[member_id] = self.pool.pop()
        self.created.append((wallet, member_id, program_id))
        return wallet

    def read(self, program_id: int, caisse_id: int) -> dict[int, int]:
        """The program's wallets (member -> id), read, kept in ``by_program``."""
        self.copy.pause()
        self.cursor.execute(
            "SELECT member_id, id FROM cagnotte_wallet WHERE program_id = %s", [program_id]
        )
        wallets = self.by_program[program_id] = dict(self.cursor.fetchall())
        self._reserve(min(len(self.checker.members_of(caisse_id)) - len(wallets), self.room))
        return wallets

    def _reserve(self, count: int) -> None:
        count = max(count, 0)
        self.copy.pause()
        self.cursor.execute(_PG_RESERVE_IDS, [count])
        # Newer ids than the pool's: used after them.
        self.pool[:0] = sorted((pk for (pk,) in self.cursor.fetchall()), reverse=True)
        self.room -= count


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def import_postgres(reader: Reader, report: ImportReport, *, size: int, progress: bool):
    timer = _StepTimer(report)
    ceiling = rules.amount_ceiling()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _session_settings(cursor)
            # ON COMMIT DROP is not enough when the import runs inside a caller's transaction
            # (it is then a savepoint): start from a clean slate.
            cursor.execute(f"DROP TABLE IF EXISTS {_TEMP_TABLES}")
            try:
                with transaction.atomic(), partition_guard():
                    _fast_path(cursor, reader, report, timer, ceiling, size, progress)
                return
            except _GeneralPath:
                pass
            except IntegrityError as exc:
                diag = getattr(exc.__cause__, "diag", None)
                name = getattr(diag, "constraint_name", None)
                if not (is_reference_constraint(name) or name == _WALLET_UNIQUE):
                    raise
            # Everything since the savepoint is undone.
            timer(STEP_FAST_UNDONE)
            with partition_guard():
                _general_path(cursor, reader, report, timer, ceiling, progress)
    except _Rejected:
        pass
    finally:
        # The ledger's wallet foreign key is deferred: one check per new entry runs at commit.
        timer("commit")


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


def _fast_path(cursor, reader, report, timer, ceiling: int, size: int, progress: bool) -> None:
    """Every good row into the ledger as it is read, then the wallets (see the docstring);
    raises ``_GeneralPath`` (or the ledger's or the wallets' IntegrityError) to be undone."""
    stamp = entry_time().isoformat()
    bar = progress_bar(size, progress, "Lecture et écriture")
    stream = reader.stream
    done = stream.tell()
    with _Copy(cursor, _PG_COPY_ENTRIES) as copy:
        checker = Checker(ceiling, before_query=copy.pause)
        check = checker.check
        wallet_of = _WalletIds(cursor, checker, copy, rows_at_most=size // MIN_LINE_BYTES + 1)
        wallet_ids = wallet_of.by_program
        errors = report.errors
        lines = copy.lines
        append = lines.append
        totals: dict[int, int] = {}
        templates: dict[int, str] = {}
        records = iter(reader)
        for record in records:
            row, reason = check(record)
            if reason is not None:
                errors.append((row.line, reason))
                if report.all_or_nothing:
                    # Nothing will be kept: the rest of the file is only checked.
                    lines.clear()
                    _check_rest(records, check, errors)
                    break
                continue
            wallets = wallet_ids.get(row.program_id)
            if wallets is None:
                wallets = wallet_of.read(row.program_id, row.caisse_id)
            wallet = wallets.get(row.member_id)
            if wallet is None:
                wallet = wallet_of.new(wallets, row.member_id, row.program_id)
            amount = row.amount
            totals[wallet] = totals.get(wallet, 0) + int(amount)
            template = templates.get(row.program_year)
            if template is None:
                template = templates[row.program_year] = _LEDGER_LINE.replace(
                    "{created_at}", stamp
                ).replace("{year}", str(row.program_year))
            reference = row.reference if record[3] is not None else _csv_field(row.reference)
            append(template.format(wallet, amount, reference, row.period))
            if len(lines) == COPY_CHUNK:
                copy.send()
                if progress:
                    position = stream.tell()
                    bar.update(position - done)
                    done = position
    bar.close()
    report.rows = reader.rows
    timer(STEP_FAST)
    if report.rejected:
        raise _Rejected
    created = wallet_of.created
    if any(rules.wallet_total_too_large(balance=0, total=totals[pk]) for pk, _, _ in created):
        raise _GeneralPath
    # The wallets that existed: locked in id order, their totals checked, credited.
    cursor.execute(_PG_WALLET_TOTALS_TABLE)
    new = {pk for pk, _, _ in created}
    with _Copy(cursor, _PG_COPY_WALLET_TOTALS) as copy:
        for pk, total in totals.items():
            if pk not in new:
                copy.write(f"{pk},{total}\n")
    cursor.execute("ANALYZE credit_import_wallet_totals")
    affected = Wallet.objects.extra(where=[_PG_LOCKED_WALLETS])
    with locked_wallets(affected.values("id", "balance"), wait=None, into="credit_import_locked"):
        pass
    cursor.execute(_PG_LOCKED_TOO_LARGE, {"balance_max": rules.BALANCE_MAX})
    if cursor.fetchone()[0]:
        raise _GeneralPath
    cursor.execute(_PG_CREDIT_LOCKED)
    # The wallets created, each with its total as balance, in member order: the unique
    # (member, program) index and the member checks at commit then walk their pages in order
    # (the file's order is any).
    now = entry_time().isoformat()
    with _Copy(cursor, _PG_COPY_WALLETS) as copy:
        for pk, member_id, program_id in sorted(created, key=itemgetter(1, 2)):
            copy.write(f"{pk},{member_id},{program_id},{totals[pk]},{now}\n")
    timer("wallets: created, locked, credited")
    report.wallets_created = len(created)
    report.applied = report.rows - len(errors)
    report.tookets_applied = sum(totals.values())


def _check_rest(records, check, errors: list[tuple[int, str]]) -> None:
    """The records left, only checked (``records``: the reader's iterator, which holds the
    lines it read ahead)."""
    for record in records:
        row, reason = check(record)
        if reason is not None:
            errors.append((row.line, reason))


def _general_path(cursor, reader, report, timer, ceiling: int, progress: bool) -> None:
    """The file read and checked again, its good rows staged, then set-based SQL that skips
    the references already in the ledger (see the docstring)."""
    reader.restart()
    report.errors = errors = []
    report.applied = report.tookets_applied = report.wallets_created = 0
    cursor.execute(_PG_ROWS_TABLE)
    bar = progress_bar(None, progress, "Lecture", unit="lignes")
    with _Copy(cursor, _PG_COPY_ROWS) as copy:
        check = Checker(ceiling, before_query=copy.pause).check
        for record in reader:
            bar.update(1)
            row, reason = check(record)
            if reason is not None:
                errors.append((row.line, reason))
                continue
            copy.write(
                f"{row.line},{_csv_field(row.reference)},{row.period},{row.member_id},"
                f"{row.program_id},{row.program_year},{row.amount}\n"
            )
    bar.close()
    report.rows = reader.rows
    cursor.execute("ANALYZE credit_import_rows")
    timer("read and checked (staged)")
    cursor.execute(_PG_TOTALS)
    timer("totals per wallet")
    if report.rejected:
        raise _Rejected  # report.errors holds them all
    limits = {"balance_max": rules.BALANCE_MAX}
    _create_wallets(cursor, limits)
    timer("wallet upsert")
    affected = Wallet.objects.extra(where=[_PG_AFFECTED_WALLETS])
    with locked_wallets(
        affected.values("id", "member_id", "program_id", "balance"),
        wait=None,
        into="credit_import_wallets",
    ):
        cursor.execute(_PG_ADD_CREATED_WALLETS, limits)
        report.wallets_created = cursor.fetchone()[0]
        cursor.execute("ANALYZE credit_import_wallets")
    cursor.execute(_PG_TOTALS_TOO_LARGE, limits)
    too_large = cursor.fetchall()
    if too_large:
        cursor.execute(
            _PG_REPORT_TOO_LARGE,
            {
                "members": [m for m, _ in too_large],
                "programs": [p for _, p in too_large],
                "reason": rules.wallet_total_message(),
            },
        )
        reason = rules.wallet_total_message()
        errors.extend((line, reason) for (line,) in cursor.fetchall())
        errors.sort()
    timer("wallet lock")
    if report.rejected:
        raise _Rejected  # undoes the wallets created above
    cursor.execute("SELECT coalesce(sum(n), 0) FROM credit_import_totals")
    valid = int(cursor.fetchone()[0])
    if valid:
        cursor.execute(_PG_APPLY, {"created_at": entry_time()})
        applied, tookets = cursor.fetchone()
        report.applied, report.tookets_applied = int(applied), int(tookets)
        timer(STEP_GENERAL)
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
