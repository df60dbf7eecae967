"""Demo programs, monthly credits and a few gifts.

Runs after the accounts and associations demos. Credits go through the real import service
(one file per month), gifts through ``give_tookets``: the demo ledger is a ledger like any
other and ``check_ledger`` passes on it. Running it again adds nothing.

A demo that lives in time: each write is dated when it would have happened
(``ledger.written_at``): credits at the start of their month, gifts through the year, the
sweep at the close, the payout after. The entries stay append-only: each is written once,
with its date.
"""

import datetime
import tempfile
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from schwifty import IBAN

from accounts.models import BankCustomer, User
from associations.demo import demo_program
from associations.models import Activity, Association, Project, ProjectEvent
from cagnotte.campaigns import Enrollment, receiving_enrollments
from cagnotte.imports import HEADER, import_credits
from cagnotte.ledger import (
    InsufficientBalance,
    NotEligible,
    locked_wallets,
    post_entry,
    written_at,
)
from cagnotte.matching import save_offer
from cagnotte.models import (
    Favourite,
    LedgerEntry,
    MatchingOffer,
    PayoutStatement,
    Program,
    ProjectGift,
    SweepRun,
    Wallet,
)
from cagnotte.payouts import mark_statement_paid, mark_statement_sent
from cagnotte.services import give_tookets
from cagnotte.sweep import sweep_caisse
from caisses.models import CaisseRegionale
from tookets.periods import parse_period

DEMO_CAISSE = "pyrenees-gascogne"
DEMO_ACCOUNT = "98652706859"
DEMO_NAME = "Jeanne Dupont"
DEMO_THIS_MONTH = 410  # « RÉCOLTÉ CE MOIS CI : 410 K », as in the guide
DEMO_LEFT = 110  # « RESTE À DISTRIBUER : 110 K » once her demo gifts are made
# Gifts go one by one through the real service: a fixed number, whatever the member count,
# keeps ``seed_demo --members 100000`` fast (about the default demo's 2,000 members' worth).
MAX_OTHER_GIFTS = 1_000
# One accepted project of the home bank's first association by name, so that the
# demo shows a progress bar on its card and page; a few members (never Jeanne, whose balance
# the guide fixes) give to it.
DEMO_PROJECT_TITLE = "Du matériel neuf pour nos bénévoles"
DEMO_PROJECT_GOAL = 50_000
DEMO_PROJECT_GIVERS = 12


def _moment(day: datetime.date, hour: int = 9) -> datetime.datetime:
    """``day`` at ``hour``, in the site's time zone: when a demo write happened."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _gift_days() -> tuple[datetime.date, datetime.date]:
    """This year's gifts are dated through the year so far, before this month's credits."""
    today = timezone.localdate()
    first_day = min(datetime.date(today.year, 1, 10), today)
    return first_day, max(first_day, today.replace(day=1) - datetime.timedelta(days=1))


def _day_between(rng, first: datetime.date, last: datetime.date) -> datetime.date:
    """A day drawn in [first, last] (``first`` when the range is empty)."""
    return first + datetime.timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _import_by_month(lines_by_period: dict[str, list[str]], *, name: str):
    """One credit file per month, imported on the first day of that month: each credit is
    dated at the start of its period. Returns (applied, already applied)."""
    applied = already = 0
    with tempfile.TemporaryDirectory() as tmp:
        for period, lines in sorted(lines_by_period.items()):
            path = Path(tmp) / f"{name}-{period}.csv"
            path.write_text(HEADER + "\n" + "".join(lines), encoding="utf-8")
            with written_at(_moment(parse_period(period), hour=6)):
                report = import_credits(path=path)
            applied += report.applied
            already += report.already_applied
    return applied, already


def ensure_programs(year: int) -> dict:
    """This year's program of every regional bank (the associations demo may have made them)."""

    programs = {}
    for cr in CaisseRegionale.objects.order_by("code"):
        existing = Program.objects.filter(caisse_regionale=cr, year=year).order_by("pk").first()
        programs[cr.pk] = existing or demo_program(cr, year)
    return programs


