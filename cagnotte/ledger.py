"""The ledger: the one entry writer, its balance rules, its exceptions and its one lock helper.

Every movement of Tookets goes through ``post_entry``: one append-only ledger row whose
unique ``reference`` makes the write idempotent, the wallet's cached balance moved by the
same amount with ``F()`` (the database refuses a negative balance), and, for Tookets that
reach an association (gift, sweep, matching), the association's figures kept in step
(``cagnotte.figures.count_received``) — all in the caller's transaction, with the wallet row
already locked. A matching entry (« abondement ») has no wallet: its source is a matching
offer's budget, whose ``spent`` moves instead, under the offer's row lock
(``locked_offers``). Gifts, credits, adjustments, matching, the year-end sweep's Python
engine, account closure and the demo data all use it; the set-based SQL of the credit
import and of the sweep writes the same rows in bulk (see their modules).

Wallet rows are locked through ``locked_wallets`` only (pretix's ``lock_objects``): in id
order, so that two writers of several wallets never deadlock, and waiting a bounded time
when a member's page waits (a credit import holds its wallets until it commits: many
seconds). A wait that runs out raises ``WalletBusy``, which pages turn into « réessayez dans
un instant »; nothing was written.
"""

from __future__ import annotations

import datetime
import functools
import re
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from cagnotte.figures import count_received
from cagnotte.models import LedgerEntry, MatchingOffer, Wallet
from tookets.compiled import PLACEHOLDER, BoundQuery, compiled_once


class NotEligible(Exception):
    """The association may not be chosen or receive Tookets from this member."""


class InsufficientBalance(Exception):
    """The wallet does not hold enough Tookets for this movement."""


class InvalidAmount(Exception):
    """The amount is not a positive whole number of Tookets."""


class WalletBusy(Exception):
    """A wallet stayed locked longer than the caller may wait (a credit import is writing to
    it): nothing was written; the member may try again in a moment (``message``, what every
    page says)."""

    message = gettext_lazy("Votre cagnotte est en cours de mise à jour, réessayez dans un instant")


# PostgreSQL's SQLSTATE for « lock_timeout expired » (lock_not_available).
LOCK_NOT_AVAILABLE = "55P03"

# Kinds whose Tookets reach an association and count in its figures.
TO_ASSOCIATION = (LedgerEntry.Kind.GIFT, LedgerEntry.Kind.SWEEP)


# When the entries being written happened: unset (now) everywhere but in a history written
# after the fact — the demo's past months and campaigns (``written_at``).
_WRITTEN_AT: ContextVar[datetime.datetime | None] = ContextVar("ledger_written_at", default=None)


@contextmanager
def written_at(moment: datetime.datetime):
    """Date the entries written inside the block at ``moment`` rather than now: every writer
    of entries (``post_entry``, the credit import's two engines, the sweep's SQL) asks
    ``entry_time``. Only a history told after the fact uses it (``seed_demo``): the entries
    stay append-only, written once with the date they carry."""
    token = _WRITTEN_AT.set(moment)
    try:
        yield
    finally:
        _WRITTEN_AT.reset(token)


def entry_time() -> datetime.datetime:
    """The ``created_at`` of an entry written now (see ``written_at``)."""
    return _WRITTEN_AT.get() or timezone.now()


@contextmanager
def locked_wallets(wallets: QuerySet | BoundQuery, *, wait: float | None, into: str | None = None):
    """Lock the wallet rows of ``wallets`` in id order and yield them (a list, read under the
    lock); inside the block every lock waits at most ``wait`` seconds, then ``WalletBusy``.

    The one way wallets are locked (pretix's ``lock_objects``). Must run inside a
    transaction; the rows stay locked until it ends.

    * ``wallets``: a queryset of ``Wallet`` (its annotations and ``select_related`` are kept;
      only the wallet rows are locked). Sliced querysets must be ordered by ``pk`` already.
    * ``wait``: seconds a member's page may wait (``settings.GIFT_LOCK_TIMEOUT``); ``None``
      for a batch job, which waits as long as it takes. PostgreSQL only (``SET LOCAL
      lock_timeout`` through ``set_config``, so it takes a parameter); SQLite has no row
      locks to wait on. The timeout covers the whole block (the checks and writes after the
      lock may wait on other rows too: a page never waits without limit), and is put back
      afterwards when the caller's transaction goes on.
    * ``into``: the rows are locked by the database without being read into Python (a
      million rows of a credit import) and kept, as the queryset selects them, in the
      temporary table ``into`` (dropped at commit); PostgreSQL only. Yields None.
    """
    with _locked_rows(wallets, wait=wait, into=into) as rows:
        yield rows


