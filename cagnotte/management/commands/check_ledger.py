"""manage.py check_ledger: exits non-zero and names what breaks the ledger's invariants."""

from django.core.management.base import BaseCommand, CommandError

from cagnotte.ledger_checks import SHOWN, check_ledger


class Command(BaseCommand):
    help = (
        "Vérifie le grand livre : solde de chaque cagnotte = somme de ses mouvements, "
        "conservation des Tookets, totaux des associations, états des versements."
    )

    def handle(self, *args, **options):
        result = check_ledger()
        t = result.totals
        self.stdout.write(
            f"Crédité {t['credited']} K = soldes {t['balances']} K + donné {t['given']} K"
            f" + fin d’année {t['swept']} K + rendu {t['returned']} K"
        )
        for year in result.by_year:
            self.stdout.write(f"  {year.line}")
        for title, problems in [
            ("Cagnottes incohérentes", result.wallets),
            ("Conservation", result.conservation),
            ("Associations incohérentes", result.associations),
            ("États des versements incohérents", result.statements),
            ("Abondements incohérents", result.matching),
            ("Années incohérentes", result.years),
        ]:
            if problems:
                self.stderr.write(f"{title} ({len(problems)}) :")
                for problem in problems[:SHOWN]:
                    self.stderr.write(f"  {problem}")
                if len(problems) > SHOWN:
                    self.stderr.write(f"  … et {len(problems) - SHOWN} autres")
        if not result.ok:
            raise CommandError("le grand livre est incohérent")
        self.stdout.write(self.style.SUCCESS("Grand livre cohérent."))
