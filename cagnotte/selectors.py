"""Reads about wallets and what associations received."""

import datetime
import functools
import json
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Subquery, Sum
from django.utils import timezone

from associations.models import Association, DirectoryVersion
from cagnotte.campaigns import (
    CampaignStatus,
    Program,
    campaign_paid_at,
    campaign_state,
    receiving_enrollments,
)
from cagnotte.figures import FIGURES_COLUMNS, FIGURES_WIDTH, figures_from, figures_join
from cagnotte.models import (
    Favourite,
    LedgerEntry,
    MatchingOffer,
    PayoutLine,
    PayoutStatement,
    Wallet,
)
from tookets.compiled import PLACEHOLDER, PLACEHOLDERS, compiled_once
from tookets.periods import current_period
from tookets.prepared import prepared_cursor


def _sweep_destination():
    """Per wallet row: the enrolment through which the member's favourite would receive the
    wallet's balance at the sweep (validated, enrolled in that program: the sweep's rule,
    ``receiving_enrollments``), none when it cannot."""
    return receiving_enrollments().filter(
        program_id=OuterRef("program_id"),
        association__favourited_by__member_id=OuterRef("member_id"),
    )


def _with_year_end(wallets, day):
    """``year_end`` (the campaign's end is previewed: ``Program.objects.year_end_on``) and
    where the balance goes at the sweep (``sweep_to_id``, ``sweep_to_name``: the favourite,
    or None: back to the bank), in the wallets' own query."""
    destination = _sweep_destination()
    return wallets.annotate(
        year_end=Exists(Program.objects.year_end_on(day).filter(pk=OuterRef("program_id"))),
        sweep_to_id=Subquery(destination.values("association_id")[:1]),
        sweep_to_name=Subquery(destination.values("association__name")[:1]),
    )


def wallets_of(member, *, period: str | None = None, day=None):
    """A member's wallets with their program, « récolté ce mois-ci », where each campaign
    stands on ``day`` (``w.campaign``, a ``CampaignStatus``), where its balance goes at the
    sweep (``_with_year_end``) and, once swept, where it went (``swept_amount``,
    ``swept_to_name``), in one query — compiled once per period and day
    (``_wallets_query``), as every wallet page after a gift reads it."""
    wallets = _wallets_query(period or current_period(), day or timezone.localdate()).fetch(
        member.pk
    )
    for w in wallets:
        w.campaign = CampaignStatus(w.program, w.campaign_state, w.campaign_paid_at)
    return wallets


@compiled_once(maxsize=4)
def _wallets_query(period: str, day):
    return wallets_queryset(PLACEHOLDER, period=period, day=day)


def wallets_queryset(member_id: int, *, period: str, day):
    """``wallets_of``'s query, as the ORM writes it (compiled once by ``_wallets_query``)."""
    swept = LedgerEntry.objects.filter(
        wallet_id=OuterRef("pk"), kind__in=[LedgerEntry.Kind.SWEEP, LedgerEntry.Kind.RETURN]
    )
    return _with_year_end(
        Wallet.objects.filter(member_id=member_id)
        .select_related("program")
        .with_collected(period)
        .annotate(
            campaign_state=campaign_state(day, prefix="program__"),
            campaign_paid_at=campaign_paid_at(prefix="program__"),
            swept_amount=Subquery(swept.values("amount")[:1]),
            swept_to_name=Subquery(swept.values("association__name")[:1]),
        ),
        day,
    ).order_by("-program__year", "program__name", "pk")


