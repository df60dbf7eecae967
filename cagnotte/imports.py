"""Monthly credit files from the bank: validate every row, apply the good ones, report the rest.

File: UTF-8 CSV, header ``caisse_code,account_number,program_code,period,amount,reference``.
A row's ``reference`` is the bank's unique id of that credit and becomes the ledger entry's
reference: importing the same file twice (or two files sharing rows) credits each row once;
rows already imported are counted as « déjà appliquées », not as errors.

Two paths with the same semantics:

* PostgreSQL — the file is streamed untouched through ``COPY`` into a temporary staging
  table; parsing, validation and application are a handful of set-based statements, all in
  one transaction: validation into a temporary table, one aggregate per wallet (new wallets,
  locks, balances), then the entries. Affected wallets are locked in id order before any
  write, as gifts lock a wallet row with ``SELECT … FOR UPDATE``: an import and gifts (or two
  imports) queue behind each other and never deadlock. Entries go in with a plain
  ``INSERT … SELECT`` and each wallet's balance grows by its total in the file; if a
  reference is already in the ledger (the same file twice, overlapping files) the unique
  constraint stops that statement, it is rolled back to a savepoint and the general path runs
  instead (``ON CONFLICT (reference) DO NOTHING RETURNING`` feeding the balance update).
  Writing the entries themselves (heap, three indexes, then one deferred wallet foreign-key
  check per entry at commit) is most of the time: see ``bench/import_bench.py --floor``.
* SQLite (development) — plain Python, in batches, inside one transaction.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from cagnotte.models import LedgerEntry, Program, Wallet
from caisses.models import CaisseRegionale

HEADER = ["caisse_code", "account_number", "program_code", "period", "amount", "reference"]
PERIOD_RE = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
ACCOUNT_RE = r"^[0-9]{11}$"
AMOUNT_RE = r"^[0-9]{1,15}$"
REFERENCE_MAX = 100
BATCH = 5000
PG_WORK_MEM = "256MB"
REFERENCE_CONSTRAINT = "entry_reference_unique"

# Reasons, in French (they are read by the bank's operators), in the order they are checked.
ERR_COLUMNS = "nombre de colonnes incorrect (6 attendues)"
ERR_REFERENCE = "référence manquante ou trop longue (100 caractères au plus)"
ERR_CAISSE = "caisse régionale inconnue"
ERR_ACCOUNT = "numéro de compte invalide (11 chiffres attendus)"
ERR_MEMBER = "sociétaire inconnu pour ce numéro de compte dans cette caisse régionale"
ERR_PROGRAM = "programme inconnu"
ERR_PROGRAM_CR = "programme d’une autre caisse régionale"
ERR_PERIOD = "période invalide (AAAA-MM attendu)"
ERR_AMOUNT = "montant invalide (nombre entier de Tookets supérieur à zéro attendu)"
ERR_DUPLICATE = "référence en double dans le fichier (déjà vue ligne {line})"


class ImportFileError(Exception):
    """The file cannot be read as a credit file at all (missing, wrong header)."""


@dataclass
class ImportReport:
    path: str
    rows: int = 0
    applied: int = 0
    already_applied: int = 0
    tookets_applied: int = 0
    wallets_created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    all_or_nothing: bool = False
    # Seconds per step of the PostgreSQL path, for bench/import_bench.py's profile.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Nothing was applied because of --all-or-nothing and at least one bad row."""
        return self.all_or_nothing and bool(self.errors)

    def summary(self) -> str:
        lines = [
            f"Fichier : {self.path}",
            f"Lignes lues : {self.rows}",
            f"Crédits appliqués : {self.applied} ({self.tookets_applied} K)",
            f"Déjà appliqués (ignorés) : {self.already_applied}",
            f"Cagnottes créées : {self.wallets_created}",
            f"Lignes en erreur : {len(self.errors)}",
        ]
        if self.rejected:
            lines.append("Tout ou rien : des lignes sont en erreur, aucun crédit n’a été appliqué.")
        return "\n".join(lines)

    def as_text(self) -> str:
        body = [self.summary(), ""]
        body += [f"ligne {line} : {reason}" for line, reason in self.errors]
        return "\n".join(body) + "\n"


