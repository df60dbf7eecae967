"""Print the demo identifiers to log in with (`make run` shows them before serving)."""

from django.core.management.base import BaseCommand

from accounts import demo
from accounts.models import BankCustomer, User
from caisses.models import CaisseRegionale


class Command(BaseCommand):
    help = "Affiche les identifiants de démonstration."

    def handle(self, *args, **options):
        home = CaisseRegionale.objects.filter(code=demo.HOME_CAISSE).first()
        home_name = home.name if home else "Pyrénées Gascogne"
        lines = [
            "Identifiants de démonstration (code personnel : 123456, sur le pavé numérique)",
            "",
            f"  Sociétaire      : caisse « {home_name} », identifiant {demo.DEMO_MEMBER[0]}"
            f" ({demo.DEMO_MEMBER[1]} {demo.DEMO_MEMBER[2]})",
            f"  Association     : « Association ? Créez votre compte », caisse « {home_name} »,"
            f" compte de l’association {demo.DEMO_ASSOCIATION_ACCOUNT}"
            f" ({demo.DEMO_ASSOCIATION_NAME}), code du président",
            f"  Président       : identifiant personnel {demo.DEMO_PRESIDENT[0]}"
            f" ({demo.DEMO_PRESIDENT[1]} {demo.DEMO_PRESIDENT[2]})",
            f"  Refus (non sociétaire)       : identifiant {demo.DEMO_NOT_SOCIETAIRE[0]}",
            f"  Refus (sans banque en ligne) : identifiant {demo.DEMO_NO_ONLINE_BANKING[0]}",
            "",
            f"Administration (/admin/), mot de passe « {demo.STAFF_PASSWORD} » :",
        ]
        for username, caisse_code, superuser in demo.DEMO_STAFF:
            if superuser:
                scope = "super-utilisateur, toutes les caisses"
            else:
                cr = CaisseRegionale.objects.filter(code=caisse_code).first()
                scope = f"service Tookets, {cr.name if cr else caisse_code}"
            lines.append(f"  {username:<15} : {scope}")
        if not BankCustomer.objects.filter(account_number=demo.DEMO_MEMBER[0]).exists():
            lines += ["", "(Aucune donnée de démonstration : lancez « manage.py seed_demo ».)"]
        elif not User.objects.filter(username="admin").exists():
            lines += ["", "(Comptes du personnel absents : lancez « manage.py seed_demo ».)"]
        self.stdout.write("\n".join(lines))
