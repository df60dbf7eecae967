"""What an import tells the operator: counts, each bad row with its line and reason."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone
from tqdm import tqdm


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
    sha256: str = ""
    # The batch recording this import, and the earlier one when the file was imported already
    # (nothing was read again).
    batch_id: int | None = None
    duplicate_of: object | None = None
    # Seconds per step of the PostgreSQL path, for bench/import_bench.py's profile.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Nothing was applied because of --all-or-nothing and at least one bad row."""
        return self.all_or_nothing and bool(self.errors)

    def summary(self) -> str:
        lines = [f"Fichier : {self.path}"]
        if self.duplicate_of is not None:
            earlier = self.duplicate_of
            lines.append(
                f"Fichier déjà importé (lot n° {earlier.pk} du "
                f"{timezone.localtime(earlier.started_at):%d/%m/%Y %H:%M}, même empreinte SHA-256 "
                f"{self.sha256}) : il n’a pas été relu, rien n’a été appliqué. "
                "--force pour l’importer quand même."
            )
            return "\n".join(lines)
        lines += [
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


def write_report(report: ImportReport, destination: str | os.PathLike) -> Path:
    destination = Path(destination)
    destination.write_text(report.as_text(), encoding="utf-8")
    return destination


def progress_bar(total: int | None, enabled: bool, desc: str, unit: str = "o"):
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=desc,
        disable=not enabled,
        file=sys.stderr,
        leave=False,
    )
