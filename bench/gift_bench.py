"""Gift benchmark: a matched gift against an unmatched one, in process, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tookets_bench \\
        .venv/bin/python bench/gift_bench.py [--gifts 200] [--rounds 5]

Migrates the database, then builds (untimed) one open bench program of Pyrénées Gascogne,
two enrolled associations (one of activity « sport », one « culture »), a matching offer that
doubles gifts to sports associations (a cap per member, so the heavier path runs: the query of
what the member has used; a budget that never runs out) and ``--gifts`` members, each credited.

Each round times ``--gifts`` gifts of 10 K through ``cagnotte.services.give_tookets`` (one
transaction each, as a page posts them) to the culture association (unmatched) and as many
to the sports association (matched: the offer's row locked, the matching entry written, the
figures moved), the two kinds interleaved one by one so that a burst of load elsewhere on
the machine hits both alike. Prints each round's median time per gift of both kinds and
their ratio, then the median ratio of the rounds with its spread. Target: matched ≤ 1.3 ×
unmatched. Bench rows stay (the database is the bench's own).
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from associations.models import Activity, Association  # noqa: E402
from cagnotte.campaigns import Enrollment, Program  # noqa: E402
from cagnotte.ledger_checks import check_ledger  # noqa: E402
from cagnotte.models import LedgerEntry, MatchingOffer  # noqa: E402
from cagnotte.services import credit_wallet, give_tookets  # noqa: E402
from caisses.models import CaisseRegionale  # noqa: E402

CAISSE = "pyrenees-gascogne"
TARGET = 1.3
GIFT = 10


def build(members: int, run: str):
    caisse = CaisseRegionale.objects.get(code=CAISSE)
    year = timezone.localdate().year
    program, _ = Program.objects.get_or_create(
        code=f"banc-dons-{year}",
        defaults={
            "caisse_regionale": caisse,
            "name": "Programme de banc d’essai (dons)",
            "year": year,
            "opens_on": datetime.date(year, 1, 1),
            "closes_on": datetime.date(year, 12, 31),
        },
    )
    associations = {}
    for n, code in enumerate(("sport", "culture")):
        association, _ = Association.objects.get_or_create(
            caisse_regionale=caisse,
            account_number=f"{94000000000 + n}",
            defaults={
                "name": f"Association banc {code}",
                "status": Association.Status.VALIDATED,
                "activity": Activity.objects.get(code=code),
            },
        )
        Enrollment.objects.get_or_create(association=association, program=program)
        associations[code] = association
    offer = MatchingOffer.objects.filter(program=program).first() or MatchingOffer.objects.create(
        program=program,
        name="Banc : dons aux associations sportives doublés",
        starts_on=program.opens_on,
        ends_on=program.closes_on,
        cap_per_member=1_000_000,
        budget=10**12,
    )
    offer.activities.set(Activity.objects.filter(code="sport"))
    givers = []
    for n in range(members):
        account = f"{93000000000 + n}"
        user, _ = User.objects.get_or_create(
            caisse_regionale=caisse,
            account_number=account,
            defaults={
                "username": f"{CAISSE}:{account}",
                "kind": User.Kind.MEMBER,
                "display_name": f"Sociétaire banc {n}",
                "is_societaire": True,
                "recap_emails": False,
                "password": "!",
            },
        )
        credit_wallet(member=user, program=program, amount=10_000, reference=f"banc-dons-{run}-{n}")
        givers.append(user)
    return program, associations, givers


def timed(member, program, association, token):
    start = time.perf_counter()
    gift = give_tookets(
        member=member, program=program, association_id=association.pk, amount=GIFT, token=token
    )
    elapsed = time.perf_counter() - start
    return elapsed, gift


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    run = f"{time.time_ns()}"
    program, associations, givers = build(args.gifts, run)
    print(
        f"load average before: {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} CPUs; a figure is trustworthy under 1)"
    )
    ratios = []
    for r in range(args.rounds):
        plain, matched = [], []
        for n, member in enumerate(givers):
            order = (("culture", plain), ("sport", matched))
            if (n + r) % 2:
                order = order[::-1]
            for code, times in order:
                elapsed, gift = timed(
                    member, program, associations[code], f"banc-{run}-{r}-{n}-{code}"
                )
                assert (gift.matching is not None) == (code == "sport"), gift.matching
                times.append(elapsed)
        p, m = statistics.median(plain), statistics.median(matched)
        ratios.append(m / p)
        print(
            f"round {r + 1}: unmatched {p * 1000:.2f} ms, matched {m * 1000:.2f} ms, "
            f"ratio {m / p:.2f}"
        )
    median = statistics.median(ratios)
    print(
        f"matched / unmatched: median {median:.2f} over {len(ratios)} rounds "
        f"(spread {min(ratios):.2f}–{max(ratios):.2f}); target ≤ {TARGET} "
        f"{'met' if max(ratios) <= TARGET else ('met at the median only' if median <= TARGET else 'NOT met')}"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    entries = LedgerEntry.objects.filter(kind="matching", offer__program=program).count()
    result = check_ledger()
    print(f"{entries} matching entries in the bench program; check_ledger ok: {result.ok}")


if __name__ == "__main__":
    main()
