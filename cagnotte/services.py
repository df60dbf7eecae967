"""Business actions on wallets, the ledger and favourites.

Every movement of Tookets goes through ``_post_entry``: one append-only ledger row whose
unique ``reference`` makes the write idempotent, the wallet's cached balance moved by the
same amount with ``F()`` (the database refuses a negative balance), and, for Tookets that
reach an association (gift, sweep), the association's summary rows kept in step — all in
the caller's transaction, with the wallet row already locked. Gifts, credits, adjustments,
and later the year-end sweep and account closure (``sweep`` / ``return`` entries) all use it.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from associations.selectors import associations_visible_to
from cagnotte.campaigns import Program, receiving_enrollments
from cagnotte.models import Favourite, LedgerEntry, Wallet


class NotEligible(Exception):
    """The association may not be chosen or receive Tookets from this member."""


class InsufficientBalance(Exception):
    """The wallet does not hold enough Tookets for this movement."""


class InvalidAmount(Exception):
    """The amount is not a positive whole number of Tookets."""


class WalletBusy(Exception):
    """The wallet stayed locked longer than the gift may wait (a credit import is writing to
    it): nothing was given; the member may try again in a moment."""


# PostgreSQL's SQLSTATE for « lock_timeout expired » (lock_not_available).
LOCK_NOT_AVAILABLE = "55P03"


@contextmanager
def _waiting_at_most(seconds: float):
    """Inside a transaction: locks wait at most ``seconds``, then raise ``WalletBusy``.

    PostgreSQL only (``SET LOCAL lock_timeout``, through ``set_config`` so it takes a
    parameter); SQLite has no row locks to wait on. The setting lives as long as the
    transaction: when the caller's transaction is the outer one, it is put back afterwards.
    """
    if connection.vendor != "postgresql" or seconds <= 0:  # 0: wait as long as it takes
        yield
        return
    nested = connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{max(1, round(seconds * 1000))}ms"],
        )
        previous = cursor.fetchone()[0]
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise WalletBusy from exc
        raise
    if nested:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


# Kinds whose Tookets reach an association and count in its figures.
TO_ASSOCIATION = (LedgerEntry.Kind.GIFT, LedgerEntry.Kind.SWEEP)


@transaction.atomic
def set_favourite(*, member, association_id: int) -> Favourite:
    """Make an association the member's one favourite. It must be visible to the member."""
    association = associations_visible_to(member).filter(pk=association_id).first()
    if association is None:
        raise NotEligible
    favourite, _ = Favourite.objects.update_or_create(
        member=member, defaults={"association": association}
    )
    return favourite


def _check_amount(amount) -> int:
    # bool is an int in Python: True Tookets make no sense.
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount
    return amount


def _post_entry(
    *,
    wallet: Wallet,
    kind: str,
    amount: int,
    reference: str,
    association_id: int | None = None,
    period: str = "",
    created_by=None,
    memo: str = "",
) -> tuple[LedgerEntry, bool]:
    """Write one ledger entry and move the wallet's balance; idempotent on ``reference``.

    The caller holds an open transaction and has locked ``wallet`` (``select_for_update``)
    and re-checked its rules. ``amount`` is signed as stored. Returns ``(entry, created)``:
    when the reference exists already, nothing is written and the existing entry is returned.
    """
    assert transaction.get_connection().in_atomic_block, "_post_entry needs a transaction"
    existing = LedgerEntry.objects.filter(reference=reference).first()
    if existing is not None:
        return existing, False
    try:
        # One savepoint for both writes: a concurrent writer of the same reference (that we
        # could not see yet) or a balance too low undoes this entry alone, without breaking
        # the caller's transaction (a sweep goes on with the next wallet).
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                wallet=wallet,
                kind=kind,
                amount=amount,
                reference=reference,
                association_id=association_id,
                period=period,
                created_by=created_by,
                memo=memo,
            )
            # Conditional: the row changes only if it stays >= 0. The CheckConstraint on the
            # balance is the backstop should anything bypass this.
            moved = Wallet.objects.filter(pk=wallet.pk, balance__gte=-amount).update(
                balance=F("balance") + amount
            )
            if moved != 1:
                raise InsufficientBalance
    except IntegrityError:
        existing = LedgerEntry.objects.filter(reference=reference).first()
        if existing is None:
            raise
        return existing, False
    wallet.balance += amount
    if kind in TO_ASSOCIATION:
        _count_for_association(
            association_id=association_id,
            member_id=wallet.member_id,
            year=wallet.program.year,
            received=-amount,
        )
    return entry, True


