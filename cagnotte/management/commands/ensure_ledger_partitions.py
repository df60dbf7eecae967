"""manage.py ensure_ledger_partitions: the beat job's safety net, by hand."""

from django.core.management.base import BaseCommand

from cagnotte.ledger_partitions import ensure_ledger_partitions, ledger_partition_years


class Command(BaseCommand):
    help = (
        "Crée les partitions du grand livre manquantes : l’année de chaque programme, "
        "l’année en cours et la suivante (PostgreSQL)."
    )

    def handle(self, *args, **options):
        made = ensure_ledger_partitions()
        self.stdout.write(f"Partitions créées : {', '.join(map(str, made)) or 'aucune'}")
        years = ledger_partition_years()
        self.stdout.write(f"Années du grand livre : {', '.join(map(str, years)) or '—'}")
