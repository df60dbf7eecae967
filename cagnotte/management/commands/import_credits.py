"""manage.py import_credits FILE.csv [--all-or-nothing] [--report PATH] [--force]"""

import sys

from django.core.management.base import BaseCommand, CommandError

from cagnotte.imports import ImportFileError, current_operator, import_credits, write_report
from cagnotte.models import CreditImportBatch

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = "Importe un fichier mensuel de crédits de Tookets (CSV de la banque)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="fichier CSV")
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="n’appliquer aucun crédit si une ligne est en erreur",
        )
        parser.add_argument("--report", help="écrire le rapport complet dans ce fichier")
        parser.add_argument(
            "--force",
            action="store_true",
            help="relire un fichier déjà importé (même empreinte SHA-256)",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="pas de barre de progression"
        )

    def handle(self, *args, path, all_or_nothing, report, force, no_progress, **options):
        progress = not no_progress and sys.stderr.isatty()
        try:
            result = import_credits(
                path=path,
                all_or_nothing=all_or_nothing,
                progress=progress,
                force=force,
                source=CreditImportBatch.Source.COMMAND,
                run_by=current_operator(),
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
        for line, reason in result.errors[:SHOWN_ERRORS]:
            self.stdout.write(f"ligne {line} : {reason}")
        if len(result.errors) > SHOWN_ERRORS:
            self.stdout.write(f"… et {len(result.errors) - SHOWN_ERRORS} autres lignes en erreur")
        if report:
            write_report(result, report)
            self.stdout.write(f"Rapport : {report}")
        if result.rejected:
            raise CommandError("aucun crédit appliqué (--all-or-nothing)")
