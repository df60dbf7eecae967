"""Invariants of the ledger, checked with a few set-based queries (GROUP BY over all entries).

Used by ``manage.py check_ledger`` and by tests after their heaviest scenarios.
"""

from dataclasses import dataclass, field

from django.db import connection

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
# the giver's wallet), against its summary rows.
_RECEIVED = """
SELECT e.association_id, -SUM(e.amount) AS received, COUNT(DISTINCT w.member_id) AS supporters,
       MIN(p.year) AS first_year
FROM cagnotte_ledgerentry e
JOIN cagnotte_wallet w ON w.id = e.wallet_id
JOIN cagnotte_program p ON p.id = w.program_id
WHERE e.kind IN ('gift', 'sweep')
GROUP BY e.association_id
"""
_RECEIVED_BY_YEAR = """
SELECT e.association_id, p.year, -SUM(e.amount)
FROM cagnotte_ledgerentry e
JOIN cagnotte_wallet w ON w.id = e.wallet_id
JOIN cagnotte_program p ON p.id = w.program_id
WHERE e.kind IN ('gift', 'sweep')
GROUP BY e.association_id, p.year
"""
_TOTALS = (
    "SELECT association_id, received_total, supporters, first_year FROM cagnotte_associationtotals"
)
_YEAR_TOTALS = "SELECT association_id, year, received FROM cagnotte_associationyeartotals"
_SUPPORTERS = "SELECT association_id, COUNT(*) FROM cagnotte_supporter GROUP BY association_id"


@dataclass
class LedgerCheck:
    wallets: list[str] = field(default_factory=list)
    conservation: list[str] = field(default_factory=list)
    associations: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.wallets or self.conservation or self.associations or self.statements)


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
            received, supporters, first_year = ledger.get(association_id, (0, 0, None))
            s_received, s_supporters, s_first_year = summary.get(association_id, (0, 0, None))
            rows = supporter_rows.get(association_id, 0)
            if (int(received), supporters, first_year) != (
                int(s_received),
                s_supporters,
                s_first_year,
            ) or rows != supporters:
                result.associations.append(
                    f"association {association_id} : reçu {received} selon les mouvements, "
                    f"{s_received} au résumé ; {supporters} donateurs selon les mouvements, "
                    f"{s_supporters} au résumé, {rows} lignes de soutien ; première année "
                    f"{first_year} / {s_first_year}"
                )
        cursor.execute(_RECEIVED_BY_YEAR)
        by_year = {(a, y): int(r) for a, y, r in cursor.fetchall()}
        cursor.execute(_YEAR_TOTALS)
        year_rows = {(a, y): int(r) for a, y, r in cursor.fetchall()}
        for key in sorted(set(by_year) | set(year_rows)):
            if by_year.get(key, 0) != year_rows.get(key, 0):
                result.associations.append(
                    f"association {key[0]}, année {key[1]} : reçu {by_year.get(key, 0)} selon "
                    f"les mouvements, {year_rows.get(key, 0)} au résumé"
                )
    result.statements = statements_against_ledger()
    return result