def wallet_state(member) -> tuple:
    """What names the whole wallet page of ``member`` (its figures and history), without
    reading them: one small query, for the page's cached fragment (``tookets.fragments``).

    * the number of the member's ledger entries and of their wallets: entries are append-only
      (the models and database triggers refuse an update or a delete), so a set of entries
      that grew always has more of them; a count, unlike the highest id, also sees an entry
      with a smaller id committed after a larger one. A balance changes only with an entry;
    * the directory's version (bumped by triggers on any program or validated association
      write: program and association names);
    * the id and name of every association in the history, read as they are now: an
      association that is no longer validated can be renamed without bumping the version;
    * the member's favourite (a closed campaign says where its balance goes at the sweep:
      whether it can receive there follows enrolments and statuses, which bump the version)
      and how many of the member's campaigns are paid (a statement marked paid writes no
      entry). The day, which opens and closes campaigns, is the caller's part of the key.

    One statement in fact (UNION ALL), the ORM's compiling of two would cost more than both
    run in PostgreSQL.
    """
    entry = LedgerEntry._meta.db_table
    wallet = Wallet._meta.db_table
    mine = f"{entry} e INNER JOIN {wallet} w ON w.id = e.wallet_id WHERE w.member_id = %s"
    with prepared_cursor() as cursor:
        # One round trip: a first row of counts, then one row per association.
        cursor.execute(
            f"SELECT 0, (SELECT COUNT(*) FROM {mine}), "
            f"(SELECT COUNT(*) FROM {wallet} WHERE member_id = %s), "
            f"(SELECT version FROM {DirectoryVersion._meta.db_table} WHERE id = 1), NULL, "
            f"(SELECT association_id FROM {Favourite._meta.db_table} WHERE member_id = %s), "
            f"(SELECT COUNT(*) FROM {PayoutStatement._meta.db_table} s WHERE s.status = %s "
            f"AND s.program_id IN (SELECT program_id FROM {wallet} WHERE member_id = %s)) "
            f"UNION ALL SELECT 1, id, NULL, NULL, name, NULL, NULL "
            f"FROM {Association._meta.db_table} "
            f"WHERE id IN (SELECT e.association_id FROM {mine} AND e.association_id IS NOT NULL) "
            "ORDER BY 1, 2",
            [
                member.pk,
                member.pk,
                member.pk,
                PayoutStatement.Status.PAID,
                member.pk,
                member.pk,
            ],
        )
        rows = cursor.fetchall()
    _, *counts, version, _, favourite, paid = rows[0]
    names = [(pk, name) for _, pk, _, _, name, _, _ in rows[1:]]
    if version is None:  # the row is gone (a TRUNCATE): made again, from a new start
        version = DirectoryVersion.current()
    return (member.pk, *counts, version, favourite, paid, tuple(names))


# Stands for the member's id in a statement compiled once for every member (``_year_end_sql``):
# no id is negative, so no other parameter of the statement can equal it.
_MEMBER = PLACEHOLDER  # tookets.compiled's: one sentinel for every statement compiled once


@functools.lru_cache(maxsize=4)
def _year_end_sql(day) -> tuple[str, str, tuple]:
    """``version_and_year_end``'s two ORM statements, compiled once per day and process with
    ``_MEMBER`` in the member's place (the ORM took longer to compile them than the whole
    favourites page took otherwise)."""
    member = _MEMBER
    wallets = _with_year_end(
        Wallet.objects.filter(
            member_id=member,
            balance__gt=0,
            program__in=Program.objects.year_end_on(day),
        ),
        day,
    ).values_list(
        "pk",
        "balance",
        "program_id",
        "program__name",
        "program__year",
        "program__closes_on",
        "sweep_to_id",
        "sweep_to_name",
    )
    # The same columns for the last sweep's entry (its Tookets as the « balance »).
    swept = (
        LedgerEntry.objects.filter(
            wallet__member_id=member, kind__in=[LedgerEntry.Kind.SWEEP, LedgerEntry.Kind.RETURN]
        )
        .order_by("-wallet__program__year", "-id")
        .values_list(
            "pk",
            "amount",
            "wallet__program_id",
            "wallet__program__name",
            "wallet__program__year",
            "wallet__program__closes_on",
            "association_id",
            "association__name",
        )[:1]
    )
    sql, params = wallets.order_by().query.sql_with_params()
    swept_sql, swept_params = swept.query.sql_with_params()
    return sql, swept_sql, (*params, *swept_params)


