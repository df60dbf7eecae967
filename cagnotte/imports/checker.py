"""Each record of the one reader checked by the one rule list, as it is read: both engines.

A :class:`Checker` resolves a row's codes (its regional bank, program, member) and gives the
reason of the first rule of ``rules.ROW_RULES`` it breaks, or None. It holds what the file
needs and nothing more: the banks and programs (a few hundred rows, read at once), each bank's
members the first time a row names it (account number -> member), and the first line of each
reference of the file (for the duplicate rule).

The keyed rules (``RowRule.keyed``: they read only the row's bank, program and period) are
checked once per distinct key of the file (a dozen in a month's file): for each key the
checker keeps the rules a row of that key still has to be checked against, in the list's
order, and stops at the first keyed rule the key breaks. The rules about reading
(``RowRule.read``) are checked only on the records the reader could not read into fields. A
row's reason is the one ``rules.first_broken`` gives the same row
(``tests/cagnotte/test_import_checker.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from accounts.models import User
from cagnotte.imports import rules
from cagnotte.imports.reader import Record
from cagnotte.models import Program
from caisses.models import CaisseRegionale

Broken = Callable[[rules.CheckedRow, int], bool]


def _always(_row: rules.CheckedRow, _ceiling: int) -> bool:
    return True


def _nothing() -> None:
    pass


class Checker:
    """``checker.check(record)``: the record as a :class:`rules.CheckedRow` (its ids filled
    in) and the reason it is refused, or None.

    ``before_query`` runs before each query the checker makes while records are checked (a
    bank's members): the PostgreSQL engine ends its ``COPY`` there, the connection being busy
    with it until then.
    """

    def __init__(self, ceiling: int, *, before_query: Callable[[], None] = _nothing):
        self.ceiling = ceiling
        self.before_query = before_query
        self.caisses = dict(CaisseRegionale.objects.values_list("code", "id"))
        self.programs = {
            code: (pk, caisse_id, year)
            for code, pk, caisse_id, year in Program.objects.values_list(
                "code", "id", "caisse_regionale_id", "year"
            )
        }
        self.members: dict[int, dict[str, int]] = {}
        self._first_line: dict[str, int] = {}
        self._keys: dict[tuple[str, str, str], tuple] = {}
        self._rule_of: dict[Broken, rules.RowRule] = {r.broken: r for r in rules.ROW_RULES}
        self._read_rules = tuple(r.broken for r in rules.ROW_RULES)
        self.check = self._checker()

    def members_of(self, caisse_id: int) -> dict[str, int]:
        """The bank's members: account number -> member id (read once per file)."""
        found = self.members.get(caisse_id)
        if found is None:
            self.before_query()
            found = self.members[caisse_id] = dict(
                User.objects.filter(
                    kind=User.Kind.MEMBER, caisse_regionale_id=caisse_id
                ).values_list("account_number", "id")
            )
        return found

    def _checker(self) -> Callable[[Record], tuple[rules.CheckedRow, str | None]]:
        """``check``, once per row of the file: written for speed (the PostgreSQL engine's
        writes wait on it; what it reads is bound to the closure once), each step the plain
        reading of the rules would take, in their order."""
        new_row = rules.CheckedRow
        keys, members_by_caisse, first_lines = self._keys, self.members, self._first_line
        ceiling, key_of, members_of, reason_of = (
            self.ceiling,
            self._key,
            self.members_of,
            self._reason,
        )
        read_rules = self._read_rules

        def check(record: Record) -> tuple[rules.CheckedRow, str | None]:
            line, read_error, fields, _plain = record
            if fields is None:
                row = new_row(line, read_error)
                return row, reason_of(row, read_rules)
            row = new_row(line, None, *fields)
            key = (row.caisse_code, row.program_code, row.period)
            known = keys.get(key)
            if known is None:
                known = keys[key] = key_of(row)
            caisse_id, row.program_id, row.program_caisse_id, row.program_year, checks = known
            if caisse_id is not None:
                row.caisse_id = caisse_id
                members = members_by_caisse.get(caisse_id)
                if members is None:
                    members = members_of(caisse_id)
                row.member_id = members.get(row.account_number)
            first = first_lines.setdefault(row.reference, line)
            if first != line:
                row.first_line = first
            for broken in checks:
                if broken(row, ceiling):
                    return row, reason_of(row, checks)
            return row, None

        return check

    def _reason(self, row: rules.CheckedRow, checks: tuple[Broken, ...]) -> str | None:
        """The message of the first of ``checks`` that ``row`` breaks (the rule it belongs
        to, or the keyed rule it stands for), or None."""
        ceiling = self.ceiling
        for broken in checks:
            if broken(row, ceiling):
                rule = self._rule_of[broken]
                return rules.message(rule, ceiling=ceiling, first_line=row.first_line)
        return None

    def _key(self, row: rules.CheckedRow) -> tuple:
        """What a key resolves to, and the rules its rows are checked against: the rules
        neither keyed nor about reading, in order, up to the first keyed rule the key breaks
        (kept as always broken)."""
        caisse_id = self.caisses.get(row.caisse_code)
        program_id, program_caisse_id, year = self.programs.get(row.program_code, (None,) * 3)
        row.caisse_id, row.program_id, row.program_caisse_id = (
            caisse_id,
            program_id,
            program_caisse_id,
        )
        checks = []
        for rule in rules.ROW_RULES:
            if rule.read:
                continue  # a row read into fields has no read error
            if not rule.keyed:
                checks.append(rule.broken)
            elif rule.broken(row, self.ceiling):
                always = partial(_always)  # its own object: the rule it stands for
                self._rule_of[always] = rule
                checks.append(always)
                break
        return caisse_id, program_id, program_caisse_id, year, tuple(checks)
