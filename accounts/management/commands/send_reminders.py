from django.core.management.base import BaseCommand, CommandError

from accounts import emails
from cagnotte.models import Program


class Command(BaseCommand):
    help = (
        "Envoie le rappel de fin de campagne d’un programme à ses sociétaires qui ont encore des "
        "Tookets, une seule fois chacun ; jamais après la clôture du programme."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="code du programme")
        parser.add_argument("--batch-size", type=int, default=emails.BATCH_SIZE)

    def handle(self, *args, program, batch_size=emails.BATCH_SIZE, **options):
        found = Program.objects.filter(code=program).first()
        if found is None:
            raise CommandError(f"programme inconnu : {program}")
        try:
            report = emails.send_reminders(program=found, batch_size=batch_size)
        except emails.CampaignClosed:
            raise CommandError(
                f"le programme {program} est clôturé : plus de rappel à envoyer"
            ) from None
        self.stdout.write(report.summary())
