"""Monthly credit files from the bank: validate every row, apply the good ones, report the rest.

File: UTF-8 CSV whose header is ``reader.HEADER`` (the columns of ``reader.COLUMNS``).
A row's ``reference`` is the bank's unique id of that credit and becomes the ledger entry's
reference: importing the same file twice (or two files sharing rows) credits each row once;
rows already imported are counted as « déjà appliquées », not as errors. Every run is
recorded as a :class:`~cagnotte.models.CreditImportBatch`; a file whose SHA-256 a finished
batch already imported is not read again unless ``force``.

By job:

* ``reader.py`` — the one reader, line by line, with Python's ``csv`` module; both engines
  get their rows from it.
* ``rules.py`` — the one ordered list of row rules; each engine derives its checks from it.
* ``postgres.py`` — PostgreSQL: the reader's records through ``COPY``, set-based SQL.
* ``python.py`` — any other database (SQLite in development): plain Python, in batches.
* ``report.py`` — the report.
* ``drop_folder.py`` — the files the bank drops in ``CREDIT_DROP_DIR``, imported and moved.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from pathlib import Path

from django.db import connection
from django.utils import timezone

from cagnotte.imports.postgres import import_postgres
from cagnotte.imports.python import import_python
from cagnotte.imports.reader import HEADER, Reader, read_header
from cagnotte.imports.report import ImportFileError, ImportReport, write_report
from cagnotte.ledger import LedgerYearMissing
from cagnotte.ledger_partitions import analyze_after_bulk_write, partition_name
from cagnotte.models import CreditImportBatch, Program, Wallet
from caisses.models import CaisseRegionale

__all__ = [
    "HEADER",
    "current_operator",
    "ImportFileError",
    "ImportReport",
    "import_credits",
    "write_report",
]

Source = CreditImportBatch.Source


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def import_credits(
    *,
    path: str | os.PathLike,
    all_or_nothing: bool = False,
    progress: bool = False,
    engine: str | None = None,
    force: bool = False,
    source: str = Source.OTHER,
    run_by: str = "",
) -> ImportReport:
    """Import one credit file and record the run as a batch; see the module docstring.

    ``engine`` forces ``"postgres"`` or ``"python"`` (tests run both on PostgreSQL); by default
    the database decides. A file already imported (same SHA-256, a finished batch) is not
    read: the report says so, unless ``force``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"fichier introuvable : {path}")
    report = ImportReport(path=str(path), all_or_nothing=all_or_nothing)
    report.sha256 = file_sha256(path)
    batch = CreditImportBatch.objects.create(
        file_name=path.name[:255],
        sha256=report.sha256,
        source=source,
        run_by=run_by[:150],
        all_or_nothing=all_or_nothing,
        forced=force,
    )
    report.batch_id = batch.pk
    if not force:
        report.duplicate_of = (
            CreditImportBatch.objects.filter(
                sha256=report.sha256, status=CreditImportBatch.Status.DONE
            )
            .exclude(pk=batch.pk)
            .order_by("started_at", "pk")
            .first()
        )
        if report.duplicate_of is not None:
            batch.duplicate_of = report.duplicate_of
            _finish(batch, report, CreditImportBatch.Status.DUPLICATE)
            return report
    try:
        with open(path, "rb") as stream:
            read_header(stream)
            reader = Reader(stream)
            engine = engine or ("postgres" if connection.vendor == "postgresql" else "python")
            if engine == "postgres":
                import_postgres(reader, report, size=path.stat().st_size, progress=progress)
            else:
                import_python(reader, report, progress=progress)
    except ImportFileError as exc:
        _finish(batch, report, CreditImportBatch.Status.REFUSED, text=f"Fichier refusé : {exc}")
        raise
    except LedgerYearMissing as exc:
        # Nothing was written (the import's one transaction rolled back): said in the batch.
        _finish(batch, report, CreditImportBatch.Status.FAILED, text=exc.message)
        raise
    except BaseException:
        _finish(batch, report, CreditImportBatch.Status.FAILED)
        raise
    banks = CaisseRegionale.objects.filter(code__in=reader.caisse_codes).values_list(
        "pk", flat=True
    )
    banks = list(banks[:2])
    batch.caisse_regionale_id = banks[0] if len(banks) == 1 else None
    status = CreditImportBatch.Status.REJECTED if report.rejected else CreditImportBatch.Status.DONE
    _finish(batch, report, status)
    if report.applied:
        _analyze_written(reader, report)
    return report


def _analyze_written(reader: Reader, report: ImportReport) -> None:
    """The statistics of the ledger partitions this file wrote and of the wallets, read again
    when the file outgrew them (``analyze_after_bulk_write``): the pages that read a member's
    entries keep their plans from the first view after a month's import."""
    codes = {program_code for _, program_code, _ in reader.keys}
    years = set(Program.objects.filter(code__in=codes).values_list("year", flat=True))
    written = {partition_name(year): report.applied for year in years}
    written[Wallet._meta.db_table] = report.wallets_created
    analyze_after_bulk_write(written)


def current_operator() -> str:
    """Who runs this process (a command's batches record it), or "" when nobody is named."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return ""


def _finish(batch, report: ImportReport, status: str, *, text: str | None = None) -> None:
    batch.status = status
    batch.rows = report.rows
    batch.applied = report.applied
    batch.already_applied = report.already_applied
    batch.error_count = len(report.errors)
    batch.tookets_applied = report.tookets_applied
    batch.wallets_created = report.wallets_created
    batch.report = report.as_text() if text is None else f"Fichier : {report.path}\n{text}\n"
    batch.finished_at = timezone.now()
    batch.save()
