"""The year-end sweep: every balance of a closed program ends at zero.

For each wallet of the program with a balance, one ledger entry moves it all:

* a ``sweep`` entry to the member's favourite association when that association can still
  receive in the program (validated and enrolled: ``campaigns.receiving_enrollments``) and
  the member's account is not closed;
* otherwise a ``return`` entry: the Tookets go back to the regional bank.

The rule is written once, as the queryset ``sweep_targets``; PostgreSQL runs it inside one
set-based statement per batch (balances emptied, entries inserted and association figures
moved in the same statement, with ``cagnotte.figures``' statements: a fast form without row
locks or speculative insertions, which empties each wallet at the row address its read found
(``ctid``), and a safe one for a batch the fast one refuses; see the statements), SQLite walks the same queryset's rows, locked by ``ledger.locked_wallets``,
through ``ledger.post_entry``. Both write the same entries with the same references.

Safe by construction:

* idempotent: each wallet's entry has the reference ``sweep:<wallet id>`` (unique in the
  ledger), and only wallets with a balance are read, so a second run finds nothing to move;
* one run at a time per program: a PostgreSQL session advisory lock on the program, taken
  without waiting (the second run is told so, ``SweepBusy``); it dies with the session, so a
  killed run does not leave it behind;
* resumable: each batch commits on its own (short transactions: wallet rows of this program
  are locked for one batch only); a run killed half-way leaves whole batches, and the next
  run carries on with the wallets that still hold a balance. The program is marked swept
  only once no balance is left.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, Min, Q, Sum, TextField, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from associations.models import Association
from cagnotte import set_keys
from cagnotte.campaigns import Program, receiving_enrollments
from cagnotte.figures import (
    add_month_totals_sql,
    add_totals_sql,
    add_year_totals_sql,
    insert_supporters_sql,
    is_supporter_sql,
    month_of,
)
from cagnotte.ledger import entry_time, locked_wallets, partition_guard, post_entry
from cagnotte.ledger_partitions import analyze_after_bulk_write, partition_name
from cagnotte.models import LedgerEntry, SweepRun, Wallet
from cagnotte.payouts import compute_payout_statement

User = get_user_model()

BATCH_SIZE = 20_000
# Namespace of the per-program advisory locks (pg_try_advisory_lock(namespace, program id)).
SWEEP_LOCK_NAMESPACE = 1_0_2024


class SweepRefused(Exception):
    """The program cannot be swept (still open, or not found)."""


class SweepBusy(Exception):
    """Another run holds this program's sweep lock."""


@dataclass
class SweepFigures:
    wallets: int = 0
    to_favourites: int = 0
    returned: int = 0

    def add(self, other: SweepFigures) -> None:
        self.wallets += other.wallets
        self.to_favourites += other.to_favourites
        self.returned += other.returned


@dataclass
class SweepOutcome:
    program: Program
    figures: SweepFigures = field(default_factory=SweepFigures)
    swept: bool = False  # the program is (now) fully swept
    already_swept: bool = False
    remaining: int = 0  # wallets still holding a balance (entry already written: see below)


def set_based() -> bool:
    """PostgreSQL sweeps in set-based SQL; other engines walk the same rows in Python (tests
    run one scenario through both on PostgreSQL by patching this)."""
    return connection.vendor == "postgresql"


def sweep_reference(wallet_id: int) -> str:
    return f"sweep:{wallet_id}"


def sweep_targets(program: Program):
    """THE sweep rule: the program's wallets with a balance, each with where it goes.

    ``to_association`` is the favourite when it can receive in the program and the member's
    account is open, else None (a return to the regional bank). Ordered by wallet id, the
    order batches walk and lock in.
    """
    # The favourite joined on the wallet's member column (a member has one at most; the
    # member's own row is not read), the closed accounts and the associations that can receive
    # read once per statement (uncorrelated INs, hashed; the closed ones from their own
    # partial index, ``user_closed``): no subquery run per wallet.
    receiving = receiving_enrollments(program_ids=[program.pk]).values("association_id")
    closed = User.objects.filter(closed_at__isnull=False).values("pk")
    favourite = "member_favourite__association_id"
    return (
        Wallet.objects.filter(program_id=program.pk, balance__gt=0)
        .annotate(
            to_association=Case(
                When(member_id__in=closed, then=None),
                When(**{f"{favourite}__in": receiving}, then=F(favourite)),
                default=None,
            )
        )
        .order_by("pk")
    )