def _count_for_association(*, association_id: int, member_id: int, year: int, received: int):
    """Keep Supporter, AssociationTotals and AssociationYearTotals in step with one gift.

    Upserts (``INSERT … ON CONFLICT``, understood by PostgreSQL and SQLite alike) so that two
    gifts to the same association at once neither lose an update nor collide on creation.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cagnotte_supporter (association_id, member_id, first_gift_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (association_id, member_id) DO NOTHING",
            [association_id, member_id, now],
        )
        new_supporter = 1 if cursor.rowcount == 1 else 0
        cursor.execute(
            "INSERT INTO cagnotte_associationtotals "
            "(association_id, supporters, received_total, first_year) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (association_id) DO UPDATE SET "
            "supporters = cagnotte_associationtotals.supporters + EXCLUDED.supporters, "
            "received_total = cagnotte_associationtotals.received_total "
            "+ EXCLUDED.received_total, "
            "first_year = CASE WHEN cagnotte_associationtotals.first_year IS NULL "
            "OR EXCLUDED.first_year < cagnotte_associationtotals.first_year "
            "THEN EXCLUDED.first_year ELSE cagnotte_associationtotals.first_year END",
            [association_id, new_supporter, received, year],
        )
        cursor.execute(
            "INSERT INTO cagnotte_associationyeartotals (association_id, year, received) "
            "VALUES (%s, %s, %s) ON CONFLICT (association_id, year) DO UPDATE SET "
            "received = cagnotte_associationyeartotals.received + EXCLUDED.received",
            [association_id, year, received],
        )


def _locked_wallet(*, member, wallet_id: int | None, program: Program | None) -> Wallet | None:
    qs = Wallet.objects.select_for_update().select_related("program").filter(member=member)
    if wallet_id is not None:
        qs = qs.filter(pk=wallet_id)
    elif program is not None:
        qs = qs.filter(program=program)
    else:
        raise TypeError("give wallet_id or program")
    return qs.first()


def give_tookets(
    *,
    member,
    association_id: int,
    amount: int,
    token: str,
    wallet_id: int | None = None,
    program: Program | None = None,
) -> LedgerEntry:
    """A member gives whole Tookets of one wallet to an association (« VALIDER LA DEMANDE »).

    ``token`` is the form's one-time token: the gift's reference is ``gift:<token>``, so a
    double click or a replayed post returns the first gift and gives nothing more. The
    wallet row is locked, then balance and eligibility are checked again: two gifts racing
    on one wallet are serialised and can never overdraw it. A lock held longer than
    ``settings.GIFT_LOCK_TIMEOUT`` (an import) raises ``WalletBusy``, with nothing given.
    """
    if not token:
        raise ValueError("a gift needs its one-time token")
    reference = f"gift:{token}"
    # A credit import locks the wallets it credits until it commits (a million rows: many
    # seconds): the gift waits GIFT_LOCK_TIMEOUT at most, then gives nothing (WalletBusy).
    with transaction.atomic(), _waiting_at_most(settings.GIFT_LOCK_TIMEOUT):
        wallet = _locked_wallet(member=member, wallet_id=wallet_id, program=program)
        # A replay first: the gift was made, whatever the balance or the rules say now.
        existing = LedgerEntry.objects.filter(reference=reference).first()
        if existing is not None:
            if wallet is None or existing.wallet_id != wallet.pk:
                raise NotEligible
            return existing
        amount = _check_amount(amount)
        if wallet is None:
            raise InsufficientBalance
        if not member.is_member or member.closed_at is not None:
            raise NotEligible
        program = wallet.program
        # The one open rule, asked under the wallet lock: a program swept (or closed) since the
        # page was shown refuses the gift.
        if not Program.objects.open_on().filter(pk=program.pk).exists():
            raise NotEligible
        eligible = (
            associations_visible_to(member)
            .filter(pk=association_id, enrollments__program=program)
            .exists()
        )
        if not eligible:
            raise NotEligible
        if amount > wallet.balance:
            raise InsufficientBalance
        entry, _ = _post_entry(
            wallet=wallet,
            kind=LedgerEntry.Kind.GIFT,
            amount=-amount,
            reference=reference,
            association_id=association_id,
            created_by=member,
        )
        return entry


def credit_wallet(
    *,
    member,
    program: Program,
    amount: int,
    reference: str,
    period: str = "",
    kind: str = LedgerEntry.Kind.CREDIT,
    created_by=None,
    memo: str = "",
) -> LedgerEntry:
    """Credit one wallet (created if needed), or adjust it (``kind=adjustment``, signed amount).

    Idempotent on ``reference``. A negative adjustment larger than the balance raises
    ``InsufficientBalance``. Bulk credits go through ``cagnotte.imports.import_credits``.
    """
    if kind not in (LedgerEntry.Kind.CREDIT, LedgerEntry.Kind.ADJUSTMENT):
        raise ValueError(f"credit_wallet does not write {kind} entries")
    if kind == LedgerEntry.Kind.CREDIT:
        amount = _check_amount(amount)
    elif isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount
    with transaction.atomic():
        # get_or_create retries the read in a savepoint if a concurrent call created it first.
        Wallet.objects.get_or_create(member=member, program=program)
        wallet = Wallet.objects.select_for_update().get(member=member, program=program)
        wallet.program = program
        if amount < 0 and -amount > wallet.balance:
            existing = LedgerEntry.objects.filter(reference=reference).first()
            if existing is not None:
                return existing
            raise InsufficientBalance
        entry, _ = _post_entry(
            wallet=wallet,
            kind=kind,
            amount=amount,
            reference=reference,
            period=period,
            created_by=created_by,
            memo=memo,
        )
        return entry


def favourite_can_receive(*, member, program: Program):
    """The member's favourite association if it can receive this program's Tookets, else None.

    ``member``: a user or its id.

    It can when it is validated and enrolled in that program (the sweep's rule, asked once).
    """
    favourite = (
        Favourite.objects.select_related("association")
        .filter(
            member=member,
            association_id__in=receiving_enrollments(program_ids=[program.pk]).values(
                "association_id"
            ),
        )
        .first()
    )
    return favourite.association if favourite else None


def settle_wallet(
    *, wallet: Wallet, to_favourite: bool, actor=None, reason: str
) -> LedgerEntry | None:
    """Settle a wallet's whole balance now (account closure), with the sweep's rules.

    Locks the wallet; ``to_favourite``: a ``sweep`` entry to the member's favourite, which must
    be able to receive in that program (validated and enrolled), else ``NotEligible``;
    otherwise a ``return`` entry to the regional bank. Reference ``settle:<wallet id>``: a
    replay returns the first entry. A zero balance needs no entry: returns None.
    """
    reference = f"settle:{wallet.pk}"
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().select_related("program").get(pk=wallet.pk)
        existing = LedgerEntry.objects.filter(reference=reference).first()
        if existing is not None:
            return existing
        if locked.balance == 0:
            return None
        association_id = None
        if to_favourite:
            # The same rule the closure page and the reminders ask (one place).
            receiver = favourite_can_receive(member=locked.member_id, program=locked.program)
            if receiver is None:
                raise NotEligible
            association_id = receiver.pk
        entry, _ = _post_entry(
            wallet=locked,
            kind=LedgerEntry.Kind.SWEEP if association_id else LedgerEntry.Kind.RETURN,
            amount=-locked.balance,
            reference=reference,
            association_id=association_id,
            created_by=actor,
            memo=reason[:200],
        )
        wallet.balance = locked.balance
        return entry


def anonymise_entries_of(*, member, name: str) -> int:
    """Strip what names a closing member from their ledger rows; the movements stay.

    Rows point at the (anonymised) user through their wallet. What else can name them: the
    author column of the entries they wrote themselves (their gifts), and a memo quoting their
    name. Both are blanked, nothing else is touched: amounts, kinds, dates and references stay
    for the bank's accounts (a credit's reference is the bank's own, and keeps a re-imported
    file from crediting twice). Blanking is the one change an append-only ledger allows.
    This is the one place that rewrites ledger rows.
    """
    entries = LedgerEntry.objects.filter(wallet__member=member)
    changed = entries.filter(created_by=member).update(created_by=None)
    if name:
        changed += entries.filter(memo__contains=name).update(memo="")
    return changed
