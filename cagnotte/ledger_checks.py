"""Invariants of the ledger, checked with a few set-based queries (GROUP BY over all entries).

Used by ``manage.py check_ledger`` and by tests after their heaviest scenarios.
"""

from dataclasses import dataclass, field

from django.db import connection

from cagnotte.figures import ledger_month_totals
from cagnotte.models import AssociationMonthTotals
from cagnotte.payouts import statements_against_ledger

SHOWN = 50

# Each wallet's cached balance against the sum of its entries.
_WALLETS = """
SELECT w.id, u.username, p.code, w.balance, COALESCE(e.total, 0)
FROM cagnotte_wallet w
JOIN accounts_user u ON u.id = w.member_id
JOIN cagnotte_program p ON p.id = w.program_id
LEFT JOIN (
    SELECT wallet_id, SUM(amount) AS total FROM cagnotte_ledgerentry GROUP BY wallet_id
) e ON e.wallet_id = w.id
WHERE w.balance <> COALESCE(e.total, 0)
ORDER BY w.id
"""

# Conservation, per kind: credited + adjustments = balances + given + swept + returned.
_KINDS = "SELECT kind, SUM(amount) FROM cagnotte_ledgerentry GROUP BY kind"
_BALANCES = "SELECT COALESCE(SUM(balance), 0) FROM cagnotte_wallet"

# What each association received according to the ledger (gifts and sweeps are negative on
# the giver's wallet, matching on its offer's budget), against its summary rows. A matching
# entry reaches its program through its offer; it adds no supporter (its gift did).
_RECEIVED_FROM = """
FROM cagnotte_ledgerentry e
LEFT JOIN cagnotte_wallet w ON w.id = e.wallet_id
LEFT JOIN cagnotte_matchingoffer o ON o.id = e.offer_id
JOIN cagnotte_program p ON p.id = COALESCE(w.program_id, o.program_id)
WHERE e.kind IN ('gift', 'sweep', 'matching')
"""
_RECEIVED = f"""
SELECT e.association_id, -SUM(e.amount) AS received, COUNT(DISTINCT w.member_id) AS supporters,
       MIN(p.year) AS first_year,
       -COALESCE(SUM(e.amount) FILTER (WHERE e.kind = 'matching'), 0) AS matched
{_RECEIVED_FROM}
GROUP BY e.association_id
"""
_RECEIVED_BY_YEAR = f"""
SELECT e.association_id, p.year, -SUM(e.amount),
       -COALESCE(SUM(e.amount) FILTER (WHERE e.kind = 'matching'), 0)
{_RECEIVED_FROM}
GROUP BY e.association_id, p.year
"""
_TOTALS = (
    "SELECT association_id, received_total, supporters, first_year, matched_total "
    "FROM cagnotte_associationtotals"
)
_YEAR_TOTALS = "SELECT association_id, year, received, matched FROM cagnotte_associationyeartotals"
# Totals rows whose regional bank is not their association's (the database refuses them:
# cagnotte migration 0018; a restore without its rules could still leave one).
_TOTALS_BANK = (
    "SELECT t.association_id, t.caisse_regionale_id, a.caisse_regionale_id "
    "FROM cagnotte_associationtotals t JOIN associations_association a ON a.id = t.association_id "
    "WHERE t.caisse_regionale_id <> a.caisse_regionale_id ORDER BY 1"
)

# Each offer's spent budget and count against its matching entries.
_OFFERS = """
SELECT o.id, o.spent, o.gifts_matched, o.budget,
       -COALESCE(SUM(e.amount), 0), COUNT(e.id)
FROM cagnotte_matchingoffer o
LEFT JOIN cagnotte_ledgerentry e ON e.offer_id = o.id AND e.kind = 'matching'
GROUP BY o.id, o.spent, o.gifts_matched, o.budget
HAVING o.spent <> -COALESCE(SUM(e.amount), 0) OR o.gifts_matched <> COUNT(e.id)
    OR o.spent > o.budget
ORDER BY o.id
"""
# Each matching entry against its gift and its offer's terms: a gift of the same program and
# association, within the ratio and the cap per gift.
_MATCHES = """
SELECT m.id, m.reference, g.id, g.kind, -m.amount, -g.amount, o.ratio_matched, o.ratio_given,
       o.cap_per_gift, m.association_id = g.association_id, w.program_id = o.program_id
FROM cagnotte_ledgerentry m
JOIN cagnotte_matchingoffer o ON o.id = m.offer_id
LEFT JOIN cagnotte_ledgerentry g ON g.id = m.matches_id
LEFT JOIN cagnotte_wallet w ON w.id = g.wallet_id
WHERE m.kind = 'matching'
  AND (g.id IS NULL OR g.kind <> 'gift'
       OR m.association_id IS DISTINCT FROM g.association_id
       OR w.program_id IS DISTINCT FROM o.program_id
       OR -m.amount * o.ratio_given > -g.amount * o.ratio_matched
       OR (o.cap_per_gift IS NOT NULL AND -m.amount > o.cap_per_gift))
ORDER BY m.id
"""
# The caps over an offer: per member (of the matched gifts) and per association.
_CAPS = """
SELECT o.id, 'sociétaire', w.member_id, -SUM(m.amount), o.cap_per_member
FROM cagnotte_ledgerentry m
JOIN cagnotte_matchingoffer o ON o.id = m.offer_id
JOIN cagnotte_ledgerentry g ON g.id = m.matches_id
JOIN cagnotte_wallet w ON w.id = g.wallet_id
WHERE m.kind = 'matching' AND o.cap_per_member IS NOT NULL
GROUP BY o.id, w.member_id, o.cap_per_member
HAVING -SUM(m.amount) > o.cap_per_member
UNION ALL
SELECT o.id, 'association', m.association_id, -SUM(m.amount), o.cap_per_association
FROM cagnotte_ledgerentry m
JOIN cagnotte_matchingoffer o ON o.id = m.offer_id
WHERE m.kind = 'matching' AND o.cap_per_association IS NOT NULL
GROUP BY o.id, m.association_id, o.cap_per_association
HAVING -SUM(m.amount) > o.cap_per_association
"""
_SUPPORTERS = "SELECT association_id, COUNT(*) FROM cagnotte_supporter GROUP BY association_id"