def dry_run(program: Program) -> SweepFigures:
    """What a sweep of this program would move now, in one query; writes nothing."""
    totals = sweep_targets(program).aggregate(
        wallets=Count("pk"),
        to_favourites=Coalesce(Sum("balance", filter=Q(to_association__isnull=False)), 0),
        returned=Coalesce(Sum("balance", filter=Q(to_association__isnull=True)), 0),
    )
    return SweepFigures(**{k: int(v) for k, v in totals.items()})


def check_sweepable(program: Program, *, day=None) -> None:
    """Refuse a program not closed on ``day``; a swept one is closed (its sweep does nothing)."""
    if not program.is_closed(day):
        raise SweepRefused(
            _("Le programme « %(program)s » est ouvert jusqu’au %(date)s : pas de soldage.")
            % {"program": program, "date": program.closes_on.strftime("%d/%m/%Y")}
        )


def sweep_program(
    *,
    program: Program,
    actor=None,
    run_by_label: str = "",
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
) -> SweepOutcome:
    """Sweep one closed program (see the module docstring). Safe to run twice or at once."""
    program = Program.objects.get(pk=program.pk)
    outcome = SweepOutcome(program=program)
    if program.is_swept:
        outcome.already_swept = outcome.swept = True
        return outcome
    check_sweepable(program)
    with _program_lock(program):
        program.refresh_from_db()
        if program.is_swept:  # a run that held the lock just finished it
            outcome.already_swept = outcome.swept = True
            return outcome
        run = SweepRun.objects.create(program=program, run_by=actor, run_by_label=run_by_label)
        after_id = _first_after(program)
        while True:
            batch = None
            if set_based():
                try:
                    with transaction.atomic():
                        batch, last_id, seen = _sweep_batch_sql(
                            program=program,
                            after_id=after_id,
                            limit=batch_size,
                            actor=actor,
                            fast=True,
                        )
                        _record(run, outcome.figures, batch)
                except (IntegrityError, _BatchChanged):
                    batch = None  # rolled back: the same batch through the safe statement
            if batch is None:
                with transaction.atomic():
                    if set_based():
                        batch, last_id, seen = _sweep_batch_sql(
                            program=program,
                            after_id=after_id,
                            limit=batch_size,
                            actor=actor,
                            fast=False,
                        )
                    else:
                        batch, last_id, seen = _sweep_batch_python(
                            program=program, after_id=after_id, limit=batch_size, actor=actor
                        )
                    _record(run, outcome.figures, batch)
            outcome.figures.add(batch)
            if seen < batch_size:
                break
            after_id = last_id
            if pause:
                time.sleep(pause)
        # A wallet credited again after its sweep entry was written keeps a balance that the
        # idempotent reference will not move twice: the program stays unswept and says so.
        outcome.remaining = Wallet.objects.filter(program=program, balance__gt=0).count()
        now = entry_time()
        if outcome.remaining == 0:
            Program.objects.filter(pk=program.pk, swept_at__isnull=True).update(swept_at=now)
            outcome.swept = True
        SweepRun.objects.filter(pk=run.pk).update(finished_at=now)
    # One entry per wallet with a balance, in the campaign's partition: its statistics read
    # again when the sweep outgrew them (after a sweep, every member's page reads it).
    analyze_after_bulk_write({partition_name(program.year): outcome.figures.wallets})
    return outcome


def _first_after(program: Program) -> int:
    """Where the first batch starts: just before the program's first wallet with a balance.

    Batches walk the wallets' primary key; without this the first one would step over the
    wallets of every program created before this one (``pk + 0``: read through the program's
    index, not by walking the primary key from its start)."""
    first = Wallet.objects.filter(program_id=program.pk, balance__gt=0).aggregate(
        first=Min(F("pk") + 0)
    )["first"]
    return 0 if first is None else first - 1


def _record(run: SweepRun, done: SweepFigures, batch: SweepFigures) -> None:
    """The run's figures so far, in the batch's transaction."""
    SweepRun.objects.filter(pk=run.pk).update(
        wallets=done.wallets + batch.wallets,
        to_favourites=done.to_favourites + batch.to_favourites,
        returned=done.returned + batch.returned,
    )


