"""Matching gifts (« abondement »): a regional bank tops up its members' gifts from an offer's
budget, in the gift's own transaction.

``match_gift`` is called by ``cagnotte.services.give_tookets`` once the gift entry is
written, with the giver's wallet still locked. It finds the offers of the gift's program
running today that take the association (``MatchingOffer.objects.running_on`` and
``qualifying``: the one rule, which the gift form asks too), locking their rows as it reads
them (``cagnotte.ledger.locked_offers``: after the wallet, in id order, a bounded wait), and
computes for each what it would add: the ratio applied to the gift, cut by the cap per gift,
by what the member and the association have left under their caps, and by what is left of
the budget. **One offer wins: the one that adds the most** (then the higher ratio, then the
older offer); never two. Its matching entry is written by the one ledger writer
(``post_entry``, ``kind=matching``): its source is the offer's budget, its reference
``match:<gift id>`` and a unique constraint on the gift it ``matches`` make a replayed or
raced gift matched once; ``spent`` moves under the CHECK ``spent <= budget``.

Why the offer row is the lock: every match of an offer reads its spending (budget left, the
member's and the association's sums under the caps) and writes it; holding the row while the
gift's transaction runs makes those reads true until the commit. Two gifts racing for the last
Tookets of a budget are serialised there: the second one sees what the first left, is matched
partly or not at all, and says so (``Match.cut``). The cost: gifts matched by one offer
queue on its row for the length of a gift's transaction (a few milliseconds), as gifts to one
association already queue on its totals row.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cagnotte.campaigns import not_swept_condition
from cagnotte.ledger import lock_query, locked_offers, post_entry
from cagnotte.models import LedgerEntry, MatchingOffer, MatchingOfferEvent, Wallet
from tookets.compiled import PLACEHOLDER, PLACEHOLDERS, BoundQuery, compiled_once
from tookets.db_router import read_connection

CUT_GIFT = "gift"
CUT_MEMBER = "member"
CUT_ASSOCIATION = "association"
CUT_BUDGET = "budget"


@dataclass(frozen=True)
class Match:
    """What an offer adds to one gift: ``amount`` Tookets, where the ratio alone gave
    ``full``; ``cut_by`` names what cut it (a cap or the budget)."""

    offer_id: int
    offer_name: str
    ends_on: datetime.date
    amount: int
    full: int
    cut_by: tuple[str, ...] = ()

    @property
    def cut(self) -> bool:
        return self.amount < self.full


# What the qualifying rules read of an association (``values(*ASSOCIATION_FIELDS)``).
ASSOCIATION_FIELDS = ("id", "domain_id", "activity_id", "caisse_locale_id")


def match_reference(gift: LedgerEntry) -> str:
    return f"match:{gift.pk}"


def offers_for(*, program_id: int, association, day: datetime.date | None = None):
    """The offers running on ``day`` in a program that take ``association`` (a dict of
    ``ASSOCIATION_FIELDS``), their budget spent or not."""
    return _taking(MatchingOffer.objects.filter(program_id=program_id), association, day)


def _taking(offers, association: dict, day):
    """Of ``offers``, those running on ``day`` that take ``association``."""
    return offers.running_on(day).qualifying(
        association_id=association["id"],
        domain_id=association["domain_id"],
        activity_id=association["activity_id"],
        caisse_locale_id=association["caisse_locale_id"],
    )


# What members and associations have used of each capped offer. Each sum starts from its
# own side, so that it reads a few rows whatever the size of the offer: the member's wallet in
# the offer's program (unique index), its gifts (wallet index), and each gift's match by the
# partial unique index on (gift, year), both given: one probe per gift, the offer tested on
# the match found (in the CASE), never used to find it; the association's matches of the
# offer (the partial (offer, association) index). A cap the offer does not have is not summed
# (CASE skips it). With the offer in the join, the planner could (and on statistics taken
# before the offer's first match, did) combine the gift's index with the offer's, reading
# every match of the offer once per gift of the member: 0.87 ms against 0.24 ms once the
# offer had 2,200 matches, and growing with them (docs/scale.md).
_USED_SQL = f"""
SELECT o.id,
  CASE WHEN o.cap_per_member IS NULL THEN 0 ELSE (
    SELECT COALESCE(-SUM(CASE WHEN m.offer_id = o.id THEN m.amount ELSE 0 END), 0)
    FROM {Wallet._meta.db_table} w
    JOIN {LedgerEntry._meta.db_table} g ON g.wallet_id = w.id
    JOIN {LedgerEntry._meta.db_table} m ON m.matches_id = g.id AND m.year = g.year
    WHERE w.member_id = %s AND w.program_id = o.program_id AND g.kind = 'gift'
  ) END,
  CASE WHEN o.cap_per_association IS NULL THEN 0 ELSE (
    SELECT COALESCE(-SUM(m.amount), 0) FROM {LedgerEntry._meta.db_table} m
    WHERE m.offer_id = o.id AND m.association_id = %s
  ) END