@contextmanager
def locked_offers(offers: QuerySet | BoundQuery, *, wait: float | None):
    """Lock the matching offers' rows (their budgets) as ``locked_wallets`` locks wallets:
    in id order, each wait bounded by ``wait``, a wait that runs out raising ``WalletBusy``
    (« réessayez dans un instant »; nothing was written). A gift locks its wallet first, then
    its offers: every path takes them in that order, so gifts never deadlock on a budget.
    Racing gifts of one offer queue on its row: what they read of its spending (budget left,
    caps per member and association) stays true until they commit."""
    with _locked_rows(offers, wait=wait) as rows:
        yield rows


def lock_query(rows: QuerySet) -> QuerySet:
    """``rows`` as ``locked_wallets`` and ``locked_offers`` lock them: in id order (sliced
    querysets are ordered by ``pk`` already), their own rows only."""
    if not rows.query.is_sliced:
        rows = rows.order_by("pk")
    return rows.select_for_update(of=("self",))


@contextmanager
def _locked_rows(rows: QuerySet | BoundQuery, *, wait: float | None, into: str | None = None):
    """``rows``: a queryset, or a ``BoundQuery`` of one compiled once (``lock_query`` applied
    by its builder: the page's gift locks its wallet and offers through statements compiled
    once per process)."""
    assert connection.in_atomic_block, "locking rows needs a transaction"
    if isinstance(rows, BoundQuery):
        assert into is None, "into= takes a queryset"
        query = rows
    else:
        query = lock_query(rows)
    bounded = connection.vendor == "postgresql" and wait is not None and wait > 0
    previous = None
    if bounded:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                [f"{max(1, round(wait * 1000))}ms"],
            )
            previous = cursor.fetchone()[0]
    try:
        if into is None:
            yield query.fetch() if isinstance(query, BoundQuery) else list(query)
        else:
            _lock_into(query, into)
            yield None
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise WalletBusy from exc
        raise
    if bounded and connection.in_atomic_block:
        # SET LOCAL lasts as long as the transaction: put it back for the caller's next steps
        # (a savepoint released does not undo it).
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _lock_into(query: QuerySet, table: str) -> None:
    assert connection.vendor == "postgresql", "locked_wallets(into=…) is for PostgreSQL"
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        # The rows are locked in the SELECT's ORDER BY as they go into the table.
        cursor.execute(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS {sql}", params)


def entry_by_reference(reference: str, *, year: int | None = None) -> LedgerEntry | None:
    """The entry of an idempotency reference, in ``year``'s partition (the unique key) or in
    any (the first made), else None: its statement compiled once per year and process (every
    gift asks).

    The statement has no ORDER BY nor LIMIT: at most one row per partition matches, read by
    the reference's unique index. ``ORDER BY id LIMIT 1`` let the planner walk the primary key
    instead, filtering every row, whenever its estimate of a reference's rows was off — on a
    partition not analysed since a large import (autovacuum behind, or off): 1.55 s a lookup
    on an 18 M-entry partition against 0.04 ms (docs/scale.md, the national rehearsal)."""
    found = _by_reference_query(year).fetch(reference)
    return min(found, key=lambda entry: entry.pk) if found else None


@compiled_once(maxsize=8)
def _by_reference_query(year: int | None):
    entries = LedgerEntry.objects.filter(reference=PLACEHOLDER)
    if year is not None:  # a constant: a placeholder is out of a year's range
        entries = entries.filter(year=year)
    return entries.order_by()


def check_amount(amount) -> int:
    """A positive whole number of Tookets, else ``InvalidAmount``."""
    # bool is an int in Python: True Tookets make no sense.
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount
    return amount


class BudgetSpent(Exception):
    """What is left of a matching offer's budget does not cover this matching entry."""


class LedgerYearMissing(Exception):
    """The ledger has no partition for this campaign year (PostgreSQL): nothing was written.
    Partitions are made when a program is saved and by a nightly beat job
    (``cagnotte.ledger_partitions``), which makes a missed one: this says one was missed,
    never that Tookets were lost. ``message`` is what pages and reports say."""

    def __init__(self, year=None):
        self.year = year
        super().__init__(str(self.message))

    @property
    def message(self) -> str:
        return gettext(
            "Le registre des mouvements n’est pas encore ouvert pour l’année %(year)s : rien "
            "n’a été enregistré. Réessayez plus tard."
        ) % {"year": self.year or "?"}


# PostgreSQL's « no partition of relation … found for row » is a check_violation.
_CHECK_VIOLATION = "23514"


def is_missing_partition(exc: BaseException) -> bool:
    """True when ``exc`` (a Django ``IntegrityError``) is PostgreSQL refusing a ledger row
    whose year has no partition."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == _CHECK_VIOLATION and "no partition" in str(cause)


def _year_refused(exc: BaseException):
    # « Partition key of the failing row contains (year) = (2031). »
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
    found = re.search(r"\(year\) = \((\d+)\)", detail)
    return int(found.group(1)) if found else None


@contextmanager
def partition_guard():
    """Turn PostgreSQL's refusal of a year without a partition into ``LedgerYearMissing``
    (the set-based writers: the import, the sweep)."""
    try:
        yield
    except IntegrityError as exc:
        if is_missing_partition(exc):
            raise LedgerYearMissing(_year_refused(exc)) from exc
        raise


def post_entry(
    *,
    wallet: Wallet | None,
    kind: str,
    amount: int,
    reference: str,
    association_id: int | None = None,
    period: str = "",
    created_by=None,
    memo: str = "",
    offer: MatchingOffer | None = None,
    matches: LedgerEntry | None = None,
    reference_read: bool = False,
) -> tuple[LedgerEntry, bool]:
    """Write one ledger entry and move its source's balance; idempotent on ``reference``
    within the entry's campaign year (its program's: ``year``, the ledger's partition key).

    The caller holds an open transaction and has locked the source (``locked_wallets``, or
    ``locked_offers`` for a matching entry) and re-checked its rules. ``amount`` is signed as
    stored (negative: Tookets leaving the source). Returns ``(entry, created)``: when the
    reference exists already, nothing is written and the existing entry is returned.

    The source is a member's ``wallet``, or, for a matching entry only (``kind=matching``),
    an ``offer``'s budget (``wallet=None``; ``matches``: the gift it tops up, with its
    ``wallet.program`` loaded). A wallet balance that would go below zero raises
    ``InsufficientBalance``, a budget that would be overrun ``BudgetSpent``; nothing is
    written either way. A matching entry is only ever written for a gift its own transaction
    has just written, so it is always new, and is written without a savepoint
    (``_post_matching``). ``reference_read``: the caller has just looked the reference up
    under the source's lock and found none (a gift's replay check), so it is not read again;
    a writer that raced it is still met by the unique index, below.
    """
    assert transaction.get_connection().in_atomic_block, "post_entry needs a transaction"
    matching = kind == LedgerEntry.Kind.MATCHING
    assert matching == (wallet is None) == (offer is not None), "a matching entry has an offer"
    # The partition key: a matching entry is written in its gift's year.
    year = matches.year if matching else wallet.program.year
    fields = dict(
        wallet=wallet,
        kind=kind,
        amount=amount,
        reference=reference,
        association_id=association_id,
        period=period,
        created_by=created_by,
        memo=memo,
        offer=offer,
        matches=matches,
        year=year,
    )
    if matching:
        return _post_matching(fields, offer=offer, amount=amount), True
    if not reference_read:
        existing = entry_by_reference(reference, year=year)
        if existing is not None:
            return existing, False
    try:
        # One savepoint for both writes: a concurrent writer of the same reference (that we
        # could not see yet) or a balance too low undoes this entry alone, without breaking
        # the caller's transaction (a sweep goes on with the next wallet).
        with transaction.atomic():
            entry = LedgerEntry.objects.create(created_at=entry_time(), **fields)
            # Conditional: the row changes only if it stays >= 0. The CheckConstraint is the
            # backstop should anything bypass this.
            moved = Wallet.objects.filter(pk=wallet.pk, balance__gte=-amount).update(
                balance=F("balance") + amount
            )
            if moved != 1:
                raise InsufficientBalance
    except IntegrityError as exc:
        if is_missing_partition(exc):
            raise LedgerYearMissing(year) from exc
        existing = entry_by_reference(reference, year=year)
        if existing is None:
            raise
        return existing, False
    wallet.balance += amount
    if kind in TO_ASSOCIATION:
        count_received(
            association_id=association_id,
            member_id=wallet.member_id,
            year=year,
            at=entry.created_at,
            received=-amount,
        )
    return entry, True


def _post_matching(fields: dict, *, offer: MatchingOffer, amount: int) -> LedgerEntry:
    """``post_entry`` for a matching entry: its offer's budget moved, then the entry written,
    then the figures, in the gift's transaction and without a savepoint of their own.

    ``match_gift`` writes it for a gift its own transaction has just written, under the
    offer's row lock: no other transaction can see that gift, so none can have written this
    reference (its unique index still guards) and there is nothing to read first. The budget
    moves first, conditionally (``spent <= budget`` after it; the CheckConstraint is the
    backstop), and the entry is written only if it moved: a budget that would be overrun
    raises ``BudgetSpent`` with nothing written. Any other failure (the database refusing the
    entry) marks the gift's transaction for rollback, so the gift is undone with it, as the
    gift's page expects. On PostgreSQL both writes are one statement (``_matching_sql``): with the
    savepoint, the ORM's two statements and their compiling, a matched gift cost a third more
    than a gift (docs/scale.md)."""
    entry = LedgerEntry(created_at=entry_time(), **fields)
    columns, update, insert = _matching_sql(connection.vendor)
    values = [
        LedgerEntry._meta.get_field(column).get_db_prep_save(
            getattr(entry, column), connection=connection
        )
        for column in columns
    ]
    budget = [-amount, offer.pk, amount]
    try:
        # A refusal marks the caller's block for rollback, as the ORM's writes do: even if it
        # is caught, the budget moved on SQLite (whose transaction goes on after an error) is
        # undone with it.
        with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
            if insert is None:  # PostgreSQL: one statement
                cursor.execute(update, budget + values)
                row = cursor.fetchone()
            else:
                cursor.execute(update, budget)
                row = None
                if cursor.rowcount == 1:
                    cursor.execute(insert, values)
                    row = (cursor.lastrowid,)
    except IntegrityError as exc:
        if is_missing_partition(exc):
            raise LedgerYearMissing(fields["year"]) from exc
        raise
    if row is None:
        raise BudgetSpent
    entry.pk = row[0]
    entry._state.adding, entry._state.db = False, connection.alias
    offer.spent -= amount
    offer.gifts_matched += 1
    # The gift counted its giver as a supporter already: the match adds Tookets only.
    count_received(
        association_id=fields["association_id"],
        member_id=None,
        year=fields["year"],
        at=entry.created_at,
        received=-amount,
        matched=-amount,
    )
    return entry


@functools.cache
def _matching_sql(vendor: str) -> tuple[tuple[str, ...], str, str | None]:
    """``(columns, update, insert)``: the ledger's columns a matching entry fills (every one
    but the id), the budget's conditional update (parameters: Tookets added to ``spent``, the
    offer, the entry's signed amount) and the entry's insert (its columns' values). On
    PostgreSQL the insert is a part of ``update``, which then returns the id (no
    row: the budget did not move) and ``insert`` is None; SQLite has no ``UPDATE`` in
    ``WITH``."""
    offers = connection.ops.quote_name(MatchingOffer._meta.db_table)
    update = (
        f"UPDATE {offers} SET spent = spent + %s, gifts_matched = gifts_matched + 1, "
        "version = version + 1 WHERE id = %s AND spent <= budget + %s"
    )
    meta = LedgerEntry._meta
    columns = tuple(f.attname for f in meta.concrete_fields if not f.primary_key)
    names = ", ".join(connection.ops.quote_name(meta.get_field(c).column) for c in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    table = connection.ops.quote_name(meta.db_table)
    if vendor == "postgresql":
        statement = (
            f"WITH moved AS ({update} RETURNING 1) "
            f"INSERT INTO {table} ({names}) SELECT {placeholders} FROM moved RETURNING id"
        )
        return columns, statement, None
    # Its id read as ``lastrowid``: ``RETURNING`` needs SQLite 3.35, Django 5.2 only 3.31.
    return columns, update, f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