class _program_lock:
    """Session-level advisory lock on PostgreSQL, taken without waiting.

    Held across the run's many short transactions; released at the end, or by the server
    when the session dies (a killed process leaves no lock behind). SQLite allows one writer
    at a time anyway; there the guard is the idempotent references.
    """

    def __init__(self, program: Program):
        self.key = (SWEEP_LOCK_NAMESPACE, program.pk)
        self.program = program

    def __enter__(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key)
                if not cursor.fetchone()[0]:
                    raise SweepBusy(
                        _("Un soldage du programme « %s » est déjà en cours.") % self.program
                    )
        return self

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
        return False


# The ledger columns a sweep entry fills, each with its value over one row of the batch
# (``wallet_id``, ``balance``, ``to_association``) and the run's parameters (``entry_params``).
# Every INSERT of sweep entries is written from this list (the batch's two statements, and the
# bench's floor): a new ledger column is one line here.
SWEEP_ENTRY = {
    "wallet_id": "wallet_id",
    "kind": "CASE WHEN to_association IS NULL THEN 'return' ELSE 'sweep' END",
    "amount": "-balance",
    "association_id": "to_association",
    "reference": "'sweep:' || wallet_id",
    "period": "''",
    "memo": "%(memo)s",
    "created_at": "%(now)s",
    "created_by_id": "%(actor)s",
    "year": "%(year)s",  # the partition key: the program's campaign year
}


def insert_entries_sql(rows: str, *, on_conflict: bool = False) -> str:
    """``INSERT`` of one sweep entry per row of ``rows`` (a FROM item with ``wallet_id``,
    ``balance``, ``to_association``), parameters from ``entry_params``. ``on_conflict``: an
    entry whose reference exists already is skipped instead of refused."""
    columns = ", ".join(SWEEP_ENTRY)
    values = ", ".join(SWEEP_ENTRY.values())
    skip = " ON CONFLICT (reference, year) DO NOTHING" if on_conflict else ""
    return f"INSERT INTO {LedgerEntry._meta.db_table} ({columns}) SELECT {values} FROM {rows}{skip}"


def entry_params(program: Program, actor=None) -> dict:
    """The run's parameters of ``SWEEP_ENTRY`` and of the figures' statements."""
    now = entry_time()
    return {
        "memo": _memo(program),
        "now": now,
        "actor": getattr(actor, "pk", None),
        "year": program.year,
        "month": month_of(now),  # of the month totals: the entries' month
    }


# One statement per batch, in its own transaction; every data-modifying CTE runs once, to
# completion, on the same snapshot. Two forms of it, both writing the same rows:
#
# * the fast one, tried first: the batch is read without locking, and the wallets are emptied
#   by an UPDATE that reaches each row by the address the read found it at (``ctid``: no
#   second walk of the primary key) and re-checks each balance (READ COMMITTED re-reads a row
#   changed meanwhile, following it to its new version, and skips it if its balance moved:
#   the balance is the one condition re-checked there, PostgreSQL 15 does not re-check the
#   address), feeding plain INSERTs of the entries and of the new
#   supporters — no row lock before the update, no speculative insertion. It fails as a whole
#   (unique violation) when an entry's reference exists already (a wallet credited again after
#   its sweep) or a supporter was recorded meanwhile; and it is rolled back when a wallet
#   changed under it (fewer wallets moved than read);
# * then the safe one, for that batch only: the batch's wallet rows locked (FOR UPDATE, in id
#   order, without a time limit: a batch job waits) by the SELECT that reads them; an entry
#   whose reference exists already is skipped by ON CONFLICT and moves neither the balance nor
#   the association's figures; supporters inserted with ON CONFLICT.
#
# The rows come from ``sweep_targets`` (the rule) either way; the figures from the figures
# module's own statements. The new supporters are read from ``moved`` without a DISTINCT: a
# member has one wallet per program (``wallet_one_per_member_program``), so a batch's
# (association, member) pairs are distinct already (were one repeated, the fast statement
# would fail on it and the safe one's ON CONFLICT skip it). The sweep is not matched: none of
# what it moves is « abondement » (the 0 in the totals' rows).
_WALLETS = Wallet._meta.db_table