def ensure_demo_member():

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
    lines: dict[str, list[str]] = {}
    for m in members:
        program = programs[m.caisse_regionale_id]
        for month in range(1, this_month + 1):
            if m.pk == jeanne.pk:
                amount = DEMO_THIS_MONTH if month == this_month else rng.randint(250, 450)
            else:
                amount = rng.randint(15, 420)
            period = f"{year}-{month:02d}"
            lines.setdefault(period, []).append(
                f"{m.caisse_regionale.code},{m.account_number},{program.code},"
                f"{period},{amount},demo-{m.caisse_regionale.code}-{m.account_number}"
                f"-{period}\n"
            )
    applied, already = _import_by_month(lines, name="credits-demo")
    ensure_demo_offer(programs[jeanne.caisse_regionale_id])
    gifts = _demo_gifts(rng, jeanne=jeanne, members=members, programs=programs)
    project_gifts = _demo_project(rng, jeanne=jeanne, members=members, programs=programs)
    return (
        f"{len(programs)} programmes, {applied} crédits importés "
        f"({already} déjà présents), {gifts} dons"
        f" dont {project_gifts} pour le projet de démonstration"
    )


DEMO_OFFER_NAME = "Dons aux associations sportives doublés par votre Caisse régionale"
DEMO_OFFER_BUDGET = 50_000


def ensure_demo_offer(program: Program) -> MatchingOffer:
    """Pyrénées Gascogne doubles gifts to sports associations until the end of the campaign,
    within 50,000 K (made once, through the staff's own action)."""
    offer = MatchingOffer.objects.filter(program=program, name=DEMO_OFFER_NAME).first()
    if offer is not None:
        return offer
    terms = {
        "program": program,
        "name": DEMO_OFFER_NAME,
        "ratio_matched": 1,
        "ratio_given": 1,
        "starts_on": program.opens_on,
        "ends_on": program.closes_on,
        "budget": DEMO_OFFER_BUDGET,
    }
    offer = save_offer(offer=MatchingOffer(**terms), actor=None, changed=terms)
    offer.activities.set(Activity.objects.filter(code="sport"))
    return offer