def version_and_year_end(member, *, day) -> tuple[int | None, list, object]:
    """The directory's version and the member's year end — before it (their wallets with a
    balance in a campaign whose end is previewed, ``Program.objects.year_end_on``, each with
    where it goes at the sweep) and after it (the last sweep's entry: what went where) — in
    one round trip.

    Returns ``(version, [Wallet with program, sweep_to_id, sweep_to_name], last sweep)``,
    the last sweep a ``LedgerEntry`` with ``wallet.program`` and ``association`` (or None);
    the version is None when its row is gone (the caller reads it again). The favourites
    page reads the year end in its figures' statement instead (``year_end_sql``), and this
    only when that statement had no row to carry it.
    """
    sql, swept_sql, compiled = _year_end_sql(day)
    params = [member.pk if value == _MEMBER else value for value in compiled]
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT 0, NULL, version, NULL, NULL, NULL, NULL, NULL, NULL "
            f"FROM {DirectoryVersion._meta.db_table} WHERE id = 1 "
            f"UNION ALL SELECT 1, w.* FROM ({sql}) AS w "
            f"UNION ALL SELECT 2, s.* FROM ({swept_sql}) AS s ORDER BY 1",
            params,
        )
        rows = cursor.fetchall()
    version = next((row[2] for row in rows if row[0] == 0), None)
    return (version, *_year_end_from_rows(member, [row for row in rows if row[0]]))


# The year end's columns, named for ``year_end_sql``'s JSON (the ORM names two of them
# « name »: the program's and the association's).
_YEAR_END_COLUMNS = "pk, amount, program_id, name, year, closes_on, to_id, to_name"


def year_end_sql(member, *, day) -> tuple[str, list]:
    """``version_and_year_end``'s year end as one scalar SQL expression, to read in another
    statement (the favourites page's figures: ``read_figure_rows``'s ``also``): a JSON array
    of ``[kind, pk, amount, program_id, name, year, closes_on, to_id, to_name]`` rows, kind 1
    for a wallet, 2 for the last sweep, NULL without any. ``year_end_from_json`` reads it."""
    sql, swept_sql, compiled = _year_end_sql(day)
    params = [member.pk if value == _MEMBER else value for value in compiled]
    columns = "k, " + _YEAR_END_COLUMNS
    if connection.vendor == "postgresql":
        # As text: repeated on each row of the statement, parsed once (``year_end_from_json``).
        aggregate = f"json_agg(json_build_array({columns}) ORDER BY k, pk)::text"
    else:
        aggregate = f"json_group_array(json_array({columns}))"
    return (
        f"(WITH w({_YEAR_END_COLUMNS}) AS ({sql}), s({_YEAR_END_COLUMNS}) AS ({swept_sql}) "
        f"SELECT {aggregate} FROM (SELECT 1 AS k, * FROM w UNION ALL SELECT 2, * FROM s) AS y "
        # json_group_array gives « [] » without a row, json_agg NULL: both read as none.
        ")",
        params,
    )


def year_end_state_sql(member) -> tuple[str, list]:
    """What names the member's year end (``year_end_sql``'s value), as one scalar SQL
    expression far cheaper than the year end itself (PostgreSQL only): the directory's
    version, each of the member's wallets as its id and ``xmin`` (the transaction that last
    wrote its row), and their favourite.

    Every input of the year end moves one of them. A wallet's balance, and every sweep or
    return entry (each one moves its wallet's balance in the same statement), write the
    wallet's row: its ``xmin`` changes, and never comes back (transaction ids only grow; a
    frozen row keeps its ``xmin``). A new or deleted wallet changes the list. The programs'
    names and dates, the enrolments, the associations' status and their names once out of
    the draft (where a sweep's destination is named) bump the version (associations
    migrations ``0010`` and ``0018``). The destination is the favourite, named here.
    """
    wallets, favourites = Wallet._meta.db_table, Favourite._meta.db_table
    return (
        "(SELECT concat("
        f"(SELECT version FROM {DirectoryVersion._meta.db_table} WHERE id = 1), '|', "
        f"(SELECT string_agg(w.id || ':' || w.xmin, ',' ORDER BY w.id) FROM {wallets} AS w "
        "WHERE w.member_id = %s), '|', "
        f"(SELECT f.association_id FROM {favourites} AS f WHERE f.member_id = %s)))",
        [member.pk, member.pk],
    )