FROM {MatchingOffer._meta.db_table} o
WHERE o.id IN ({{ids}})
"""


def _used(offers, *, member_id: int, association_id: int) -> dict[int, tuple[int, int]]:
    """``{offer id: (matched for this member, matched for this association)}``, positive K,
    for the offers that have such a cap (one query; none when no offer has one)."""
    capped = [o.pk for o in offers if o.cap_per_member or o.cap_per_association]
    if not capped:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            _USED_SQL.format(ids=", ".join(["%s"] * len(capped))),
            [member_id, association_id, *capped],
        )
        return {pk: (int(member), int(association)) for pk, member, association in cursor}


def limits_of(offer: MatchingOffer, *, member_used: int, association_used: int):
    """``[(what, K it still allows)]``: the budget left and each cap the offer has, left."""
    limits = [(CUT_BUDGET, offer.budget - offer.spent)]
    if offer.cap_per_gift is not None:
        limits.append((CUT_GIFT, offer.cap_per_gift))
    if offer.cap_per_member is not None:
        limits.append((CUT_MEMBER, offer.cap_per_member - member_used))
    if offer.cap_per_association is not None:
        limits.append((CUT_ASSOCIATION, offer.cap_per_association - association_used))
    return [(name, max(0, limit)) for name, limit in limits]


def what_offer_adds(
    offer: MatchingOffer, *, amount: int, member_used: int = 0, association_used: int = 0
) -> Match:
    """The ratio applied to a gift of ``amount``, cut by each cap and by the budget left."""
    full = offer.full_match(amount)
    added = full
    cut_by = []
    for name, limit in limits_of(offer, member_used=member_used, association_used=association_used):
        if limit < full:
            cut_by.append(name)
        added = min(added, limit)
    return Match(
        offer_id=offer.pk,
        offer_name=offer.name,
        ends_on=offer.ends_on,
        amount=added,
        full=full,
        cut_by=tuple(cut_by),
    )


def best_match(offers, *, amount: int, used=None) -> Match | None:
    """The winning offer's match: the most Tookets added, then the higher ratio, then the
    older offer. None without offers."""
    used = used or {}
    best, best_key = None, None
    for offer in offers:
        member_used, association_used = used.get(offer.pk, (0, 0))
        match = what_offer_adds(
            offer, amount=amount, member_used=member_used, association_used=association_used
        )
        key = (match.amount, offer.ratio_matched / offer.ratio_given, -offer.pk)
        if best_key is None or key > best_key:
            best, best_key = match, key
    return best


def _offers_to_lock(program_id: int, association: dict, day) -> BoundQuery:
    """``offers_for``, locked as ``locked_offers`` locks them, its statement compiled once per
    day and empty columns (``_MAY_BE_EMPTY``)."""
    present = tuple(association[name] is not None for name in _MAY_BE_EMPTY)
    values = [program_id, association["id"]]
    values += [
        association[name] for name, shown in zip(_MAY_BE_EMPTY, present, strict=True) if shown
    ]
    return BoundQuery(functools.partial(_offers_lock_query, day, present), *values)


@compiled_once(maxsize=4)
def _offers_lock_query(day, present: tuple):
    placeholders = iter(PLACEHOLDERS)
    program_id = next(placeholders)
    association = {"id": next(placeholders)}
    for name, shown in zip(_MAY_BE_EMPTY, present, strict=True):
        association[name] = next(placeholders) if shown else None
    return lock_query(offers_for(program_id=program_id, association=association, day=day))


def match_gift(*, gift: LedgerEntry, member, association: dict) -> Match | None:
    """Match a gift just written (``gift.wallet.program`` loaded), its wallet locked by the
    caller's transaction, inside ``locked_wallets``' bounded block (``give_tookets`` only).

    Returns the winning offer's ``Match`` (``amount`` 0: its budget or a cap left nothing,
    no entry written), or None when no running offer takes the gift."""
    amount = -gift.amount
    # Read and locked in one statement, in id order: the running offers that take this gift,
    # their budget spent or not (a spent one tells the gift so; gifts it would have taken
    # queue on its row as they did while it had budget). PostgreSQL re-reads a row it waited
    # for: an offer closed meanwhile is not returned. wait=None: no second lock_timeout to
    # set and put back; the caller's wallet block (``locked_wallets`` with
    # GIFT_LOCK_TIMEOUT) bounds every wait of the gift's transaction, this one included.
    with locked_offers(
        _offers_to_lock(gift.wallet.program_id, association, timezone.localdate()), wait=None
    ) as offers:
        if not offers:
            return None
        if all(o.spent >= o.budget for o in offers):
            return best_match(offers, amount=amount)
        used = _used(offers, member_id=member.pk, association_id=association["id"])
        match = best_match(offers, amount=amount, used=used)
        if match.amount > 0:
            offer = next(o for o in offers if o.pk == match.offer_id)
            post_entry(
                wallet=None,
                kind=LedgerEntry.Kind.MATCHING,
                amount=-match.amount,
                reference=match_reference(gift),
                association_id=gift.association_id,
                offer=offer,
                matches=gift,
                memo=offer.name[:200],
            )
        return match


def match_of(gift: LedgerEntry) -> Match | None:
    """The match a gift received, read back (a replayed gift, a receipt, the history)."""
    entry = (
        LedgerEntry.objects.select_related("offer")
        .filter(kind=LedgerEntry.Kind.MATCHING, matches=gift)
        .first()
    )
    if entry is None:
        return None
    offer = entry.offer
    # The terms are frozen once a gift is matched: the full match is the same as then.
    return Match(
        offer_id=offer.pk,
        offer_name=offer.name,
        ends_on=offer.ends_on,
        amount=-entry.amount,
        full=offer.full_match(-gift.amount),
    )


# --- Before the gift: what the form announces ---------------------------------------------


@dataclass(frozen=True)
class OfferPreview:
    """One running offer as the gift form shows it: its ratio and the most it can still add
    to this member's gift to this association (cap per gift, caps left, budget left)."""

    name: str
    ends_on: datetime.date
    ratio_matched: int
    ratio_given: int
    limit: int

    def adds(self, amount: int) -> int:
        return max(0, min(amount * self.ratio_matched // self.ratio_given, self.limit))


@dataclass(frozen=True)
class FormPreview:
    offers: tuple[OfferPreview, ...]

    @property
    def spent(self) -> bool:
        """Offers take this gift, but nothing is left to add (budget or caps spent)."""
        return bool(self.offers) and all(o.limit <= 0 for o in self.offers)

    def adds(self, amount) -> int:
        """What a gift of ``amount`` would get from the best offer (``best_match``'s rule)."""
        if not isinstance(amount, int) or amount <= 0:
            return 0
        return max((o.adds(amount) for o in self.offers), default=0)

    @property
    def best(self) -> OfferPreview | None:
        live = [o for o in self.offers if o.limit > 0]
        return max(live, key=lambda o: o.ratio_matched / o.ratio_given) if live else None


def previews(*, member_id: int, association: dict, program_ids) -> dict[int, FormPreview]:
    """``{program id: FormPreview}`` for the gift form's wallets: the running offers that take
    this association, each with what it can still add (one query, and one more when an offer
    has a cap per member or association). Read without a lock: the gift decides."""
    running = _running_offers(timezone.localdate(), sorted(set(program_ids)), association)
    if not running:
        return {}
    used = _used(running, member_id=member_id, association_id=association["id"])
    result: dict[int, list[OfferPreview]] = {}
    for offer in running:
        member_used, association_used = used.get(offer.pk, (0, 0))
        limits = limits_of(offer, member_used=member_used, association_used=association_used)
        result.setdefault(offer.program_id, []).append(
            OfferPreview(
                name=offer.name,
                ends_on=offer.ends_on,
                ratio_matched=offer.ratio_matched,
                ratio_given=offer.ratio_given,
                limit=min(limit for _, limit in limits),
            )
        )
    return {pk: FormPreview(tuple(offers)) for pk, offers in result.items()}


def _running_queryset(day, program_ids, association: dict):
    """The offers running on ``day`` in these programs that take this association."""
    offers = MatchingOffer.objects.filter(program_id__in=program_ids)
    return _taking(offers, association, day).order_by("pk")


# The association's columns a qualifying rule reads that may be empty (the ORM writes
# ``IS NULL`` for an empty one: the statement is compiled per which ones are).
_MAY_BE_EMPTY = ("domain_id", "activity_id", "caisse_locale_id")


def _running_offers(day, program_ids: list, association: dict) -> list:
    """``_running_queryset``'s offers, its statement compiled once per day, number of
    programs and empty columns (the gift page reads it at every display after a gift)."""
    if not program_ids:
        return []
    present = tuple(association[name] is not None for name in _MAY_BE_EMPTY)
    if len(program_ids) > 8:  # never seen: as many programs open at once
        return list(_running_queryset(day, program_ids, association))
    values = [*program_ids, association["id"]]
    values += [
        association[name] for name, shown in zip(_MAY_BE_EMPTY, present, strict=True) if shown
    ]
    return _running_query(day, len(program_ids), present).fetch(*values)


@compiled_once(maxsize=16)
def _running_query(day, programs: int, present: tuple):
    placeholders = iter(PLACEHOLDERS)
    program_ids = [next(placeholders) for _ in range(programs)]
    association = {"id": next(placeholders)}
    for name, shown in zip(_MAY_BE_EMPTY, present, strict=True):
        association[name] = next(placeholders) if shown else None
    return _running_queryset(day, program_ids, association)


# --- Staff actions ---------------------------------------------------------------------------


class OfferFrozen(Exception):
    """A gift has been matched: the offer's terms may no longer change (it may be closed)."""

    message = gettext_lazy(
        "Un don a déjà été abondé par cette offre : ses conditions ne peuvent plus changer. "
        "Vous pouvez seulement la clore avant terme."
    )


class OfferClosed(Exception):
    """The offer was closed already."""

    message = gettext_lazy("Cette offre est déjà close.")


def _audit_value(value):
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if hasattr(value, "__iter__") and not isinstance(value, str):
        return sorted(_audit_value(v) for v in value)
    return value


def save_offer(*, offer: MatchingOffer, actor, changed: dict) -> MatchingOffer:
    """Create or change an offer (staff, in the admin), audited: who, when, what.

    ``changed``: ``{field name: new value}`` of what the staff changed (the qualifying lists
    are set by the admin's form after this, in the same request). Once a gift has been
    matched the terms are frozen (``OfferFrozen``, nothing written), re-checked under the
    offer's row lock: a gift matching it at the same moment waits, or has made it frozen.
    """
    with transaction.atomic():
        created = offer.pk is None
        if not created and not changed:
            return offer  # nothing changed: nothing to record
        if not created:
            with locked_offers(MatchingOffer.objects.filter(pk=offer.pk), wait=None) as (current,):
                if changed and current.gifts_matched:
                    raise OfferFrozen
                if changed and current.closed_at is not None:
                    raise OfferClosed
                # What the matching writes is never taken from a form.
                offer.spent, offer.gifts_matched = current.spent, current.gifts_matched
                offer.version = current.version + 1
        else:
            offer.created_by = actor
        offer.save()
        MatchingOfferEvent.objects.create(
            offer=offer,
            event=MatchingOfferEvent.Event.CREATED if created else MatchingOfferEvent.Event.CHANGED,
            actor=actor,
            data={name: _audit_value(value) for name, value in sorted(changed.items())},
        )
        return offer


def close_offer(*, offer: MatchingOffer, actor, reason: str) -> MatchingOffer:
    """Close an offer before its end (staff): no gift is matched from then on; the matches
    made stay. Recorded with who, when and why."""
    with (
        transaction.atomic(),
        locked_offers(MatchingOffer.objects.filter(pk=offer.pk), wait=None) as (current,),
    ):
        if current.closed_at is not None:
            raise OfferClosed
        current.closed_at = timezone.now()
        current.closed_by = actor
        current.close_reason = reason[:200]
        current.version += 1
        current.save(update_fields=["closed_at", "closed_by", "close_reason", "version"])
        MatchingOfferEvent.objects.create(
            offer=current,
            event=MatchingOfferEvent.Event.CLOSED,
            actor=actor,
            data={"reason": current.close_reason, "spent": current.spent},
        )
        return current


@compiled_once(maxsize=2)
def _offers_query(one_bank: bool):
    """``offers_of_bank``'s statement, compiled once per process (the ORM took longer to
    compile it, with its join and ordering, than the database to run it); the bank's id in
    ``PLACEHOLDER``'s place."""
    offers = MatchingOffer.objects.filter(not_swept_condition(prefix="program__"))
    if one_bank:
        offers = offers.filter(program__caisse_regionale_id=PLACEHOLDER)
    return offers.select_related("program").order_by("-program__year", "program__name", "name")


def offers_of_bank(*, caisse_regionale_id: int | None) -> list[MatchingOffer]:
    """The offers of a bank's campaigns not swept yet (``None``: every bank's), with their
    budget used and gifts matched, for the staff dashboard: one query, never cached (the
    figures move with every matched gift)."""
    return offers_from_rows(*offer_rows_of_bank(caisse_regionale_id=caisse_regionale_id))


def offer_rows_of_bank(*, caisse_regionale_id: int | None) -> tuple[str, tuple]:
    """``(database alias, rows)``: ``offers_of_bank``'s rows as read (every field it shows,
    so they can name a rendering of them), made offers by ``offers_from_rows``."""
    db = read_connection(MatchingOffer)
    one_bank = caisse_regionale_id is not None
    values = (caisse_regionale_id,) if one_bank else ()
    return db.alias, _offers_query(one_bank).rows(*values, connection=db)


def offers_from_rows(alias: str, rows: tuple) -> list[MatchingOffer]:
    return _offers_query(False).instances(rows, db=alias)
