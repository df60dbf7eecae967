"""Celery tasks: thin wrappers around the import service."""

import logging
import shutil
from pathlib import Path

from celery import shared_task
from django.conf import settings

from cagnotte.imports import ImportFileError, import_credits
from cagnotte.models import CreditImportBatch

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


def _unique_destination(folder: Path, name: str) -> Path:
    destination = folder / name
    n = 1
    while destination.exists():
        destination = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return destination


@shared_task
def import_dropped_credit_files() -> list[str]:
    """Import every ``*.csv`` in ``CREDIT_DROP_DIR``; move each to ``done/`` with its report.

    A file is moved only after its import committed; if the worker dies in between, the next
    run imports it again, which credits nothing twice.
    """
    drop = Path(settings.CREDIT_DROP_DIR)
    if not drop.is_dir():
        return []
    done = drop / "done"
    done.mkdir(exist_ok=True)
    processed = []
    for path in sorted(drop.glob("*.csv")):
        try:
            report = import_credits(
                path=path, source=CreditImportBatch.Source.TASK, run_by="celery beat"
            )
            text = report.as_text()
        except ImportFileError as exc:
            text = f"Fichier : {path}\nFichier refusé : {exc}\n"
        destination = _unique_destination(done, path.name)
        shutil.move(str(path), destination)
        destination.with_name(destination.name + ".rapport.txt").write_text(text, encoding="utf-8")
        processed.append(str(destination))
    return processed