def year_end_with_state(member, *, day) -> tuple[str, object]:
    """``(year_end_state_sql's value, year_end_sql's value)`` read in one statement, so in the
    same snapshot: the year end is exactly what its state names (PostgreSQL only)."""
    state_sql, state_params = year_end_state_sql(member)
    sql, params = year_end_sql(member, day=day)
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {state_sql}, {sql}", [*state_params, *params])
        return cursor.fetchone()


def year_end_from_json(member, value) -> tuple[list, object]:
    """``(wallets, last sweep)`` from ``year_end_sql``'s value, as ``version_and_year_end``."""
    if value is not None:
        value = json.loads(value)
    return _year_end_from_rows(member, value or ())


def _year_end_from_rows(member, rows) -> tuple[list, object]:
    preview, last_sweep = [], None
    for kind, pk, amount, program_id, name, year, closes_on, to_id, to_name in rows:
        if isinstance(closes_on, str):  # text through a raw cursor (SQLite) or in JSON
            closes_on = datetime.date.fromisoformat(closes_on)
        program = Program(pk=program_id, name=name, year=year, closes_on=closes_on)
        if kind == 1:
            wallet = Wallet(pk=pk, member_id=member.pk, program_id=program_id, balance=amount)
            wallet.program = program
            wallet.sweep_to_id, wallet.sweep_to_name = to_id, to_name
            preview.append(wallet)
        else:
            last_sweep = LedgerEntry(pk=pk, amount=amount, association_id=to_id)
            last_sweep.wallet = Wallet(program=program)
            last_sweep.given, last_sweep.association_name = -amount, to_name
    preview.sort(key=lambda w: (-w.program.year, w.program.name, w.pk))
    return preview, last_sweep


def history_of(member):
    """A member's movements, newest first, with what each page row shows (no N+1); a gift
    topped up by a matching offer carries ``matched`` (K added, else None)."""
    match = LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.MATCHING, matches=OuterRef("pk")
    ).values("amount")[:1]
    return (
        LedgerEntry.objects.filter(wallet__member=member)
        .select_related("wallet__program", "association")
        .annotate(matched=-Subquery(match))
        .order_by("-created_at", "-id")
    )


class _History:
    """The member's history for ``Paginator``: its length known (``wallet_state``'s count of
    the member's entries), each page read by its statement compiled once (``_history_query``)."""

    def __init__(self, member_id: int, count: int, per_page: int):
        self.member_id, self._count, self.per_page = member_id, count, per_page

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, page: slice) -> list:
        start = page.start or 0
        # Always a whole page's LIMIT (one statement per position): the last page is shorter.
        return _history_query(start, self.per_page).fetch(self.member_id)[: page.stop - start]


def history_page(member, *, count: int, number, per_page: int) -> Page:
    """Page ``number`` of ``history_of(member)`` (``Paginator.get_page``: a bad or past
    number shows the first or last page), ``count`` the member's entries as
    ``wallet_state`` read them: no count query, and the page's statement compiled once per
    page position and process (the wallet page after each gift reads the first)."""
    return Paginator(_History(member.pk, count, per_page), per_page).get_page(number)


@compiled_once(maxsize=16)
def _history_query(offset: int, limit: int):
    return history_of(PLACEHOLDER)[offset : offset + limit]


