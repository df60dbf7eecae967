"""Business actions on wallets, the ledger and favourites.

Every movement goes through ``cagnotte.ledger``: wallets locked by ``locked_wallets`` (in id
order, a bounded wait when a member's page waits), rules re-checked under the lock, then one
``post_entry`` per movement. Each action here owns its side effects (the gift queues its
receipt), in the same transaction.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from associations.models import Project
from associations.selectors import (
    associations_visible_in,
    directory_scope,
)
from cagnotte.campaigns import Program
from cagnotte.ledger import (
    InsufficientBalance,
    InvalidAmount,
    NotEligible,
    check_amount,
    entry_by_reference,
    lock_query,
    locked_wallets,
    post_entry,
)
from cagnotte.matching import ASSOCIATION_FIELDS, match_gift, match_of
from cagnotte.models import Favourite, LedgerEntry, ProjectGift, Wallet
from cagnotte.selectors import favourite_can_receive
from tookets import outbox
from tookets.compiled import PLACEHOLDER, PLACEHOLDERS, BoundQuery, compiled_once


@transaction.atomic
def set_favourite(*, member, association_id: int) -> Favourite:
    """Make an association the member's one favourite. It must be visible to the member."""
    scope = directory_scope(member)
    found = (
        _visible_association_query(timezone.localdate()).fetch(scope, int(association_id))
        if scope is not None
        else []
    )
    if not found:
        raise NotEligible
    association = found[0]
    favourite, _ = Favourite.objects.update_or_create(
        member=member, defaults={"association": association}
    )
    return favourite


def _givers_wallet(*, member, wallet_id: int | None, program: Program | None) -> BoundQuery:
    """The giver's wallet to lock: by its id (the gift page's form) or by its program."""
    if wallet_id is not None:
        return BoundQuery(functools.partial(_givers_wallet_query, "wallet"), member.pk, wallet_id)
    if program is not None:
        return BoundQuery(functools.partial(_givers_wallet_query, "program"), member.pk, program.pk)
    raise TypeError("give wallet_id or program")


# The gift's reads, each compiled once per process (and day): the ORM took longer to compile
# them than the database to run them, on every gift (``tookets.compiled``).
@compiled_once(maxsize=2)
def _givers_wallet_query(by: str):
    wallets = Wallet.objects.select_related("program").filter(member_id=PLACEHOLDERS[0])
    if by == "wallet":
        return lock_query(wallets.filter(pk=PLACEHOLDERS[1]))
    return lock_query(wallets.filter(program_id=PLACEHOLDERS[1]))


@compiled_once(maxsize=2)
def _visible_association_query(day):
    """The association if a member of this regional bank may see it (the visibility rule)."""
    return associations_visible_in(PLACEHOLDERS[0], on=day).filter(pk=PLACEHOLDERS[1])[:1]


@compiled_once(maxsize=2)
def _open_program_query(day):
    """The one open rule, for one program."""
    return Program.objects.open_on(day).filter(pk=PLACEHOLDER).values("pk")[:1]


@compiled_once(maxsize=2)
def _receiving_association_query(day):
    """The association if the member may see it (the visibility rule, for the member's
    regional bank) and it is enrolled in the program, with what the matching offers' rules
    read of it (``ASSOCIATION_FIELDS``)."""
    return (
        associations_visible_in(PLACEHOLDERS[0], on=day)
        .filter(pk=PLACEHOLDERS[1], enrollments__program_id=PLACEHOLDERS[2])
        .values(*ASSOCIATION_FIELDS)
        .order_by("pk")[:1]
    )


