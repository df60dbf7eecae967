"""The row rules of a credit file: one ordered list, which both engines check.

Each rule is written once, as ``broken``, a condition over a :class:`CheckedRow` (the file's
fields, and what its codes resolve to). A row's reason is the first rule it breaks, in this
order; the one checker (``checker.py``) applies the list for both engines, which differ only
in how they write (``tests/cagnotte/test_import_hostile.py`` runs hostile files through both
and compares). Rules about how the line itself reads (encoding, quotes, columns) are decided
by the one reader (``reader.py``) and only named here.

After the row rules, one rule per wallet: a wallet whose balance plus the file's total for it
would not fit in the ledger's 64-bit integers has every row of that file reported, and none
applied (instead of a ``bigint out of range`` traceback).
"""

from __future__ import annotations

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
    """One row as the rules check it: its fields and what they resolve to.

    The fields are the file's columns, named and ordered as in ``reader.COLUMNS`` (checked
    below): the checker fills them by position, :meth:`of` by name. ``amount`` is the text
    read.
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
    program_year: int | None = None  # the program's campaign year: the ledger's partition

    @classmethod
    def of(cls, line: int, fields: list[str]) -> CheckedRow:
        return cls(line, None, **dict(zip(reader.COLUMNS, fields, strict=True)))


assert tuple(f.name for f in dataclass_fields(CheckedRow))[2 : 2 + len(reader.COLUMNS)] == (
    reader.COLUMNS
), "CheckedRow's fields follow reader.COLUMNS"


@dataclass(frozen=True)
class RowRule:
    code: str
    message: str  # may hold {line} (first line of a duplicate) or {max} (the ceiling)
    broken: Callable[[CheckedRow, int], bool]  # (row, amount ceiling): true when broken
    # The rule reads only the row's key: its regional bank's code and id, its program's code
    # and ids, its period (``caisse_code``, ``caisse_id``, ``program_code``, ``program_id``,
    # ``program_caisse_id``, ``period``). The checker then checks it once per distinct key
    # of the file (a dozen in a month's file), not once per row: see checker.py.
    keyed: bool = False
    # The rule reads only ``read_error``: how the line reads. Only a record the reader could
    # not read into fields can break it (the reader gives fields exactly when it has no
    # error), so the checker checks it on those records only.
    read: bool = False


# The order is the order of the reasons: a row gets the first rule it breaks.
ROW_RULES: tuple[RowRule, ...] = (
    RowRule("encoding", ERR_ENCODING, lambda r, _: r.read_error == reader.BAD_ENCODING, read=True),
    RowRule("quotes", ERR_QUOTES, lambda r, _: r.read_error == reader.BAD_QUOTES, read=True),
    RowRule("columns", ERR_COLUMNS, lambda r, _: r.read_error == reader.BAD_COLUMNS, read=True),
    RowRule(
        "reference",
        ERR_REFERENCE,
        lambda r, _: not r.reference or len(r.reference) > REFERENCE_MAX,
    ),
    RowRule("caisse", ERR_CAISSE, lambda r, _: r.caisse_id is None, keyed=True),
    RowRule(
        "account",
        ERR_ACCOUNT,
        lambda r, _: not (len(a := r.account_number) == 11 and a.isascii() and a.isdigit()),
    ),
    RowRule("member", ERR_MEMBER, lambda r, _: r.member_id is None),
    RowRule("program", ERR_PROGRAM, lambda r, _: r.program_id is None, keyed=True),
    RowRule(
        "program_cr",
        ERR_PROGRAM_CR,
        lambda r, _: r.program_caisse_id != r.caisse_id,
        keyed=True,
    ),
    RowRule("period", ERR_PERIOD, lambda r, _: not is_period(r.period), keyed=True),
    RowRule(
        "amount",
        ERR_AMOUNT,
        # 1 to AMOUNT_DIGITS_MAX ASCII digits, not all zeros.
        lambda r, _: (
            not (
                0 < len(a := r.amount) <= AMOUNT_DIGITS_MAX
                and a.isascii()
                and a.isdigit()
                and a.lstrip("0")
            )
        ),
    ),
    RowRule("amount_max", ERR_AMOUNT_MAX, lambda r, ceiling: int(r.amount) > ceiling),
    # A reference seen on an earlier readable row of the file (whatever that row's fate).
    RowRule(
        "duplicate",
        ERR_DUPLICATE,
        lambda r, _: r.first_line is not None and r.first_line != r.line,
    ),
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
    """The reason of the first rule ``row`` (resolved) breaks, or None: the list's plain
    reading, which the checker's per-key shortcut must give (test_import_checker.py)."""
    for rule in ROW_RULES:
        if rule.broken(row, ceiling):
            return message(rule, ceiling=ceiling, first_line=row.first_line)
    return None


def wallet_total_message() -> str:
    return ERR_WALLET_TOTAL.format(max=BALANCE_MAX)


def wallet_total_too_large(*, balance: int, total: int) -> bool:
    return total > BALANCE_MAX - balance