def givable_wallets(member, *, association_id: int, day=None):
    """The member's wallets that can give to this association now: balance left, program open
    (the one rule), association enrolled in that program. ``member``: a user or an id."""
    return (
        Wallet.objects.filter(
            member=member,
            balance__gt=0,
            program__in=Program.objects.open_on(day).filter(
                enrollments__association_id=association_id
            ),
        )
        .select_related("program")
        .order_by("-program__year", "program__name", "pk")
    )


def givable_wallets_of(member, *, association_id: int, day=None) -> list:
    """``givable_wallets`` as a list, its statement compiled once per day and process (the
    gift page reads it on every display after a gift)."""
    day = day or timezone.localdate()
    return _givable_query(day).fetch(member.pk, association_id)


@compiled_once(maxsize=4)
def _givable_query(day):
    return givable_wallets(PLACEHOLDERS[0], association_id=PLACEHOLDERS[1], day=day)


def give_page_state(member, *, association_id: int, year: int) -> tuple:
    """What names the gift page of ``member`` for one association, without reading the page:
    one small query, for the page's cached fragment (``tookets.fragments``).

    * the directory's version, bumped by the database in the writer's transaction on any write
      to a program, an enrolment or a validated association (its name, its city, whether it
      is still validated): with the day and the member's regional bank, which the caller adds,
      it names what the directory's visibility rule (``visible_row``) and ``givable_wallets``
      answer;
    * the association's summary figures as they are (a gift changes them, not the version);
    * the id, program and balance of every wallet of the member: a gift or a credit changes a
      balance, a first credit in a program adds a wallet;
    * the matching offers of the member's programs (``count:sum of versions``, "0:0" without
      any): a match, a staff change or an early close bumps an offer's version. What the
      member has used under a cap changes with their own gifts (the balances), the
      association's with its figures (of which matched).
    """
    offers = MatchingOffer._meta.db_table
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT v.version, {FIGURES_COLUMNS}, "
            # The matching offers of the member's programs: how many, and the sum of their
            # versions (every match, change or close bumps one).
            f"(SELECT COUNT(*) || ':' || COALESCE(SUM(o.version), 0) FROM {offers} o "
            f"WHERE o.program_id IN (SELECT program_id FROM {Wallet._meta.db_table} "
            "WHERE member_id = %s)), "
            "w.id, w.program_id, w.balance "
            "FROM (SELECT %s AS id) AS a "
            f"LEFT JOIN {DirectoryVersion._meta.db_table} v ON v.id = 1 "
            f"{figures_join('a.id')} "
            f"LEFT JOIN {Wallet._meta.db_table} w ON w.member_id = %s "
            "ORDER BY w.id",
            [member.pk, association_id, year, member.pk],
        )
        rows = cursor.fetchall()
    version = rows[0][0]
    end = 1 + FIGURES_WIDTH
    figures = figures_from(*rows[0][1:end])
    offers_key = rows[0][end]
    if version is None:  # the row is gone (a TRUNCATE): made again, from a new start
        version = DirectoryVersion.current()
    wallets = tuple(row[end + 1 :] for row in rows if row[end + 1] is not None)
    return (version, figures, offers_key, wallets)


def favourite_can_receive(*, member, program: Program):
    """The member's favourite association if it can receive this program's Tookets, else None.

    ``member``: a user or its id.

    It can when it is validated and enrolled in that program (the sweep's rule, asked once).
    """
    return favourite_receiving_in(member=member, program_ids=[program.pk]).get(program.pk)


def favourite_receiving_in(*, member, program_ids) -> dict:
    """``{program id: the member's favourite association}`` for each of these programs the
    favourite can receive in (the sweep's rule, as ``favourite_can_receive``), one query."""
    program_ids = list(program_ids)
    if not program_ids:
        return {}
    receiving = (
        receiving_enrollments(program_ids=program_ids)
        .filter(association__favourited_by__member=member)
        .select_related("association")
    )
    return {e.program_id: e.association for e in receiving}


