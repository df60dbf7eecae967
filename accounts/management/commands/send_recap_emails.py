from django.core.management.base import BaseCommand, CommandError

from accounts import emails
from tookets.periods import parse_period, previous_period


class Command(BaseCommand):
    help = (
        "Envoie le récapitulatif mensuel aux sociétaires qui l’acceptent, une seule fois par "
        "sociétaire et par mois (relancer la commande n’envoie rien de plus)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", help="mois du récapitulatif, AAAA-MM (par défaut : le mois précédent)"
        )
        parser.add_argument("--batch-size", type=int, default=emails.BATCH_SIZE)

    def handle(self, *args, period=None, batch_size=emails.BATCH_SIZE, **options):
        period = period or previous_period()
        try:
            parse_period(period)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        report = emails.send_recap_emails(period=period, batch_size=batch_size)
        self.stdout.write(report.summary())
