"""manage.py export_payouts: a program's payout statement as CSV or SEPA (pain.001.001.03)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cagnotte.campaigns import Program
from cagnotte.payouts import (
    PayoutError,
    compute_payout_statement,
    export_csv,
    export_sepa,
    payable_total_cents,
)


class Command(BaseCommand):
    help = "Exporte l’état des versements d’un programme soldé (CSV ou virement SEPA)."

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="code du programme")
        parser.add_argument("--format", required=True, choices=["csv", "sepa"])
        parser.add_argument("--output", required=True, help="fichier à écrire")

    def handle(self, *args, program, format, output, **options):
        found = Program.objects.select_related("caisse_regionale").filter(code=program).first()
        if found is None:
            raise CommandError(f"Programme inconnu : {program}")
        try:
            statement = compute_payout_statement(program=found)
            data = (
                export_csv(statement=statement)
                if format == "csv"
                else export_sepa(statement=statement)
            )
        except PayoutError as exc:
            raise CommandError(str(exc)) from exc
        Path(output).write_bytes(data)
        lines = list(statement.lines.all())
        apart = [line for line in lines if not line.payable]
        cents = payable_total_cents(statement)
        self.stdout.write(
            f"{found.code} : {len(lines)} associations, total {statement.total_k} K = "
            f"{statement.total_cents // 100},{statement.total_cents % 100:02d} € ; à virer "
            f"{cents // 100},{cents % 100:02d} € à {len(lines) - len(apart)} associations."
        )
        for line in apart:
            self.stdout.write(
                f"  à part : {line.association} ({line.amount_cents // 100},"
                f"{line.amount_cents % 100:02d} €) — {line.iban_problem}"
            )
        self.stdout.write(self.style.SUCCESS(f"Écrit : {output} ({format})"))