def import_credits(
    *,
    path: str | os.PathLike,
    all_or_nothing: bool = False,
    progress: bool = False,
    engine: str | None = None,
) -> ImportReport:
    """Import one credit file; see the module docstring. Safe to run twice on the same file.

    ``engine`` forces ``"postgres"`` or ``"python"`` (tests run both on PostgreSQL); by default
    the database decides.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"fichier introuvable : {path}")
    report = ImportReport(path=str(path), all_or_nothing=all_or_nothing)
    with open(path, "rb") as stream:
        header_end = _check_header(stream)
        engine = engine or ("postgres" if connection.vendor == "postgresql" else "python")
        if engine == "postgres":
            _import_postgres(stream, header_end, report, progress=progress)
        else:
            _import_python(stream, header_end, report, progress=progress)
    return report


def _check_header(stream) -> int:
    first = stream.readline()
    text = first.decode("utf-8-sig", errors="replace").strip()
    columns = [c.strip().strip('"').lower() for c in text.split(",")]
    if columns != HEADER:
        raise ImportFileError(
            "en-tête invalide : « " + text + " » (attendu : « " + ",".join(HEADER) + " »)"
        )
    return stream.tell()


def _progress_bar(total: int | None, enabled: bool, desc: str, unit: str = "o"):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=desc,
        disable=not enabled,
        file=sys.stderr,
        leave=False,
    )


# --- PostgreSQL ---------------------------------------------------------------------------------

# The file's fields, one row per non-blank line. Filled either straight by a CSV COPY (a
# well-formed file: the common, fast case) or, when that COPY refuses the file (a row with
# too many or too few fields, a blank line…), from a line-per-row staging table.
_PG_FIELDS_TABLE = """
CREATE TEMP TABLE credit_import_fields (
    line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2),
    caisse_code text, account_number text, program_code text, period text,
    amount_text text, reference text COLLATE "C", ncols int NOT NULL DEFAULT 6
) ON COMMIT DROP
"""
_PG_RAW_TABLE = """
CREATE TEMP TABLE credit_import_staging (
    line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), raw text
) ON COMMIT DROP
"""
# split_part is cheap (no array per row); the field count is the number of commas plus one.
_PG_FIELDS_FROM_RAW = """
INSERT INTO credit_import_fields
    (line, caisse_code, account_number, program_code, period, amount_text, reference, ncols)
OVERRIDING SYSTEM VALUE
SELECT line, btrim(split_part(raw, ',', 1), '"'), btrim(split_part(raw, ',', 2), '"'),
       btrim(split_part(raw, ',', 3), '"'), btrim(split_part(raw, ',', 4), '"'),
       btrim(split_part(raw, ',', 5), '"'), btrim(split_part(raw, ',', 6), E'"\\r'),
       length(raw) - length(replace(raw, ',', '')) + 1
FROM credit_import_staging
WHERE btrim(raw, E' \\r') <> ''
"""

# Every row checked once, set-based; reasons in the order the Python path checks them.
# Digit checks use ltrim(x, '0123456789') = '' rather than regular expressions: a million
# rows times four regex matches was a third of the validation time.
_PG_PARSE = """
CREATE TEMP TABLE credit_import_rows ON COMMIT DROP AS
SELECT s.line, s.reference, s.period, u.id AS member_id, p.id AS program_id,
       CASE WHEN s.amount_ok THEN s.amount_text::bigint END AS amount,
       CASE
         WHEN s.ncols <> 6 THEN %(e_columns)s
         WHEN s.reference = '' OR length(s.reference) > %(ref_max)s THEN %(e_reference)s
         WHEN cr.id IS NULL THEN %(e_caisse)s
         WHEN length(s.account_number) <> 11
              OR ltrim(s.account_number, '0123456789') <> '' THEN %(e_account)s
         WHEN u.id IS NULL THEN %(e_member)s
         WHEN p.id IS NULL THEN %(e_program)s
         WHEN p.caisse_regionale_id <> cr.id THEN %(e_program_cr)s
         WHEN length(s.period) <> 7 OR substr(s.period, 5, 1) <> '-'
              OR ltrim(substr(s.period, 1, 4) || substr(s.period, 6, 2), '0123456789') <> ''
              OR substr(s.period, 6, 2) NOT BETWEEN '01' AND '12' THEN %(e_period)s
         WHEN NOT s.amount_ok OR ltrim(s.amount_text, '0') = '' THEN %(e_amount)s
         WHEN d.first_line <> s.line THEN replace(%(e_duplicate)s, '{line}', d.first_line::text)
       END AS error
FROM (
    SELECT f.*, length(amount_text) BETWEEN 1 AND 15
                AND ltrim(amount_text, '0123456789') = '' AS amount_ok
    FROM credit_import_fields f
) s
LEFT JOIN (
    SELECT reference, min(line) AS first_line
    FROM credit_import_fields WHERE ncols = 6
    GROUP BY 1 HAVING count(*) > 1
) d ON d.reference = s.reference
LEFT JOIN caisses_caisseregionale cr ON cr.code = s.caisse_code
LEFT JOIN accounts_user u
       ON u.caisse_regionale_id = cr.id AND u.account_number = s.account_number
      AND u.kind = 'member'
