"""The drop folder: credit files the bank drops in ``CREDIT_DROP_DIR``, imported and put aside.

Every ``*.csv`` directly in the folder is imported (``import_credits``), in name order, then
moved to ``done/`` with its report beside it (``<name>.rapport.txt``); a name already in
``done/`` gets a number (``avril.1.csv``). A file refused as a whole (no credit-file header) is
moved too, its report saying why. Beat runs it every 15 minutes
(``cagnotte.tasks.import_dropped_credit_files``); ``manage.py import_drop_folder`` runs it by
hand.

A file is moved only after its import committed; if the process dies in between, the next run
imports it again, which credits nothing twice (same references; the batch says « déjà
importé »).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from cagnotte.imports import ImportFileError, ImportReport, import_credits

DONE = "done"
REPORT_SUFFIX = ".rapport.txt"


class DropFolderMissing(Exception):
    """The drop folder does not exist (nothing dropped yet, or a wrong ``CREDIT_DROP_DIR``)."""


@dataclass(frozen=True)
class DroppedFile:
    name: str  # as dropped
    destination: Path  # where it is now, under done/
    report: ImportReport | None  # None: refused as a whole
    text: str  # the report written beside it

    @property
    def report_path(self) -> Path:
        return self.destination.with_name(self.destination.name + REPORT_SUFFIX)

    @property
    def summary(self) -> str:
        return self.report.summary() if self.report is not None else self.text.rstrip("\n")


def import_drop_folder(
    *, folder: str | os.PathLike | None = None, source: str, run_by: str
) -> list[DroppedFile]:
    """Import and move every ``*.csv`` of ``folder`` (``CREDIT_DROP_DIR`` by default)."""
    drop = Path(folder if folder is not None else settings.CREDIT_DROP_DIR)
    if not drop.is_dir():
        raise DropFolderMissing(f"dossier de dépôt introuvable : {drop}")
    done = drop / DONE
    done.mkdir(exist_ok=True)
    processed = []
    for path in sorted(drop.glob("*.csv")):
        report = None
        try:
            report = import_credits(path=path, source=source, run_by=run_by)
            text = report.as_text()
        except ImportFileError as exc:
            text = f"Fichier : {path}\nFichier refusé : {exc}\n"
        destination = _unique_destination(done, path.name)
        shutil.move(str(path), destination)
        dropped = DroppedFile(name=path.name, destination=destination, report=report, text=text)
        dropped.report_path.write_text(text, encoding="utf-8")
        processed.append(dropped)
    return processed


def _unique_destination(folder: Path, name: str) -> Path:
    destination = folder / name
    n = 1
    while destination.exists():
        destination = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return destination
