"""Demo programs, monthly credits and a few gifts.

Runs after the accounts and associations demos. Credits go through the real import service
(one CSV for the whole year so far), gifts through ``give_tookets``: the demo ledger is a
ledger like any other and ``check_ledger`` passes on it. Running it again adds nothing.
"""

import tempfile
from pathlib import Path

from django.utils import timezone

DEMO_CAISSE = "pyrenees-gascogne"
DEMO_ACCOUNT = "98652706859"
DEMO_NAME = "Jeanne Dupont"
DEMO_THIS_MONTH = 410  # « RÉCOLTÉ CE MOIS CI : 410 K », as in the guide
DEMO_LEFT = 110  # « RESTE À DISTRIBUER : 110 K » once her demo gifts are made
# Gifts go one by one through the real service: a fixed number, whatever the member count,
# keeps ``seed_demo --members 100000`` fast (about the default demo's 2,000 members' worth).
MAX_OTHER_GIFTS = 1_000


def ensure_programs(year: int) -> dict:
    """This year's program of every regional bank (the associations demo may have made them)."""
    from associations.demo import demo_program
    from cagnotte.models import Program
    from caisses.models import CaisseRegionale

    programs = {}
    for cr in CaisseRegionale.objects.order_by("code"):
        existing = Program.objects.filter(caisse_regionale=cr, year=year).order_by("pk").first()
        programs[cr.pk] = existing or demo_program(cr, year)
    return programs


def ensure_demo_member():
    from accounts.models import User
    from caisses.models import CaisseRegionale

    cr = CaisseRegionale.objects.get(code=DEMO_CAISSE)
    user, _ = User.objects.get_or_create(
        caisse_regionale=cr,
        account_number=DEMO_ACCOUNT,
        defaults={
            "username": f"{DEMO_CAISSE}:{DEMO_ACCOUNT}",
            "kind": User.Kind.MEMBER,
            "display_name": DEMO_NAME,
            "is_societaire": True,
            "password": "!",
        },
    )
    return user


def seed(rng) -> str:
    from accounts.models import User
    from cagnotte.imports import import_credits

    today = timezone.localdate()
    year, this_month = today.year, today.month
    programs = ensure_programs(year)
    jeanne = ensure_demo_member()
    members = list(
        User.objects.filter(kind=User.Kind.MEMBER, is_societaire=True, closed_at__isnull=True)
        .exclude(caisse_regionale=None)
        .select_related("caisse_regionale")
        .order_by("pk")
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "credits-demo.csv"
        with open(path, "w", encoding="utf-8") as out:
            out.write("caisse_code,account_number,program_code,period,amount,reference\n")
            for m in members:
                program = programs[m.caisse_regionale_id]
                for month in range(1, this_month + 1):
                    if m.pk == jeanne.pk:
                        amount = DEMO_THIS_MONTH if month == this_month else rng.randint(250, 450)
                    else:
                        amount = rng.randint(15, 420)
                    period = f"{year}-{month:02d}"
                    out.write(
                        f"{m.caisse_regionale.code},{m.account_number},{program.code},"
                        f"{period},{amount},demo-{m.caisse_regionale.code}-{m.account_number}"
                        f"-{period}\n"
                    )
        report = import_credits(path=path)
    gifts = _demo_gifts(rng, jeanne=jeanne, members=members, programs=programs)
    return (
        f"{len(programs)} programmes, {report.applied} crédits importés "
        f"({report.already_applied} déjà présents), {gifts} dons"
    )


def _demo_gifts(rng, *, jeanne, members, programs) -> int:
    """Jeanne gives down to 110 K left; a third of the others, up to ``MAX_OTHER_GIFTS``, give."""
    from associations.models import Association
    from cagnotte.models import LedgerEntry, Wallet
    from cagnotte.services import InsufficientBalance, NotEligible, give_tookets

    candidates = {}
    for cr_id, program in programs.items():
        candidates[cr_id] = list(
            Association.objects.filter(
                status=Association.Status.VALIDATED,
                caisse_regionale_id=cr_id,
                enrollments__program=program,
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:200]
        )
    wallets = {
        w.member_id: w
        for w in Wallet.objects.filter(program__in=programs.values(), member__in=members)
    }
    before = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).count()

    def give(member, association_id, amount, token):
        wallet = wallets.get(member.pk)
        if wallet is None:
            return
        try:
            give_tookets(
                member=member,
                wallet_id=wallet.pk,
                association_id=association_id,
                amount=amount,
                token=token,
            )
        except (InsufficientBalance, NotEligible):
            pass
        wallet.refresh_from_db(fields=["balance"])

    pool = candidates.get(jeanne.caisse_regionale_id) or []
    wallet = wallets.get(jeanne.pk)
    if pool and wallet is not None:
        wallet.refresh_from_db()
        to_give = wallet.balance - DEMO_LEFT
        shares = [to_give // 2, to_give // 3, to_give - to_give // 2 - to_give // 3]
        for i, share in enumerate(shares):
            if share > 0:
                give(jeanne, pool[i % len(pool)], share, f"demo-jeanne-{i}")
    attempts = 0
    for m in members:
        if attempts >= MAX_OTHER_GIFTS:
            break
        if m.pk == jeanne.pk or rng.random() > 0.33:
            continue
        pool = candidates.get(m.caisse_regionale_id) or []
        wallet = wallets.get(m.pk)
        if not pool or wallet is None or wallet.balance <= 1:
            continue
        for i in range(rng.randint(1, 2)):
            amount = rng.randint(1, max(1, wallet.balance // 3))
            give(m, rng.choice(pool), amount, f"demo-{m.pk}-{i}")
            attempts += 1
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).count() - before
