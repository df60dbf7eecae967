"""Celery tasks: thin wrappers around the import and sweep services."""

import logging

from celery import shared_task

from cagnotte.campaigns import Program
from cagnotte.imports import import_credits
from cagnotte.imports.drop_folder import DropFolderMissing, import_drop_folder
from cagnotte.ledger_partitions import ensure_ledger_partitions
from cagnotte.models import CreditImportBatch
from cagnotte.sweep import SweepBusy, sweep_caisse

log = logging.getLogger(__name__)


@shared_task
def import_credit_file(path: str) -> dict:
    """Import one credit file. Safe to run twice: rows already imported are skipped."""
    report = import_credits(path=path, source=CreditImportBatch.Source.TASK, run_by="celery")
    log.info("credit import %s: %s", path, report.summary().replace("\n", "; "))
    return {
        "rows": report.rows,
        "applied": report.applied,
        "already_applied": report.already_applied,
        "errors": len(report.errors),
    }


@shared_task
def import_dropped_credit_files() -> list[str]:
    """Import every ``*.csv`` in ``CREDIT_DROP_DIR`` and move it to ``done/`` with its report
    (``manage.py import_drop_folder`` by hand)."""
    try:
        dropped = import_drop_folder(source=CreditImportBatch.Source.TASK, run_by="celery beat")
    except DropFolderMissing:
        return []
    return [str(d.destination) for d in dropped]


@shared_task
def ensure_ledger_year_partitions() -> list[int]:
    """The ledger's partitions for every program's year, this year and next (PostgreSQL);
    saving a program makes its own, this is the safety net. Safe to run twice."""
    made = ensure_ledger_partitions()
    if made:
        log.warning("ledger partitions made by the safety net for %s", made)
    return made


@shared_task
def sweep_closed_programs() -> list[int]:
    """Fan the year-end sweep out: one task per regional bank with a closed, unswept program,
    so several workers share it (without a broker they run here, one after the other)."""
    caisse_ids = sorted(
        set(Program.objects.sweepable_on().values_list("caisse_regionale_id", flat=True))
    )
    for caisse_id in caisse_ids:
        sweep_caisse_programs.delay(caisse_id)
    return caisse_ids


@shared_task
def sweep_caisse_programs(caisse_regionale_id: int) -> list[dict]:
    """Sweep one bank's closed programs. Safe to run twice, or at once with another worker:
    the second finds nothing to move or is told the program is being swept."""
    try:
        outcomes = sweep_caisse(
            caisse_regionale_id=caisse_regionale_id, run_by_label="tâche Celery (beat)"
        )
    except SweepBusy as exc:
        log.info("sweep skipped: %s", exc)
        return []
    return [
        {
            "program": o.program.code,
            "wallets": o.figures.wallets,
            "to_favourites": o.figures.to_favourites,
            "returned": o.figures.returned,
        }
        for o in outcomes
    ]
