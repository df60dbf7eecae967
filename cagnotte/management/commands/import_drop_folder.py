"""manage.py import_drop_folder [--folder DIR]: what beat does every 15 minutes, by hand."""

from django.core.management.base import BaseCommand, CommandError

from cagnotte.imports import current_operator
from cagnotte.imports.drop_folder import DropFolderMissing, import_drop_folder
from cagnotte.models import CreditImportBatch


class Command(BaseCommand):
    help = (
        "Importe chaque fichier *.csv du dossier de dépôt (CREDIT_DROP_DIR) et le range dans "
        "done/ avec son rapport, comme la tâche planifiée."
    )

    def add_arguments(self, parser):
        parser.add_argument("--folder", help="dossier de dépôt (par défaut : CREDIT_DROP_DIR)")

    def handle(self, *args, folder=None, **options):
        try:
            dropped = import_drop_folder(
                folder=folder,
                source=CreditImportBatch.Source.COMMAND,
                run_by=f"{current_operator()} (import_drop_folder)".strip(),
            )
        except DropFolderMissing as exc:
            raise CommandError(str(exc)) from exc
        for d in dropped:
            self.stdout.write(d.summary)
            self.stdout.write(f"Rangé dans {d.destination} ; rapport : {d.report_path}\n")
        self.stdout.write(f"{len(dropped)} fichier(s) traité(s).")