# Per campaign year (on PostgreSQL: per partition of the ledger, the partition key): each
# kind's sum, the entries, and those whose ``year`` is not their program's (the partition key
# is written by every writer; nothing in the database ties it to the program, so this does).
_YEARS = """
SELECT e.year, e.kind, SUM(e.amount), COUNT(*), COUNT(*) FILTER (WHERE e.year <> p.year)
FROM cagnotte_ledgerentry e
LEFT JOIN cagnotte_wallet w ON w.id = e.wallet_id
LEFT JOIN cagnotte_matchingoffer o ON o.id = e.offer_id
LEFT JOIN cagnotte_program p ON p.id = COALESCE(w.program_id, o.program_id)
GROUP BY e.year, e.kind
"""
_BALANCES_BY_YEAR = """
SELECT p.year, COALESCE(SUM(w.balance), 0) FROM cagnotte_wallet w
JOIN cagnotte_program p ON p.id = w.program_id GROUP BY p.year
"""


@dataclass
class YearCheck:
    """One campaign year of the ledger (one partition on PostgreSQL)."""

    year: int
    entries: int = 0
    credited: int = 0
    balances: int = 0
    given: int = 0
    swept: int = 0
    returned: int = 0
    matched: int = 0
    wrong_year: int = 0

    @property
    def line(self) -> str:
        return (
            f"{self.year} : {self.entries} mouvements ; crédité {self.credited} K = soldes "
            f"{self.balances} K + donné {self.given} K + fin d’année {self.swept} K + rendu "
            f"{self.returned} K ; abondé {self.matched} K"
        )

    @property
    def problems(self) -> list[str]:
        found = []
        if self.credited != self.balances + self.given + self.swept + self.returned:
            found.append(f"année {self.year} : conservation rompue ({self.line})")
        if self.wrong_year:
            found.append(
                f"année {self.year} : {self.wrong_year} mouvements dont l’année n’est pas "
                "celle de leur programme"
            )
        return found


@dataclass
class LedgerCheck:
    wallets: list[str] = field(default_factory=list)
    conservation: list[str] = field(default_factory=list)
    associations: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    matching: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    # Per campaign year (partition), in year order; and what breaks there.
    by_year: list[YearCheck] = field(default_factory=list)
    years: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.wallets
            or self.conservation
            or self.associations
            or self.statements
            or self.matching
            or self.years
        )