def give_tookets(
    *,
    member,
    association_id: int,
    amount: int,
    token: str,
    wallet_id: int | None = None,
    program: Program | None = None,
    project_id: int | None = None,
    receipt: bool = True,
) -> LedgerEntry:
    """A member gives whole Tookets of one wallet to an association (« VALIDER LA DEMANDE »).

    ``token`` is the form's one-time token: the gift's reference is ``gift:<token>``, so a
    double click or a replayed post returns the first gift and gives nothing more. The
    wallet row is locked, then balance and eligibility are checked again: two gifts racing
    on one wallet are serialised and can never overdraw it. A lock held longer than
    ``settings.GIFT_LOCK_TIMEOUT`` (an import) raises ``WalletBusy``, with nothing given.

    ``project_id``: the gift also counts for that project of the association (« J'aide ce
    projet »): a ``ProjectGift`` row linking the entry, written in the same transaction. The
    project must be live (accepted, not past its end) and for the wallet's program.

    A gift made queues its receipt in the same transaction (a gift rolled back sends
    nothing); a replay makes nothing and queues nothing. ``receipt=False``: the demo data's
    past gifts, which nobody is to be emailed about.
    """
    if not token:
        raise ValueError("a gift needs its one-time token")
    reference = f"gift:{token}"
    # A credit import locks the wallets it credits until it commits (a million rows: many
    # seconds): the gift waits GIFT_LOCK_TIMEOUT at most, then gives nothing (WalletBusy).
    with (
        transaction.atomic(),
        locked_wallets(
            _givers_wallet(member=member, wallet_id=wallet_id, program=program),
            wait=settings.GIFT_LOCK_TIMEOUT,
        ) as wallets,
    ):
        wallet = wallets[0] if wallets else None
        # A replay first: the gift was made, whatever the balance or the rules say now.
        existing = entry_by_reference(reference)
        if existing is not None:
            if wallet is None or existing.wallet_id != wallet.pk:
                raise NotEligible
            existing.matching = match_of(existing)
            return existing
        amount = check_amount(amount)
        if wallet is None:
            raise InsufficientBalance
        if not member.is_member or member.closed_at is not None:
            raise NotEligible
        program = wallet.program
        # The one open rule, asked under the wallet lock: a program swept (or closed) since the
        # page was shown refuses the gift.
        day = timezone.localdate()
        if not _open_program_query(day).rows(program.pk):
            raise NotEligible
        # What the matching offers' rules read comes with the eligibility, in one query.
        scope = directory_scope(member)
        found = (
            _receiving_association_query(day).rows(scope, int(association_id), program.pk)
            if scope is not None
            else ()
        )
        if not found:
            raise NotEligible
        association = dict(zip(ASSOCIATION_FIELDS, found[0], strict=True))
        if (
            project_id is not None
            and not Project.objects.live_on(timezone.localdate())
            .filter(pk=project_id, association_id=association_id, program_id=program.pk)
            .exists()
        ):
            raise NotEligible
        if amount > wallet.balance:
            raise InsufficientBalance
        entry, created = post_entry(
            wallet=wallet,
            kind=LedgerEntry.Kind.GIFT,
            amount=-amount,
            reference=reference,
            association_id=association_id,
            created_by=member,
            reference_read=True,  # the replay check above, under the wallet's lock
        )
        # A matching offer tops it up in the same transaction (cagnotte/matching.py): matched
        # once, whatever replays or races, within the offer's budget; ``entry.matching`` says
        # what was added and whether caps or the budget cut it (None: no offer takes it).
        entry.matching = (
            match_gift(gift=entry, member=member, association=association)
            if created
            else match_of(entry)
        )
        if created and project_id is not None:
            ProjectGift.objects.create(
                entry=entry, entry_year=entry.year, project_id=project_id, amount=amount
            )
        if created and receipt:
            # Named, not imported: the receipt is a page-floor task (docs/architecture.md), and
            # the outbox checks the name here, in the gift's transaction.
            outbox.enqueue("accounts.tasks.send_gift_receipt", entry_id=entry.pk)
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
        amount = check_amount(amount)
    elif isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount
    # get_or_create retries the read in a savepoint if a concurrent call created it first.
    # No page calls this (tests, scripts): it waits for the wallet as long as it takes.
    with transaction.atomic():
        Wallet.objects.get_or_create(member=member, program=program)
        with locked_wallets(Wallet.objects.filter(member=member, program=program), wait=None) as (
            wallet,
        ):
            wallet.program = program
            if amount < 0 and -amount > wallet.balance:
                existing = entry_by_reference(reference)
                if existing is not None:
                    return existing
                raise InsufficientBalance
            entry, _ = post_entry(
                wallet=wallet,
                kind=kind,
                amount=amount,
                reference=reference,
                period=period,
                created_by=created_by,
                memo=memo,
            )
            return entry


def settle_wallet(
    *, wallet: Wallet, to_favourite: bool, actor=None, reason: str
) -> LedgerEntry | None:
    """Settle a wallet's whole balance now (account closure), with the sweep's rules.

    Locks the wallet; ``to_favourite``: a ``sweep`` entry to the member's favourite, which must
    be able to receive in that program (validated and enrolled), else ``NotEligible``;
    otherwise a ``return`` entry to the regional bank. Reference ``settle:<wallet id>``: a
    replay returns the first entry. A zero balance needs no entry: returns None.

    The member's page waits for the wallet ``settings.GIFT_LOCK_TIMEOUT`` at most (a credit
    import holds it until it commits), then ``WalletBusy`` with nothing written: the caller's
    transaction (the closure) is rolled back whole.
    """
    reference = f"settle:{wallet.pk}"
    with (
        transaction.atomic(),
        locked_wallets(
            Wallet.objects.select_related("program").filter(pk=wallet.pk),
            wait=settings.GIFT_LOCK_TIMEOUT,
        ) as (locked,),
    ):
        existing = entry_by_reference(reference)
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
        entry, _ = post_entry(
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
