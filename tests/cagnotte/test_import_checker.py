"""The checker against the plain reading of the rule list.

The checker checks the keyed rules once per key of the file, skips the rules about reading on
rows that were read, and resolves codes through maps read once: each is a shortcut, and
each must give what ``rules.first_broken`` gives the same row resolved by plain queries, row
by row, on files whose rows of one key differ in everything else.
"""

import itertools

import pytest

from accounts.models import User
from cagnotte.imports import rules
from cagnotte.imports.checker import Checker
from cagnotte.imports.reader import Reader, read_header
from cagnotte.models import Program
from caisses.models import CaisseRegionale
from tests import factories as f

HEADER = b"caisse_code,account_number,program_code,period,amount,reference"


def resolved(record, first_lines: dict[str, int]) -> rules.CheckedRow:
    """The record as a CheckedRow resolved by plain queries, one row at a time."""
    line, read_error, fields, _plain = record
    if fields is None:
        return rules.CheckedRow(line, read_error)
    row = rules.CheckedRow.of(line, fields)
    caisse = CaisseRegionale.objects.filter(code=row.caisse_code).first()
    program = Program.objects.filter(code=row.program_code).first()
    row.caisse_id = caisse and caisse.pk
    if program is not None:
        row.program_id, row.program_caisse_id = program.pk, program.caisse_regionale_id
        row.program_year = program.year
    if caisse is not None:
        member = User.objects.filter(
            kind=User.Kind.MEMBER, caisse_regionale=caisse, account_number=row.account_number
        ).first()
        row.member_id = member and member.pk
    first = first_lines.setdefault(row.reference, line)
    row.first_line = first if first != line else None
    return row


def rule_of(reason: str) -> str:
    [code] = [r.code for r in rules.ROW_RULES if reason.startswith(r.message.split("{")[0])]
    return code


@pytest.fixture
def file_lines(member, other_member, program, other_caisse):
    f.ProgramFactory(caisse_regionale=other_caisse, code="carte-autre")
    keys = [
        (caisse, code, period)
        for caisse in ("pyrenees-gascogne", "inconnue", other_caisse.code)
        for code in (program.code, "carte-inconnue", "carte-autre")
        for period in ("2026-01", "2026-13")
    ]
    accounts = [
        member.account_number,
        other_member.account_number,
        "12345678901",
        "1234",
    ]
    amounts = ["10", "0", "000", "99999999999999999999", "1e3", "-5", ""]
    lines = []
    # Rows of one key differ in every other field; references repeat across keys.
    for n, (key, account, amount) in enumerate(itertools.product(keys, accounts, amounts)):
        reference = ("", "x" * 101, f"ref-{n % 40}", f"unique-{n}")[n % 4]
        lines.append(",".join([key[0], account, key[1], key[2], amount, reference]).encode())
    good = f"pyrenees-gascogne,{member.account_number},{program.code},2026-02"
    lines += [
        f"{good},5000,over-the-ceiling".encode(),
        f"{good},5,twice".encode(),
        f"{good},6,twice".encode(),
        b"pyrenees-gascogne,\xff\xfe,carte,2026-01,5,bad-byte",
        b'pyrenees-gascogne,"unclosed,carte,2026-01,5,ref-1',
        b"too,few,columns",
        b'"pyrenees-gascogne","'
        + member.account_number.encode()
        + b'","'
        + program.code.encode()
        + b'","2026-01","7","quoted, reference"',
        b",,,,,",
    ]
    return lines


def test_the_checker_gives_every_row_the_reason_the_plain_rules_give(
    file_lines, tmp_path, settings
):
    settings.CREDIT_MAX_AMOUNT = 1000
    path = tmp_path / "credits.csv"
    path.write_bytes(b"\n".join([HEADER, *file_lines]) + b"\n")
    ceiling = rules.amount_ceiling()
    checker = Checker(ceiling)
    first_lines: dict[str, int] = {}
    reasons = set()
    with open(path, "rb") as stream:
        read_header(stream)
        for record in Reader(stream):
            row, reason = checker.check(record)
            expected = resolved(record, first_lines)
            assert reason == rules.first_broken(expected, ceiling), record
            reasons.add(reason and rule_of(reason))
            if reason is None:
                assert (row.member_id, row.program_id, row.program_year) == (
                    expected.member_id,
                    expected.program_id,
                    expected.program_year,
                )
    # The file reaches every rule, and has good rows.
    assert reasons == {r.code for r in rules.ROW_RULES} | {None}, reasons