LEFT JOIN cagnotte_program p ON p.code = s.program_code
"""

# One pass over the valid rows: per (member, program), how many credits and how much. The
# wallet upsert, the locks and the balance update then read 1 row per wallet, not per credit.
_PG_TOTALS = """
CREATE TEMP TABLE credit_import_totals ON COMMIT DROP AS
SELECT member_id, program_id, count(*) AS n, sum(amount) AS total
FROM credit_import_rows WHERE error IS NULL
GROUP BY member_id, program_id
"""

_PG_CREATE_WALLETS = """
INSERT INTO cagnotte_wallet (member_id, program_id, balance, created_at)
SELECT member_id, program_id, 0, now()
FROM credit_import_totals
ORDER BY member_id, program_id
ON CONFLICT (member_id, program_id) DO NOTHING
"""

# Row locks on every affected wallet, taken in id order (the order every writer of several
# wallets uses), before any entry is written: no deadlock with gifts or another import. The
# locked wallets are kept as a small map (member, program) -> wallet for the writes below.
_PG_LOCK_WALLETS = """
CREATE TEMP TABLE credit_import_wallets ON COMMIT DROP AS
SELECT w.id, w.member_id, w.program_id, k.total FROM cagnotte_wallet w
JOIN credit_import_totals k ON w.member_id = k.member_id AND w.program_id = k.program_id
ORDER BY w.id
FOR UPDATE OF w
"""

# Fast path, for rows whose references are all new (the common case: this month's file):
# a plain INSERT, with no ON CONFLICT arbiter and no RETURNING, in wallet order (the
# (wallet, -created_at) index and the commit-time wallet foreign-key checks then walk their
# pages in order). A reference already in the ledger makes it fail on the unique constraint;
# the caller then rolls it back and takes the general path below.
_PG_INSERT_NEW = """
INSERT INTO cagnotte_ledgerentry
    (wallet_id, kind, amount, reference, period, memo, created_at)
