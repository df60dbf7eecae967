"""manage.py sweep_campaign: the year-end sweep of closed programs, by hand (beat runs it too)."""

from django.core.management.base import BaseCommand, CommandError

from cagnotte.sweep import (
    BATCH_SIZE,
    SweepBusy,
    SweepRefused,
    by_caisse,
    check_sweepable,
    programs_to_sweep,
    sweep_caisse,
)
from cagnotte.sweep import (
    dry_run as figures_if_swept,
)


class Command(BaseCommand):
    help = (
        "Solde les programmes clos : le solde de chaque cagnotte va à l’association favorite "
        "du sociétaire quand elle est enrôlée dans le programme, sinon à la caisse régionale."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--year", type=int, help="année de campagne (ex. 2025)")
        which.add_argument("--program", help="code d’un programme")
        parser.add_argument("--caisse", help="code d’une caisse régionale (par défaut : toutes)")
        parser.add_argument(
            "--dry-run", action="store_true", help="affiche ce qui serait soldé, sans rien changer"
        )
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"défaut {BATCH_SIZE}"
        )
        parser.add_argument(
            "--pause", type=float, default=0.0, help="secondes d’attente entre deux lots"
        )

    def handle(self, *args, year, program, caisse, dry_run, batch_size, pause, **options):
        programs = programs_to_sweep(year=year, program_code=program, caisse_code=caisse)
        if not programs:
            raise CommandError("Aucun programme ne correspond.")
        try:
            for p in programs:
                check_sweepable(p)
        except SweepRefused as exc:
            raise CommandError(str(exc)) from exc
        grand = [0, 0, 0]
        failed = False
        for cr, cr_programs in by_caisse(programs).items():
            todo = [p for p in cr_programs if not p.is_swept]
            for p in cr_programs:
                if p.is_swept:
                    self.stdout.write(
                        f"{cr.name} — {p.code} : déjà soldé le {p.swept_at:%d/%m/%Y}, rien à faire."
                    )
            if not todo:
                continue
            if dry_run:
                for p in todo:
                    f = figures_if_swept(p)
                    self._line(cr, p.code, f.wallets, f.to_favourites, f.returned, "à solder")
                    for i, v in enumerate((f.wallets, f.to_favourites, f.returned)):
                        grand[i] += v
                continue
            try:
                outcomes = sweep_caisse(
                    caisse_regionale_id=cr.pk,
                    program_ids=[p.pk for p in todo],
                    run_by_label="commande sweep_campaign",
                    batch_size=batch_size,
                    pause=pause,
                )
            except SweepBusy as exc:
                self.stderr.write(str(exc))
                failed = True
                continue
            for o in outcomes:
                f = o.figures
                self._line(cr, o.program.code, f.wallets, f.to_favourites, f.returned, "soldées")
                for i, v in enumerate((f.wallets, f.to_favourites, f.returned)):
                    grand[i] += v
                if o.remaining:
                    self.stderr.write(
                        f"  {o.remaining} cagnottes gardent un solde déjà soldé une fois : "
                        "à régulariser à la main."
                    )
                    failed = True
        verb = "seraient soldées" if dry_run else "soldées"
        self.stdout.write(
            self.style.SUCCESS(
                f"Total : {grand[0]} cagnottes {verb}, {grand[1]} K aux associations favorites, "
                f"{grand[2]} K rendus aux caisses régionales."
            )
        )
        if failed:
            raise CommandError("soldage incomplet")

    def _line(self, cr, code, wallets, to_favourites, returned, what):
        self.stdout.write(
            f"{cr.name} — {code} : {wallets} cagnottes {what}, {to_favourites} K aux associations "
            f"favorites, {returned} K rendus à la caisse régionale"
        )