_MOVED_FAST = f"""
batch (wallet_id, member_id, balance, to_association, row_id) AS MATERIALIZED ({{targets}}),
moved AS (
    UPDATE {_WALLETS} w SET balance = 0 FROM batch
    WHERE w.ctid = batch.row_id AND w.balance = batch.balance
    RETURNING batch.wallet_id, batch.member_id, batch.balance, batch.to_association
),
ins AS ({insert_entries_sql("moved")}),
new_supporters AS (
    {
    insert_supporters_sql(
        "SELECT to_association, member_id, %(now)s::timestamptz FROM moved "
        "WHERE to_association IS NOT NULL AND NOT "
        + is_supporter_sql("moved.to_association", "moved.member_id"),
        on_conflict=False,
    )
}
    RETURNING association_id
)"""

_MOVED_SAFE = f"""
batch (wallet_id, member_id, balance, to_association) AS ({{targets}}),
ins AS (
    {insert_entries_sql("batch", on_conflict=True)}
    RETURNING wallet_id, amount, association_id
),
moved AS (
    UPDATE {_WALLETS} w SET balance = w.balance + ins.amount
    FROM ins WHERE w.id = ins.wallet_id
    RETURNING ins.wallet_id, w.member_id, -ins.amount AS balance,
              ins.association_id AS to_association
),
new_supporters AS (
    {
    insert_supporters_sql(
        "SELECT to_association, member_id, %(now)s::timestamptz FROM moved "
        "WHERE to_association IS NOT NULL"
    )
}
    RETURNING association_id
)"""

# Over ``moved`` (wallet_id, member_id, balance, to_association) and ``new_supporters``.
_FIGURES = f"""
per_association AS (
    SELECT to_association AS association_id, SUM(balance) AS received FROM moved
    WHERE to_association IS NOT NULL GROUP BY to_association
),
new_counts AS (
    SELECT association_id, COUNT(*) AS n FROM new_supporters GROUP BY association_id
),
totals AS (
    {
    add_totals_sql(
        "SELECT p.association_id, a.caisse_regionale_id, COALESCE(n.n, 0), p.received, "
        "%(year)s, 0 FROM per_association p "
        f"JOIN {Association._meta.db_table} a ON a.id = p.association_id "
        "LEFT JOIN new_counts n ON n.association_id = p.association_id"
    )
}
    RETURNING 1
),
year_totals AS (
    {add_year_totals_sql("SELECT association_id, %(year)s, received, 0 FROM per_association")}
    RETURNING 1
),
month_totals AS (
    {add_month_totals_sql("SELECT association_id, %(month)s, received, 0 FROM per_association")}
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM batch), (SELECT MAX(wallet_id) FROM batch), COUNT(*),
       COALESCE(SUM(balance) FILTER (WHERE to_association IS NOT NULL), 0),
       COALESCE(SUM(balance) FILTER (WHERE to_association IS NULL), 0),
       (SELECT COUNT(*) FROM totals) + (SELECT COUNT(*) FROM year_totals)
       + (SELECT COUNT(*) FROM month_totals)
FROM moved
"""

# Each statement opens with its name, which pg_stat_activity shows (it keeps only a statement's
# first kilobyte): an operator, or a test, tells the two apart while one waits.
FAST_LABEL = "/* sweep batch: fast */"
SAFE_LABEL = "/* sweep batch: safe */"
_SWEEP_BATCH_FAST = f"{FAST_LABEL} WITH {_MOVED_FAST},{_FIGURES}"
_SWEEP_BATCH_SAFE = f"{SAFE_LABEL} WITH {_MOVED_SAFE},{_FIGURES}"


class _BatchChanged(Exception):
    """A wallet of the batch changed between the fast statement's read and its update."""


def _batch_queryset(program: Program, *, after_id: int, limit: int, lock: bool):
    """The batch's rows; unlocked ones (the fast statement) with their row's physical address
    (``ctid``), which its UPDATE reaches the row by, without a walk of the primary key."""
    batch = sweep_targets(program).filter(pk__gt=after_id)
    columns = ["pk", "member_id", "balance", "to_association"]
    if lock:
        batch = batch.select_for_update(of=("self",))
    else:
        batch = batch.annotate(row_id=RawSQL(f"{_WALLETS}.ctid", (), output_field=TextField()))
        columns.append("row_id")
    return batch.values_list(*columns)[:limit]


def _memo(program: Program) -> str:
    return f"Soldage {program.code}"[:200]