SELECT w.id, 'credit', r.amount, r.reference, r.period, '', now()
FROM credit_import_rows r
JOIN credit_import_wallets w ON w.member_id = r.member_id AND w.program_id = r.program_id
WHERE r.error IS NULL
ORDER BY w.id
"""
# Every valid row was inserted: each wallet's new balance adds its total of the file.
_PG_BALANCES_FROM_TOTALS = """
UPDATE cagnotte_wallet w SET balance = w.balance + k.total
FROM credit_import_wallets k
WHERE w.id = k.id
"""

# General path: rows already imported (same file twice, overlapping files) are skipped by
# ON CONFLICT, and the balances come from what was actually inserted.
_PG_APPLY = """
WITH inserted AS (
    INSERT INTO cagnotte_ledgerentry
        (wallet_id, kind, amount, reference, period, memo, created_at)
    SELECT w.id, 'credit', r.amount, r.reference, r.period, '', now()
    FROM credit_import_rows r
    JOIN credit_import_wallets w ON w.member_id = r.member_id AND w.program_id = r.program_id
    WHERE r.error IS NULL
    ORDER BY w.id
    ON CONFLICT (reference) DO NOTHING
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


def _import_postgres(stream, header_end: int, report: ImportReport, *, progress: bool):
    size = os.fstat(stream.fileno()).st_size
    timer = _StepTimer(report)
    with transaction.atomic():
        with connection.cursor() as cursor:
            _pg_stage_and_apply(cursor, stream, header_end, size, report, timer, progress)
    # The ledger's wallet foreign key is deferred: one check per new entry runs at commit.
    timer("commit")


def _pg_stage_and_apply(cursor, stream, header_end, size, report, timer, progress):
    import psycopg

    params = {
        "ref_max": REFERENCE_MAX,
        "e_columns": ERR_COLUMNS,
        "e_reference": ERR_REFERENCE,
        "e_caisse": ERR_CAISSE,
        "e_account": ERR_ACCOUNT,
        "e_member": ERR_MEMBER,
        "e_program": ERR_PROGRAM,
        "e_program_cr": ERR_PROGRAM_CR,
        "e_period": ERR_PERIOD,
        "e_amount": ERR_AMOUNT,
        "e_duplicate": ERR_DUPLICATE,
    }
    # ON COMMIT DROP is not enough when the import runs inside a caller's transaction
    # (it is then a savepoint): start from a clean slate.
    cursor.execute(
        "DROP TABLE IF EXISTS credit_import_fields, credit_import_staging, credit_import_rows, "
        "credit_import_totals, credit_import_wallets"
    )
    # Sorts and hashes over a million rows stay in memory; local to this transaction.
    cursor.execute("SELECT set_config('work_mem', %s, true)", [PG_WORK_MEM])
    cursor.execute(_PG_FIELDS_TABLE)
    try:
        # Line numbers come from the identity, which COPY fills in file order (line 1
        # is the header). psycopg 3's copy, behind Django's cursor wrapper.
        with transaction.atomic():
            _pg_copy(
                cursor,
                "COPY credit_import_fields (caisse_code, account_number, program_code, "
                "period, amount_text, reference) FROM STDIN WITH (FORMAT csv, "
                "FORCE_NOT_NULL (caisse_code, account_number, program_code, period, "
                "amount_text, reference))",
                stream,
                header_end,
                size,
                progress,
            )
    except psycopg.DataError:
        # Not a clean six-column CSV: take each line whole (CSV format with delimiter and
        # quote bytes that never occur), split it in SQL, and report the bad rows.
        cursor.execute(_PG_RAW_TABLE)
        try:
            _pg_copy(
                cursor,
                "COPY credit_import_staging (raw) FROM STDIN "
                "WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')",
                stream,
                header_end,
                size,
                progress,
            )
        except psycopg.DataError as exc:  # e.g. bytes that are not UTF-8
            raise ImportFileError(f"fichier illisible : {exc}") from exc
        cursor.execute(_PG_FIELDS_FROM_RAW)
    timer("staging COPY")
    steps = _progress_bar(4, progress, "Validation et application", unit="étapes")
    cursor.execute(_PG_PARSE, params)
    cursor.execute("ANALYZE credit_import_rows")
    steps.update(1)
    timer("validation")
    cursor.execute(
        "SELECT line, error FROM credit_import_rows WHERE error IS NOT NULL ORDER BY line"
    )
    report.errors = [(int(line), error) for line, error in cursor.fetchall()]
    timer("report")
    cursor.execute(_PG_TOTALS)
    cursor.execute("SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM credit_import_totals")
    valid, valid_tookets = (int(x) for x in cursor.fetchone())
    report.rows = valid + len(report.errors)
    steps.update(1)
    timer("totals per wallet")
    if report.rejected or valid == 0:
        steps.close()
        return
    cursor.execute(_PG_CREATE_WALLETS)
    report.wallets_created = cursor.rowcount
    timer("wallet upsert")
    cursor.execute(_PG_LOCK_WALLETS)
    cursor.execute("ANALYZE credit_import_wallets")
    steps.update(1)
    timer("wallet lock")
    try:
        with transaction.atomic():
            cursor.execute(_PG_INSERT_NEW)
            timer("insert")
            cursor.execute(_PG_BALANCES_FROM_TOTALS)
            timer("balances")
        report.applied, report.tookets_applied = valid, valid_tookets
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)
        if getattr(diag, "constraint_name", None) != REFERENCE_CONSTRAINT:
            raise
        timer("insert (rolled back: references already imported)")
        cursor.execute(_PG_APPLY)
        applied, tookets = cursor.fetchone()
        report.applied, report.tookets_applied = int(applied), int(tookets)
        timer("insert skipping known references, and balances")
    steps.update(1)
    steps.close()
    report.already_applied = valid - report.applied


def _pg_copy(cursor, sql: str, stream, start: int, size: int, progress: bool):
    stream.seek(start)
    bar = _progress_bar(size - start, progress, "COPY")
    try:
        with cursor.cursor.copy(sql) as copy:
            while block := stream.read(1 << 20):
                copy.write(block)
                bar.update(len(block))
    finally:
        bar.close()


# --- SQLite and other databases: plain Python ----------------------------------------------