def check_ledger() -> LedgerCheck:
    result = LedgerCheck()
    with connection.cursor() as cursor:
        cursor.execute(_WALLETS)
        for wallet_id, username, program, balance, total in cursor.fetchall():
            result.wallets.append(
                f"cagnotte {wallet_id} ({username}, {program}) : solde {balance}, "
                f"somme des mouvements {total}"
            )
        cursor.execute(_KINDS)
        kinds = {kind: int(total) for kind, total in cursor.fetchall()}
        cursor.execute(_BALANCES)
        balances = int(cursor.fetchone()[0])
        credited = kinds.get("credit", 0) + kinds.get("adjustment", 0)
        given, swept, returned = (-kinds.get(k, 0) for k in ("gift", "sweep", "return"))
        result.totals = {
            "credited": credited,
            "balances": balances,
            "given": given,
            "swept": swept,
            "returned": returned,
            # From the offers' budgets, not from wallets: outside the conservation above.
            "matched": -kinds.get("matching", 0),
        }
        if credited != balances + given + swept + returned:
            result.conservation.append(
                f"crédité {credited} ≠ soldes {balances} + donné {given} + "
                f"versé en fin d’année {swept} + rendu {returned}"
            )

        cursor.execute(_RECEIVED)
        ledger = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(_TOTALS)
        summary = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(_SUPPORTERS)
        supporter_rows = dict(cursor.fetchall())
        for association_id in sorted(set(ledger) | set(summary)):
            received, supporters, first_year, matched = ledger.get(association_id, (0, 0, None, 0))
            s_received, s_supporters, s_first_year, s_matched = summary.get(
                association_id, (0, 0, None, 0)
            )
            rows = supporter_rows.get(association_id, 0)
            if (int(received), supporters, first_year, int(matched)) != (
                int(s_received),
                s_supporters,
                s_first_year,
                int(s_matched),
            ) or rows != supporters:
                result.associations.append(
                    f"association {association_id} : reçu {received} selon les mouvements, "
                    f"{s_received} au résumé ; {supporters} donateurs selon les mouvements, "
                    f"{s_supporters} au résumé, {rows} lignes de soutien ; première année "
                    f"{first_year} / {s_first_year} ; dont abondement {matched} / {s_matched}"
                )
        cursor.execute(_TOTALS_BANK)
        for association_id, summary_bank, bank in cursor.fetchall():
            result.associations.append(
                f"association {association_id} : caisse régionale {bank}, {summary_bank} au résumé"
            )
        cursor.execute(_RECEIVED_BY_YEAR)
        by_year = {(a, y): (int(r), int(m)) for a, y, r, m in cursor.fetchall()}
        cursor.execute(_YEAR_TOTALS)
        year_rows = {(a, y): (int(r), int(m)) for a, y, r, m in cursor.fetchall()}
        _compare_received(result, by_year, year_rows, lambda year: f"année {year}")
        _compare_received(
            result,
            ledger_month_totals(),
            {
                (a, month): (int(r), int(m))
                for a, month, r, m in AssociationMonthTotals.objects.values_list(
                    "association_id", "month", "received", "matched"
                )
            },
            lambda month: f"mois {month:%Y-%m}",
        )
        _check_matching(cursor, result)
        _check_years(cursor, result)
    result.statements = statements_against_ledger()
    return result


def _compare_received(result: LedgerCheck, ledger: dict, summary: dict, period) -> None:
    """What each association received per period (its year, its month), (received, of which
    matched) by ``(association, period)``, according to the ledger and to its summary rows:
    each difference named (``period`` writes the period)."""
    for key in sorted(set(ledger) | set(summary)):
        if ledger.get(key, (0, 0)) != summary.get(key, (0, 0)):
            result.associations.append(
                f"association {key[0]}, {period(key[1])} : (reçu, dont abondement) "
                f"{ledger.get(key, (0, 0))} selon les mouvements, "
                f"{summary.get(key, (0, 0))} au résumé"
            )


def _check_matching(cursor, result: LedgerCheck) -> None:
    """Matching offers: spent budget = their entries, each entry tied to one gift of the same
    program and association, within the ratio and the caps."""
    cursor.execute(_OFFERS)
    for offer_id, spent, count, budget, entries, entry_count in cursor.fetchall():
        result.matching.append(
            f"offre d’abondement {offer_id} : budget utilisé {spent} K / {budget} K et "
            f"{count} dons abondés, {entries} K en {entry_count} mouvements d’abondement"
        )
    cursor.execute(_MATCHES)
    for (
        entry_id,
        reference,
        gift_id,
        gift_kind,
        matched,
        given,
        r_m,
        r_g,
        cap,
        *_,
    ) in cursor.fetchall():
        if gift_id is None or gift_kind != "gift":
            problem = "ne correspond à aucun don"
        else:
            problem = (
                f"{matched} K pour un don de {given} K (ratio {r_m} pour {r_g}, plafond par "
                f"don {cap}) ou d’une autre association ou d’un autre programme"
            )
        result.matching.append(f"abondement {entry_id} ({reference}) : {problem}")
    cursor.execute(_CAPS)
    for offer_id, who, who_id, total, cap in cursor.fetchall():
        result.matching.append(
            f"offre d’abondement {offer_id}, {who} {who_id} : {total} K abondés, plafond {cap} K"
        )


def _check_years(cursor, result: LedgerCheck) -> None:
    """The conservation per campaign year (each partition balances on its own: a wallet
    belongs to one program, so to one year) and each entry's year against its program's."""
    years: dict[int, YearCheck] = {}
    cursor.execute(_YEARS)
    for year, kind, total, count, wrong in cursor.fetchall():
        check = years.setdefault(year, YearCheck(year))
        total = int(total)
        check.entries += count
        check.wrong_year += wrong
        if kind in ("credit", "adjustment"):
            check.credited += total
        elif kind == "gift":
            check.given -= total
        elif kind == "sweep":
            check.swept -= total
        elif kind == "return":
            check.returned -= total
        elif kind == "matching":
            check.matched -= total
    cursor.execute(_BALANCES_BY_YEAR)
    for year, balances in cursor.fetchall():
        years.setdefault(year, YearCheck(year)).balances = int(balances)
    result.by_year = [years[y] for y in sorted(years)]
    result.years = [problem for check in result.by_year for problem in check.problems]