def _demo_gifts(rng, *, jeanne, members, programs) -> int:
    """Jeanne gives down to 110 K left; a third of the others, up to ``MAX_OTHER_GIFTS``, give."""

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

    first_day, last_day = _gift_days()

    def give(member, association_id, amount, token):
        wallet = wallets.get(member.pk)
        if wallet is None:
            return
        try:
            with written_at(
                _moment(_day_between(rng, first_day, last_day), hour=rng.randint(8, 21))
            ):
                give_tookets(
                    member=member,
                    wallet_id=wallet.pk,
                    association_id=association_id,
                    amount=amount,
                    token=token,
                    receipt=False,  # the demo's gifts are its history: nobody is emailed
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


def _demo_project(rng, *, jeanne, members, programs) -> int:
    """The demo project (accepted, with its history) and gifts to it through ``give_tookets``
    (no receipt, as the demo's other gifts). Running it again adds nothing: the project is
    found by its title and each gift's token was used."""
    cr = CaisseRegionale.objects.get(code=DEMO_CAISSE)
    program = programs.get(cr.pk)
    association = (
        Association.objects.filter(
            status=Association.Status.VALIDATED,
            caisse_regionale=cr,
            enrollments__program=program,
        )
        .order_by("name", "pk")
        .first()
    )
    if program is None or association is None:
        return 0
    project = Project.objects.filter(
        association=association, program=program, title=DEMO_PROJECT_TITLE
    ).first()
    if project is None:
        staff = User.objects.filter(username="staff-pg").first()
        with transaction.atomic():
            project = Project.objects.create(
                association=association,
                program=program,
                title=DEMO_PROJECT_TITLE,
                text=(
                    "Avec vos Tookets, nous achetons ce qui manque à nos bénévoles : des "
                    "tables, un barnum et une sono pour nos rencontres de l’année."
                ),
                goal=DEMO_PROJECT_GOAL,
                ends_on=program.closes_on,
                status=Project.Status.ACCEPTED,
                accepted_at=timezone.now(),
            )
            # Its history as the workflow writes it, without the workflow's emails.
            Event, Status = ProjectEvent.Event, Project.Status
            for event, from_status, to_status, actor in (
                (Event.SUBMITTED, "", Status.SUBMITTED, association.user),
                (Event.ACCEPTED, Status.SUBMITTED, Status.ACCEPTED, staff),
            ):
                ProjectEvent.objects.create(
                    project=project,
                    event=event,
                    from_status=from_status,
                    to_status=to_status,
                    actor=actor,
                )
    givers = [m for m in members if m.caisse_regionale_id == cr.pk and m.pk != jeanne.pk]
    wallets = {w.member_id: w for w in Wallet.objects.filter(program=program, member__in=givers)}
    before = ProjectGift.objects.filter(project=project).count()
    for member in givers[:DEMO_PROJECT_GIVERS]:
        wallet = wallets.get(member.pk)
        if wallet is None or wallet.balance < 2:
            continue
        try:
            with written_at(_moment(_day_between(rng, *_gift_days()), hour=rng.randint(8, 21))):
                give_tookets(
                    member=member,
                    wallet_id=wallet.pk,
                    association_id=association.pk,
                    amount=rng.randint(1, wallet.balance // 2),
                    token=f"demo-project-{member.pk}",
                    project_id=project.pk,
                    receipt=False,  # the demo's gifts are its history: nobody is emailed
                )
        except (InsufficientBalance, NotEligible):
            continue
    return ProjectGift.objects.filter(project=project).count() - before


# --- Past campaigns ---------------------------------------------------------------------------
# Two years back: swept and paid; last year: closed, waiting for its sweep (a newcomer can run
# ``sweep_campaign --year <last year>`` and ``export_payouts`` on the demo at once).
PAST_GIFTS_PER_YEAR = 400
FAVOURITE_SHARE = 0.5


def _demo_iban(cr, association, n: int) -> str:
    """A valid French IBAN for a demo association (bank code of its bank, RIB key computed);
    every 25th has none and every 40th a broken one, so the statement lists some apart."""

    if n % 25 == 0:
        return ""
    # The local bank's code as a branch code (its digits: a test's local banks are « T0003 »).
    local = association.caisse_locale
    digits = "".join(c for c in local.code if c.isascii() and c.isdigit()) if local else ""
    branch = f"{int(digits or 1):05d}"
    iban = str(
        IBAN.generate(
            "FR",
            bank_code=cr.bank_code,
            branch_code=branch,
            account_code=association.account_number,
        )
    )
    if n % 40 == 0:
        iban = iban[:-1] + ("0" if iban[-1] != "0" else "1")  # wrong RIB key: invalid
    return iban


def seed_history(rng) -> str:

    today = timezone.localdate()
    paid_year, waiting_year = today.year - 2, today.year - 1
    current = ensure_programs(today.year)
    past = {y: {} for y in (paid_year, waiting_year)}
    for cr in CaisseRegionale.objects.order_by("code"):
        for year in past:
            past[year][cr.pk] = demo_program(cr, year)
    # The associations enrolled this year were enrolled in the two past campaigns too.
    enrolled = list(
        Enrollment.objects.filter(program__in=current.values()).values_list(
            "association_id", "program__caisse_regionale_id"
        )
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(association_id=a, program=past[y][cr_id])
            for y in past
            for a, cr_id in enrolled
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    pools: dict[int, list[int]] = {}
    for a, cr_id in sorted(
        receiving_enrollments(program_ids=[p.pk for p in current.values()]).values_list(
            "association_id", "program__caisse_regionale_id"
        )
    ):
        pools.setdefault(cr_id, []).append(a)
    jeanne = ensure_demo_member()
    members = list(
        User.objects.filter(kind=User.Kind.MEMBER, is_societaire=True, closed_at__isnull=True)
        .exclude(caisse_regionale=None)
        .select_related("caisse_regionale")
        .order_by("pk")
    )
    # Favourites: half the members (Jeanne among them) chose one of their bank's associations.
    favourites = []
    for m in members:
        pool = pools.get(m.caisse_regionale_id)
        if pool and (m.pk == jeanne.pk or rng.random() < FAVOURITE_SHARE):
            favourites.append(Favourite(member=m, association_id=pool[m.pk % min(len(pool), 40)]))
    Favourite.objects.bulk_create(favourites, ignore_conflicts=True, batch_size=5000)
    # One yearly credit per member and past year, through the real import, at the start of
    # the campaign (January): the gifts of the year come after it.
    lines: dict[str, list[str]] = {}
    for year, programs in past.items():
        for m in members:
            program = programs[m.caisse_regionale_id]
            lines.setdefault(f"{year}-01", []).append(
                f"{m.caisse_regionale.code},{m.account_number},{program.code},{year}-01,"
                f"{rng.randint(300, 4200)},demo-{m.caisse_regionale.code}-"
                f"{m.account_number}-{year}\n"
            )
    applied, _ = _import_by_month(lines, name="credits-history")
    gifts = sum(
        _past_gifts(rng, year=y, programs=past[y], pools=pools, members=members) for y in past
    )
    # The bank's customer data for the associations that received: their IBANs.
    received_ids = set(
        receiving_enrollments()
        .filter(program__in=past[paid_year].values())
        .values_list("association_id", flat=True)
    )
    crs = CaisseRegionale.objects.in_bulk()
    existing = set(
        BankCustomer.objects.filter(kind=BankCustomer.Kind.ASSOCIATION).values_list(
            "caisse_regionale_id", "account_number"
        )
    )
    customers, n = [], 0
    for a in (
        Association.objects.filter(pk__in=received_ids)
        .select_related("caisse_locale")
        .order_by("pk")
    ):
        n += 1
        iban = _demo_iban(crs[a.caisse_regionale_id], a, n)
        if (a.caisse_regionale_id, a.account_number) in existing:
            BankCustomer.objects.filter(
                caisse_regionale_id=a.caisse_regionale_id, account_number=a.account_number
            ).update(iban=iban or _demo_iban(crs[a.caisse_regionale_id], a, 1))
            continue
        customers.append(
            BankCustomer(
                caisse_regionale_id=a.caisse_regionale_id,
                caisse_locale_id=a.caisse_locale_id,
                account_number=a.account_number,
                kind=BankCustomer.Kind.ASSOCIATION,
                name=a.name,
                email=a.email,
                is_societaire=True,
                is_online_banking=True,
                iban=iban,
            )
        )
    BankCustomer.objects.bulk_create(customers, batch_size=2000, ignore_conflicts=True)
    # Two years back: swept, its statement sent and paid.
    # The sweep ran the night after the close; the bank paid a month later.
    closed = datetime.date(paid_year, 12, 31) + datetime.timedelta(days=1)
    swept = 0
    for cr_id, program in past[paid_year].items():
        with written_at(_moment(closed, hour=2)):
            for outcome in sweep_caisse(
                caisse_regionale_id=cr_id, program_ids=[program.pk], run_by_label="seed_demo"
            ):
                swept += outcome.figures.wallets
    SweepRun.objects.filter(program__in=past[paid_year].values()).update(
        started_at=_moment(closed, hour=2), finished_at=_moment(closed, hour=3)
    )
    for statement in PayoutStatement.objects.filter(
        program__in=past[paid_year].values(), status=PayoutStatement.Status.COMPUTED
    ):
        mark_statement_paid(
            statement=mark_statement_sent(statement=statement, actor=None), actor=None
        )
    # Statements are not ledger entries: their steps' dates are set as they would have been.
    PayoutStatement.objects.filter(program__in=past[paid_year].values()).update(
        computed_at=_moment(closed + datetime.timedelta(days=9)),
        sent_at=_moment(closed + datetime.timedelta(days=14)),
        paid_at=_moment(closed + datetime.timedelta(days=30)),
    )
    return (
        f"{paid_year} soldé et payé ({swept} cagnottes soldées), {waiting_year} clos en attente "
        f"du soldage ; {len(favourites)} favorites, {applied} crédits, {gifts} dons"
    )


def _past_gifts(rng, *, year, programs, pools, members) -> int:
    """Gifts of a closed campaign, made while it was open: written through ``ledger.post_entry``
    (the gift service rightly refuses a closed program)."""

    made = 0
    for m in members:
        if made >= PAST_GIFTS_PER_YEAR:
            break
        pool = pools.get(m.caisse_regionale_id)
        if not pool or rng.random() > 0.3:
            continue
        day = _day_between(rng, datetime.date(year, 2, 1), datetime.date(year, 12, 20))
        with (
            written_at(_moment(day, hour=rng.randint(8, 21))),
            transaction.atomic(),
            locked_wallets(
                Wallet.objects.select_related("program").filter(
                    member=m, program=programs[m.caisse_regionale_id]
                ),
                wait=None,
            ) as wallets,
        ):
            wallet = wallets[0] if wallets else None
            if wallet is None or wallet.balance < 2:
                continue
            _, created = post_entry(
                wallet=wallet,
                kind=LedgerEntry.Kind.GIFT,
                amount=-rng.randint(1, wallet.balance // 2),
                reference=f"demo-gift-{year}-{m.pk}",
                association_id=rng.choice(pool[:40]),
                created_by=m,
            )
            made += created
    return made