def _validate_rows(stream, header_end: int, report: ImportReport, *, progress: bool):
    """Parse and check every row; return the good ones as (line, member_id, program_id, …)."""

    caisses = dict(CaisseRegionale.objects.values_list("code", "id"))
    programs = {
        code: (pk, cr)
        for code, pk, cr in Program.objects.values_list("code", "id", "caisse_regionale_id")
    }
    period_re, account_re, amount_re = (
        re.compile(PERIOD_RE),
        re.compile(ACCOUNT_RE),
        re.compile(AMOUNT_RE),
    )
    bar = _progress_bar(None, progress, "Lecture", unit="lignes")
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    parsed = []
    reader = csv.reader(text)
    for fields in reader:
        line = reader.line_num + 1  # the header was read before the reader started
        if not any(f.strip() for f in fields):
            continue
        parsed.append((line, fields))
        bar.update(1)
    bar.close()
    text.detach()  # the caller's ``with open(...)`` owns and closes the file
    report.rows = len(parsed)

    # Members of the file, looked up in batches of accounts (not one query per row).
    wanted = {
        (caisses.get(f[0]), f[1])
        for _line, f in parsed
        if len(f) == 6 and f[0] in caisses and account_re.fullmatch(f[1])
    }
    members = {}
    by_caisse: dict[int, list[str]] = {}
    for cr_id, account in wanted:
        by_caisse.setdefault(cr_id, []).append(account)
    for cr_id, accounts in by_caisse.items():
        for i in range(0, len(accounts), 500):
            rows = User.objects.filter(
                kind=User.Kind.MEMBER,
                caisse_regionale_id=cr_id,
                account_number__in=accounts[i : i + 500],
            ).values_list("account_number", "id")
            for account, pk in rows:
                members[(cr_id, account)] = pk

    first_line: dict[str, int] = {}
    good = []
    for line, f in parsed:
        error = None
        if len(f) != 6:
            error = ERR_COLUMNS
        else:
            caisse_code, account, program_code, period, amount_text, reference = f
            cr_id = caisses.get(caisse_code)
            program = programs.get(program_code)
            if not reference or len(reference) > REFERENCE_MAX:
                error = ERR_REFERENCE
            elif cr_id is None:
                error = ERR_CAISSE
            elif not account_re.fullmatch(account):
                error = ERR_ACCOUNT
            elif (cr_id, account) not in members:
                error = ERR_MEMBER
            elif program is None:
                error = ERR_PROGRAM
            elif program[1] != cr_id:
                error = ERR_PROGRAM_CR
            elif not period_re.fullmatch(period):
                error = ERR_PERIOD
            elif not amount_re.fullmatch(amount_text) or int(amount_text) == 0:
                error = ERR_AMOUNT
            elif reference in first_line:
                error = ERR_DUPLICATE.format(line=first_line[reference])
        if len(f) == 6 and f[5] and f[5] not in first_line:
            first_line[f[5]] = line
        if error:
            report.errors.append((line, error))
        else:
            good.append(
                (members[(cr_id, account)], program[0], period, int(amount_text), reference)
            )
    return good


def _import_python(stream, header_end: int, report: ImportReport, *, progress: bool):

    good = _validate_rows(stream, header_end, report, progress=progress)
    if report.rejected or not good:
        return
    bar = _progress_bar(len(good), progress, "Application", unit="lignes")
    with transaction.atomic():
        for start in range(0, len(good), BATCH):
            batch = good[start : start + BATCH]
            keys = sorted({(m, p) for m, p, *_ in batch})
            before = Wallet.objects.count()
            Wallet.objects.bulk_create(
                [Wallet(member_id=m, program_id=p) for m, p in keys], ignore_conflicts=True
            )
            report.wallets_created += Wallet.objects.count() - before
            member_ids = {m for m, _ in keys}
            wallets = {
                (w.member_id, w.program_id): w.pk
                for w in Wallet.objects.select_for_update()
                .filter(member_id__in=member_ids)
                .order_by("pk")
            }
            refs = [r[4] for r in batch]
            known = set(
                LedgerEntry.objects.filter(reference__in=refs).values_list("reference", flat=True)
            )
            now = timezone.now()
            entries = [
                LedgerEntry(
                    wallet_id=wallets[(m, p)],
                    kind=LedgerEntry.Kind.CREDIT,
                    amount=amount,
                    reference=ref,
                    period=period,
                    created_at=now,
                )
                for m, p, period, amount, ref in batch
                if ref not in known
            ]
            LedgerEntry.objects.bulk_create(entries)
            per_wallet = Counter()
            for e in entries:
                per_wallet[e.wallet_id] += e.amount
            for wallet_id in sorted(per_wallet):
                Wallet.objects.filter(pk=wallet_id).update(
                    balance=F("balance") + per_wallet[wallet_id]
                )
            report.applied += len(entries)
            report.already_applied += len(batch) - len(entries)
            report.tookets_applied += sum(e.amount for e in entries)
            bar.update(len(batch))
    bar.close()


def write_report(report: ImportReport, destination: str | os.PathLike) -> Path:
    destination = Path(destination)
    destination.write_text(report.as_text(), encoding="utf-8")
    return destination