def balance_after(entry) -> int:
    """The wallet's balance right after one of its entries (what a receipt says is left)."""
    total = LedgerEntry.objects.filter(wallet_id=entry.wallet_id, pk__lte=entry.pk).aggregate(
        total=Sum("amount")
    )["total"]
    return int(total or 0)


def payouts_of(*, association_id: int) -> list[PayoutLine]:
    """An association's payout lines, newest program first (« Versement prévu », « Versé le »)."""
    return list(
        PayoutLine.objects.filter(association_id=association_id)
        .select_related("statement__program")
        .order_by("-statement__program__year", "statement__program__name")
    )


@dataclass
class DomainResult:
    domain: str
    given: int  # Tookets (K) = euro cents
    associations: int


@dataclass
class CampaignResult:
    program_name: str
    year: int
    given: int
    associations: int
    by_domain: list[DomainResult]
    # Euro cents the bank has paid for this campaign: its payout statement's total once it is
    # marked paid (DESIGN « Payouts »), else None (not paid yet: the page says so).
    paid_cents: int | None = None
    # The bank's matching offers of the campaign: budget, used, gifts matched (0: none).
    matching_budget: int = 0
    matching_spent: int = 0
    gifts_matched: int = 0

    @property
    def euros_cents(self) -> int:
        """What the gifts are worth: 1 K = 1 euro cent."""
        return self.given


def public_results(*, caisse_regionale_id: int) -> list[CampaignResult]:
    """« Résultats » of a regional bank, campaign by campaign (newest first): Tookets given
    (gifts and year-end sweeps), their euro value, associations supported, by domain.

    Sums and counts only: no member, no amount of a single gift. One grouped query over the
    gift and sweep entries of the bank's programs.
    """
    rows = (
        LedgerEntry.objects.filter(
            wallet__program__caisse_regionale_id=caisse_regionale_id,
            kind__in=[LedgerEntry.Kind.GIFT, LedgerEntry.Kind.SWEEP],
            association__isnull=False,
        )
        .values("wallet__program_id", "association__domain__label")
        .annotate(total=Sum("amount"), associations=Count("association", distinct=True))
        .order_by()
    )
    # With the campaign's matching offers summed, in the same query.
    programs = {
        p.pk: p
        for p in Program.objects.filter(caisse_regionale_id=caisse_regionale_id).annotate(
            matching_budget=Sum("matching_offers__budget", default=0),
            matching_spent=Sum("matching_offers__spent", default=0),
            gifts_matched=Sum("matching_offers__gifts_matched", default=0),
        )
    }
    campaigns: dict[int, CampaignResult] = {}
    for row in rows:
        program = programs[row["wallet__program_id"]]
        campaign = campaigns.setdefault(
            program.pk,
            CampaignResult(
                program.name,
                program.year,
                0,
                0,
                [],
                matching_budget=int(program.matching_budget),
                matching_spent=int(program.matching_spent),
                gifts_matched=int(program.gifts_matched),
            ),
        )
        # A gift is a debit of the member's wallet: its amount is negative.
        given = -row["total"]
        campaign.given += given
        campaign.associations += row["associations"]  # one domain per association: no overlap
        campaign.by_domain.append(
            DomainResult(row["association__domain__label"] or "—", given, row["associations"])
        )
    paid = PayoutStatement.objects.filter(
        program_id__in=list(campaigns), status=PayoutStatement.Status.PAID
    ).values_list("program_id", "total_cents")
    for program_id, total_cents in paid:
        campaigns[program_id].paid_cents = total_cents
    for campaign in campaigns.values():
        campaign.by_domain.sort(key=lambda d: (-d.given, d.domain))
    return sorted(campaigns.values(), key=lambda c: (-c.year, c.program_name))
