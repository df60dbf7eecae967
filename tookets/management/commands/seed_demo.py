"""Load deterministic demo data: local banks, members, associations, programs, credits, and
the campaign history (2024 swept and paid, last year closed awaiting its sweep, this year open).

Each app seeds its own part (``<app>/demo.py``); this command, in the project package because
it touches every app, runs them in order. A part that fails stops the command with its name:
nothing is skipped silently.
"""

import random
import time

from django.core.management.base import BaseCommand, CommandError

from accounts import demo as accounts_demo
from associations import demo as associations_demo
from cagnotte import demo as cagnotte_demo
from caisses import demo as caisses_demo
from caisses.models import CaisseLocale


class Command(BaseCommand):
    help = "Charge des données de démonstration déterministes."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="nombre de sociétaires")
        parser.add_argument(
            "--associations",
            type=int,
            default=None,
            help="nombre d'associations hors Pyrénées Gascogne (défaut : raisonnable)",
        )
        parser.add_argument("--seed", type=int, default=2015, help="graine du générateur")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="ne rien faire si la base contient déjà des caisses locales",
        )

    def handle(self, *args, members, associations, seed, if_empty, **options):
        if if_empty and CaisseLocale.objects.exists():
            self.stdout.write("Données déjà présentes : rien à charger.")
            return
        steps = [
            ("caisses locales", caisses_demo.seed),
            ("sociétaires", lambda rng: accounts_demo.seed(rng, members=members)),
            ("associations", lambda rng: associations_demo.seed(rng, associations=associations)),
            ("cagnottes", cagnotte_demo.seed),
            ("campagnes passées", cagnotte_demo.seed_history),
        ]
        total_start = time.perf_counter()
        for label, step in steps:
            start = time.perf_counter()
            # One generator per step, seeded from the step's name: a step's data does not
            # change when another step draws more or fewer numbers.
            rng = random.Random(f"{seed}:{label}")
            try:
                summary = step(rng)
            except Exception as exc:
                raise CommandError(
                    f"données de démonstration, étape « {label} » : {exc!r}"
                ) from exc
            self.stdout.write(f"{label}: {summary} ({time.perf_counter() - start:.1f} s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"Données de démonstration chargées en {time.perf_counter() - total_start:.1f} s."
            )
        )
