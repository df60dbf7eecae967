"""The row rules of a credit file: one ordered list, from which both engines derive.

Each rule is written once, as a pair that must say the same thing: ``sql``, a condition over
the PostgreSQL validation query's aliases (``s`` the row's fields, with ``s.amount_ok`` and
``s.amount_value``, the amount as a number when it reads as one, ``cr`` its regional bank,
``u`` its member, ``p`` its program, ``d`` the first line of a reference seen twice), and
``broken``, the same condition over a :class:`CheckedRow` in Python (a ``keyed`` rule reads
only ``s.caisse_code``, ``s.program_code``, ``s.period``, ``cr`` and ``p``: PostgreSQL checks
it once per distinct key of the file). A row's reason is the
first rule it breaks, in this order, on both paths (``tests/cagnotte/test_import_hostile.py``
runs hostile files through both and compares). Rules about how the line itself reads
(encoding, quotes, columns) are decided by the one reader (``reader.py``), which both engines
share, and only named here.

After the row rules, one rule per wallet: a wallet whose balance plus the file's total for it
would not fit in the ledger's 64-bit integers has every row of that file reported, and none
applied (instead of a ``bigint out of range`` traceback).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

from django.conf import settings

from cagnotte.imports import reader
from tookets.periods import is_period

REFERENCE_MAX = 100
# Amounts are read as 64-bit integers: at most 18 digits always fit.
AMOUNT_DIGITS_MAX = 18
# The ledger's amounts and balances are PostgreSQL bigint (and SQLite's 64-bit integers).
BALANCE_MAX = 2**63 - 1

# Reasons, in French (they are read by the bank's operators).
ERR_ENCODING = "ligne illisible (texte UTF-8 sans caractère nul attendu)"
ERR_QUOTES = "ligne illisible (guillemets mal placés)"
ERR_COLUMNS = f"nombre de colonnes incorrect ({len(reader.COLUMNS)} attendues)"
ERR_REFERENCE = "référence manquante ou trop longue (100 caractères au plus)"
ERR_CAISSE = "caisse régionale inconnue"
ERR_ACCOUNT = "numéro de compte invalide (11 chiffres attendus)"
ERR_MEMBER = "sociétaire inconnu pour ce numéro de compte dans cette caisse régionale"
ERR_PROGRAM = "programme inconnu"
ERR_PROGRAM_CR = "programme d’une autre caisse régionale"
ERR_PERIOD = "période invalide (AAAA-MM attendu)"
ERR_AMOUNT = "montant invalide (nombre entier de Tookets supérieur à zéro attendu)"
ERR_AMOUNT_MAX = "montant supérieur au plafond ({max} K par ligne)"
ERR_DUPLICATE = "référence en double dans le fichier (déjà vue ligne {line})"
ERR_WALLET_TOTAL = (
    "total de la cagnotte trop grand : son solde dépasserait {max} K, "
    "aucune ligne de cette cagnotte n’est appliquée"
)


@dataclass(slots=True)
class CheckedRow:
    """One row as the Python engine checks it: its fields and what they resolve to.

    The fields are the file's columns, named as in ``reader.COLUMNS`` (checked below) and
    filled by name (:meth:`of`). ``amount`` is the text read; the SQL's ``s.amount`` too.
    """

    line: int
    read_error: str | None
    caisse_code: str = ""
    account_number: str = ""
    program_code: str = ""
    period: str = ""
    amount: str = ""
    reference: str = ""
    caisse_id: int | None = None
    member_id: int | None = None
    program_id: int | None = None
    program_caisse_id: int | None = None
    first_line: int | None = None  # of this reference in the file, when it occurs again

    @classmethod
    def of(cls, line: int, fields: list[str]) -> CheckedRow:
        return cls(line, None, **dict(zip(reader.COLUMNS, fields, strict=True)))

    @property
    def amount_ok(self) -> bool:
        a = self.amount
        return 1 <= len(a) <= AMOUNT_DIGITS_MAX and a.isascii() and a.isdigit()


assert tuple(f.name for f in dataclass_fields(CheckedRow))[2 : 2 + len(reader.COLUMNS)] == (
    reader.COLUMNS
), "CheckedRow's fields follow reader.COLUMNS"


@dataclass(frozen=True)
class RowRule:
    code: str
    message: str  # may hold {line} (first line of a duplicate) or {max} (the ceiling)
    sql: str  # true when the row breaks the rule
    broken: Callable[[CheckedRow, int], bool]  # (row, amount ceiling)
    # Checked by PostgreSQL in a statement of its own, after the others, and only when it can
    # matter (see postgres.py): it must come after every rule that is not deferred.
    deferred: bool = False
    # The rule reads only the row's key (its regional bank's code, its program's code, its
    # period: ``s.caisse_code``, ``s.program_code``, ``s.period``, and ``cr``, ``p``), so
    # PostgreSQL checks it once per distinct key of the file (a dozen in a month's file), not
    # once per row: see sql_keyed_columns.
    keyed: bool = False


def sql_digits_only(expression: str) -> str:
    """SQL: every byte of the text ``expression`` is an ASCII digit (true for ''). Read as
    bytes, where a digit is one byte and a multibyte character none: text's ltrim compares
    characters, several times slower on a UTF-8 database. With a byte length (octet_length)
    of n, it says: n characters, all ASCII digits."""
    return f"ltrim(convert_to({expression}, 'UTF8'), '\\x30313233343536373839'::bytea) = ''::bytea"


def _account_bad(a: str) -> bool:
    return len(a) != 11 or not (a.isascii() and a.isdigit())


# The order is the order of the reasons: a row gets the first rule it breaks.
ROW_RULES: tuple[RowRule, ...] = (
    RowRule(
        "encoding",
        ERR_ENCODING,
        f"s.read_error = '{reader.BAD_ENCODING}'",
        lambda r, _: r.read_error == reader.BAD_ENCODING,
    ),
    RowRule(
        "quotes",
        ERR_QUOTES,
        f"s.read_error = '{reader.BAD_QUOTES}'",
        lambda r, _: r.read_error == reader.BAD_QUOTES,
    ),
    RowRule(
        "columns",
        ERR_COLUMNS,
        f"s.read_error = '{reader.BAD_COLUMNS}'",
        lambda r, _: r.read_error == reader.BAD_COLUMNS,
    ),
    RowRule(
        "reference",
        ERR_REFERENCE,
        # A text has at least as many bytes as characters: length() only past that many.
        f"s.reference = '' OR octet_length(s.reference) > {REFERENCE_MAX}"
        f" AND length(s.reference) > {REFERENCE_MAX}",
        lambda r, _: not r.reference or len(r.reference) > REFERENCE_MAX,
    ),
    RowRule("caisse", ERR_CAISSE, "cr.id IS NULL", lambda r, _: r.caisse_id is None, keyed=True),
    RowRule(
        "account",
        ERR_ACCOUNT,
        f"octet_length(s.account_number) <> 11 OR NOT {sql_digits_only('s.account_number')}",
        lambda r, _: _account_bad(r.account_number),
    ),
    RowRule("member", ERR_MEMBER, "u.id IS NULL", lambda r, _: r.member_id is None),
    RowRule("program", ERR_PROGRAM, "p.id IS NULL", lambda r, _: r.program_id is None, keyed=True),
    RowRule(
        "program_cr",
        ERR_PROGRAM_CR,
        "p.caisse_regionale_id <> cr.id",
        lambda r, _: r.program_caisse_id != r.caisse_id,
        keyed=True,
    ),
    # The SQL twin of tookets.periods.is_period, the one reading of a period.
    RowRule(
        "period",
        ERR_PERIOD,
        # Seven bytes, the fifth '-', the six others ASCII digits: seven characters then.
        "octet_length(s.period) <> 7 OR substr(s.period, 5, 1) <> '-'"
        f" OR NOT {sql_digits_only('substr(s.period, 1, 4) || substr(s.period, 6, 2)')}"
        """ OR substr(s.period, 6, 2) COLLATE "C" NOT BETWEEN '01' AND '12'""",
        lambda r, _: not is_period(r.period),
        keyed=True,
    ),
    RowRule(
        "amount",
        ERR_AMOUNT,
        "NOT s.amount_ok OR s.amount_value = 0",
        lambda r, _: not r.amount_ok or not r.amount.lstrip("0"),
    ),
    RowRule(
        "amount_max",
        ERR_AMOUNT_MAX,
        "s.amount_value > %(amount_max)s",
        lambda r, ceiling: int(r.amount) > ceiling,
    ),
    RowRule(
        "duplicate",
        ERR_DUPLICATE,
        "d.first_line <> s.line",
        lambda r, _: r.first_line is not None and r.first_line != r.line,
        deferred=True,
    ),
)
assert all(r.deferred for r in ROW_RULES[[r.deferred for r in ROW_RULES].index(True) :])
# The key's columns and tables (the aliases of sql_keyed_columns), and nothing else of the row.
_KEY_SQL = re.compile(r"\b(s\.(caisse_code|program_code|period)|cr|p)\.?")
assert all(
    not r.keyed or not re.search(r"\b[a-z]+\.", _KEY_SQL.sub("", r.sql)) for r in ROW_RULES
), "a keyed rule reads only the row's key"
assert all(r.keyed or not re.search(r"\b(cr|p)\.", r.sql) for r in ROW_RULES), (
    "a rule reading the regional bank or the program is keyed"
)


def amount_ceiling() -> int:
    """``CREDIT_MAX_AMOUNT``: the largest amount one row may credit (whole Tookets)."""
    ceiling = int(settings.CREDIT_MAX_AMOUNT)
    if not 1 <= ceiling < 10**AMOUNT_DIGITS_MAX:
        raise ValueError(f"CREDIT_MAX_AMOUNT must be between 1 and {10**AMOUNT_DIGITS_MAX - 1}")
    return ceiling


def message(rule: RowRule, *, ceiling: int, first_line: int | None = None) -> str:
    return rule.message.format(max=ceiling, line=first_line)


def first_broken(row: CheckedRow, ceiling: int) -> str | None:
    """The Python engine: the reason of the first rule ``row`` breaks, or None."""
    for rule in ROW_RULES:
        if rule.broken(row, ceiling):
            return message(rule, ceiling=ceiling, first_line=row.first_line)
    return None


def _sql_reason(rule: RowRule, key: str) -> str:
    reason = f"%({key})s"
    if "{line}" in rule.message:
        reason = f"replace({reason}, '{{line}}', d.first_line::text)"
    return reason


def _sql_params(ceiling: int) -> dict:
    params = {"amount_max": ceiling}
    for n, rule in enumerate(ROW_RULES):
        params[f"e_{n}"] = rule.message.replace("{max}", str(ceiling))
    return params


def sql_error_case(ceiling: int) -> tuple[str, dict]:
    """The PostgreSQL engine: one CASE giving each row the reason of the first rule it breaks
    (of the rules not deferred), and its parameters (``amount_max``, one per reason). A keyed
    rule reads its answer from ``k``, the row's key (sql_keyed_columns)."""
    branches = [
        f"WHEN {f'k.broken_{n}' if rule.keyed else rule.sql} THEN {_sql_reason(rule, f'e_{n}')}"
        for n, rule in enumerate(ROW_RULES)
        if not rule.deferred
    ]
    return "CASE " + " ".join(branches) + " END", _sql_params(ceiling)


def sql_keyed_columns() -> str:
    """The keyed rules' conditions as columns ``broken_<n>`` of the query over the file's
    distinct keys (aliases ``s``: caisse_code, program_code, period; ``cr``; ``p``), which the
    CASE of sql_error_case reads as ``k``."""
    return ", ".join(
        f"({rule.sql}) AS broken_{n}" for n, rule in enumerate(ROW_RULES) if rule.keyed
    )


def sql_deferred_checks(ceiling: int) -> tuple[list[tuple[str, str]], dict]:
    """The deferred rules, in order, as (SQL condition, reason) for the rows that broke none
    of the others, and their parameters; postgres.py runs each as an ``UPDATE … SET error =
    <reason> WHERE error IS NULL AND <condition>`` over the same aliases."""
    return [
        (rule.sql, _sql_reason(rule, f"e_{n}")) for n, rule in enumerate(ROW_RULES) if rule.deferred
    ], _sql_params(ceiling)


def wallet_total_message() -> str:
    return ERR_WALLET_TOTAL.format(max=BALANCE_MAX)


def wallet_total_too_large(*, balance: int, total: int) -> bool:
    return total > BALANCE_MAX - balance