def _sweep_batch_sql(*, program, after_id, limit, actor, fast) -> tuple[SweepFigures, int, int]:
    """One batch (see the statements above); ``fast``: the fast statement, raising
    ``IntegrityError`` or ``_BatchChanged`` (the caller's transaction is then rolled back)."""
    targets, target_params = _batch_queryset(
        program, after_id=after_id, limit=limit, lock=not fast
    ).query.sql_with_params()
    # The queryset's own placeholders are positional (%s): turn them into named ones so that
    # one params dict feeds the whole statement.
    names = {f"t{i}": value for i, value in enumerate(target_params)}
    targets = targets.replace("%%", "%%%%") % tuple(f"%({name})s" for name in names)
    sql = (_SWEEP_BATCH_FAST if fast else _SWEEP_BATCH_SAFE).format(targets=targets)
    params = {**names, **entry_params(program, actor)}
    with connection.cursor() as cursor, partition_guard():
        # A bounded batch of key lookups, planned as such for this transaction only: the batch
        # walks the wallets' primary key from ``after_id`` and looks up each wallet's member
        # and favourite, then its wallet row, by key. Left to itself, the cost model (which
        # underestimates a program's wallets past an id) reads and sorts the whole program,
        # or hashes every member and favourite, for each batch; and JIT compiling costs more
        # than running it. And the batch vouches for its new supporters' members
        # (``set_keys.MEMBERS_VOUCHED_SETTING``): each is the member of a wallet this statement
        # empties into the ledger, which that wallet's member key holds.
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('enable_hashjoin', 'off', true),"
            " set_config('enable_mergejoin', 'off', true), set_config('enable_sort', 'off', true),"
            f" {set_keys.vouch_for_members_sql()}"
        )
        cursor.execute(sql, params)
        seen, last_id, moved, to_favourites, returned, _ = cursor.fetchone()
    if fast and moved != seen:
        raise _BatchChanged
    return (
        SweepFigures(wallets=moved, to_favourites=int(to_favourites), returned=int(returned)),
        last_id or after_id,
        seen,
    )


def _sweep_batch_python(*, program, after_id, limit, actor) -> tuple[SweepFigures, int, int]:
    batch = sweep_targets(program).select_related("program").filter(pk__gt=after_id).order_by("pk")
    figures = SweepFigures()
    with locked_wallets(batch[:limit], wait=None) as wallets:
        for wallet in wallets:
            balance, to_association = wallet.balance, wallet.to_association
            _, created = post_entry(
                wallet=wallet,
                kind=LedgerEntry.Kind.SWEEP if to_association else LedgerEntry.Kind.RETURN,
                amount=-balance,
                reference=sweep_reference(wallet.pk),
                association_id=to_association,
                created_by=actor,
                memo=_memo(program),
            )
            if created:
                figures.wallets += 1
                if to_association:
                    figures.to_favourites += balance
                else:
                    figures.returned += balance
    return figures, (wallets[-1].pk if wallets else after_id), len(wallets)


def programs_to_sweep(
    *, year: int | None = None, program_code: str | None = None, caisse_code=None
):
    """The programs a run asks for, open ones included (the caller refuses those)."""
    qs = Program.objects.select_related("caisse_regionale").order_by(
        "caisse_regionale__code", "code"
    )
    if program_code:
        qs = qs.filter(code=program_code)
    if year:
        qs = qs.filter(year=year)
    if caisse_code:
        qs = qs.filter(caisse_regionale__code=caisse_code)
    return list(qs)


def by_caisse(programs) -> dict:
    grouped = defaultdict(list)
    for p in programs:
        grouped[p.caisse_regionale].append(p)
    return dict(sorted(grouped.items(), key=lambda kv: kv[0].code))


def sweep_caisse(
    *,
    caisse_regionale_id: int,
    program_ids=None,
    actor=None,
    run_by_label: str = "",
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
) -> list[SweepOutcome]:
    """Sweep the closed, unswept programs of one regional bank (all, or those given), then
    establish each swept program's payout statement. One Celery task per bank runs this."""
    qs = Program.objects.filter(caisse_regionale_id=caisse_regionale_id)
    if program_ids is not None:
        qs = qs.filter(pk__in=program_ids)
    else:
        qs = qs.sweepable_on()
    outcomes = []
    for program in qs.order_by("pk"):
        outcome = sweep_program(
            program=program,
            actor=actor,
            run_by_label=run_by_label,
            batch_size=batch_size,
            pause=pause,
        )
        if outcome.swept:
            compute_payout_statement(program=outcome.program, actor=actor)
        outcomes.append(outcome)
    return outcomes
