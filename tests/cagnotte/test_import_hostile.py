"""Hostile credit files through both import paths (issue 9 §1).

Each example of the issue first, with the outcome it must have; then one shared set of
hostile files, each imported by the PostgreSQL path and by the Python path from the same
starting state, comparing the ledger, the balances and the report: both paths read the file
with one reader and check its rows with one rule list, so they cannot disagree.
"""

import pytest
from django.db import transaction

from cagnotte.imports import import_credits
from cagnotte.models import LedgerEntry, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent

HEADER = b"caisse_code,account_number,program_code,period,amount,reference"
ENGINES = ["postgres", "python"]


@pytest.fixture
def cast(require_postgres, member, other_member, program, other_caisse, pg_caisse):
    return {
        "m": member.account_number,
        "o": other_member.account_number,
        "member": member,
        "program": program,
        "other_program": f.ProgramFactory(caisse_regionale=other_caisse, code="carte-t31"),
    }


def write(tmp_path, lines: list[bytes], name="credits.csv", end=b"\n"):
    path = tmp_path / name
    path.write_bytes(b"\n".join([HEADER, *lines]) + end)
    return path


def row(account, reference, amount=10, period="2026-01", program="carte-societaire-gers"):
    return f"pyrenees-gascogne,{account},{program},{period},{amount},{reference}".encode()


def outcome(report):
    """What an import did: its report and the whole resulting ledger and balances."""
    return {
        "counts": (
            report.rows,
            report.applied,
            report.already_applied,
            report.tookets_applied,
            report.wallets_created,
            report.rejected,
        ),
        "errors": report.errors,
        "ledger": sorted(
            LedgerEntry.objects.values_list(
                "wallet__member_id", "wallet__program_id", "kind", "amount", "reference", "period"
            )
        ),
        "balances": sorted(Wallet.objects.values_list("member_id", "program_id", "balance")),
    }


def run_rolled_back(engine, paths, **options):
    """Import ``paths`` in turn with ``engine``; return every outcome, then undo it all."""
    outcomes = []
    with transaction.atomic():
        for path in paths:
            outcomes.append(
                outcome(import_credits(path=path, engine=engine, force=True, **options))
            )
        assert_ledger_consistent()
        transaction.set_rollback(True)
    return outcomes


# --- The examples ----------------------------------------------------------------------


@pytest.mark.parametrize("first_engine", ENGINES)
@pytest.mark.parametrize("second_engine", ENGINES)
def test_a_quoted_reference_is_credited_once_whatever_the_path(
    cast, tmp_path, first_engine, second_engine
):
    # The same row, once as it is and once with an empty line at the end (which used to send
    # the PostgreSQL import to its line-splitting fallback, which kept the quotes).
    quoted = row(cast["m"], '"Q""1"')
    first = import_credits(path=write(tmp_path, [quoted], "a.csv"), engine=first_engine)
    second = import_credits(path=write(tmp_path, [quoted, b""], "b.csv"), engine=second_engine)
    assert (first.applied, second.applied, second.already_applied) == (1, 0, 1)
    assert list(LedgerEntry.objects.values_list("reference", flat=True)) == ['Q"1']
    assert Wallet.objects.get(member=cast["member"]).balance == 10


@pytest.mark.parametrize("engine", ENGINES)
def test_a_quoted_comma_is_one_field_even_next_to_a_bad_row(cast, tmp_path, engine):
    path = write(tmp_path, [row(cast["m"], '"J,1"'), b"pyrenees-gascogne,trop,peu"])
    report = import_credits(path=path, engine=engine)
    assert [line for line, _ in report.errors] == [3]
    assert report.errors[0][1].startswith("nombre de colonnes incorrect")
    assert list(LedgerEntry.objects.values_list("reference", flat=True)) == ["J,1"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_line_holding_only_backslash_dot_is_a_bad_row_not_the_end(cast, tmp_path, engine):
    path = write(
        tmp_path,
        [row(cast["m"], "b1"), rb"\.", row(cast["m"], "b2"), row("123", "b3")],
    )
    report = import_credits(path=path, engine=engine)
    assert [line for line, _ in report.errors] == [3, 5]
    assert report.errors[0][1].startswith("nombre de colonnes incorrect")
    assert report.errors[1][1].startswith("numéro de compte invalide")
    assert (report.rows, report.applied) == (4, 2)
    assert Wallet.objects.get(member=cast["member"]).balance == 20


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bad_byte_on_line_4_reports_line_4_and_applies_the_others(cast, tmp_path, engine):
    path = write(
        tmp_path,
        [
            row(cast["m"], "u1"),
            row(cast["m"], "u2"),
            row(cast["m"], "u3\xe9").replace("\xe9".encode(), b"\xe9"),  # Latin-1 é: not UTF-8
            row(cast["m"], "u4"),
        ],
    )
    report = import_credits(path=path, engine=engine)
    assert [line for line, _ in report.errors] == [4]
    assert "UTF-8" in report.errors[0][1]
    assert (report.rows, report.applied) == (4, 3)
    assert sorted(LedgerEntry.objects.values_list("reference", flat=True)) == ["u1", "u2", "u4"]


@pytest.mark.parametrize("engine", ENGINES)
def test_huge_amounts_are_reported_over_the_ceiling(cast, tmp_path, engine, settings):
    settings.CREDIT_MAX_AMOUNT = 1_000_000
    lines = [row(cast["m"], f"h{n}", amount=999999999999999) for n in range(9300)]
    lines.append(row(cast["m"], "fine", amount=1_000_000))
    report = import_credits(path=write(tmp_path, lines), engine=engine)
    assert len(report.errors) == 9300
    assert {reason for _, reason in report.errors} == {
        "montant supérieur au plafond (1000000 K par ligne)"
    }
    assert report.applied == 1
    assert Wallet.objects.get(member=cast["member"]).balance == 1_000_000


@pytest.mark.parametrize("engine", ENGINES)
def test_a_wallet_whose_total_would_overflow_is_reported_not_a_traceback(
    cast, tmp_path, engine, settings
):
    # With a ceiling high enough to let each row through, 9,300 of them overflow a bigint.
    settings.CREDIT_MAX_AMOUNT = 999999999999999
    lines = [row(cast["m"], f"h{n}", amount=999999999999999) for n in range(9300)]
    lines.append(
        row(cast["o"], "other", program="carte-t31").replace(b"pyrenees-gascogne", b"toulouse-31")
    )
    report = import_credits(path=write(tmp_path, lines), engine=engine)
    assert [line for line, _ in report.errors] == list(range(2, 9302))
    assert report.errors[0][1].startswith("total de la cagnotte trop grand")
    assert (report.rows, report.applied, report.tookets_applied) == (9301, 1, 10)
    assert not Wallet.objects.filter(member=cast["member"]).exists()
    assert_ledger_consistent()


# --- One shared set of hostile files, through both paths ------------------------------------


def hostile_files(c):
    """(name, [file contents imported in turn]) — each read by both paths."""
    m, o = c["m"], c["o"]
    good = row(m, "g1")
    return [
        (
            "quoted reference, then again with a blank line",
            [
                [row(m, '"Q""1"')],
                [row(m, '"Q""1"'), b""],
            ],
        ),
        ("quoted comma and a bad row", [[row(m, '"J,1"'), b"a,b"]]),
        ("copy end marker", [[good, rb"\.", row(m, "g2")]]),
        ("copy end marker quoted", [[good, rb'"\."', row(m, rb'"\."'.decode())]]),
        ("not utf-8 on line 4", [[good, row(m, "g2"), b"\xff\xfe,x", row(m, "g3")]]),
        ("nul byte", [[good, row(m, "g2\x00"), row(m, "g3")]]),
        (
            "tab, backslash and escapes in references",
            [[row(m, "t\tab"), row(m, "b\\slash"), row(m, "\\N"), row(m, "\\t"), row(m, '"a\\"')]],
        ),
        ("carriage returns", [[good + b"\r", row(m, "g2\rx"), row(m, '"cr\rin"')]]),
        ("a quote left open swallows nothing", [[row(m, '"open'), row(m, "g2"), row(m, "g3")]]),
        ("text after a closing quote", [[row(m, '"ab"c'), row(m, "g2")]]),
        ("a quoted newline is two bad lines", [[row(m, '"ab'), b'cd"', row(m, "g2")]]),
        ("blank and comma-only lines", [[b"", good, b"   ", b",,,,,", b" , ,", row(m, "g2")]]),
        ("spaces are kept", [[row(m, " g1"), row(" " + m, "g2"), row(m, "g3", period=" 2026-01")]]),
        ("quoted empty and missing fields", [[row(m, '""'), row(m, "e1", amount='""'), b",,,,,x"]]),
        ("too many and too few columns", [[good + b",extra", b"pyrenees-gascogne", row(m, "g2")]]),
        (
            "unicode digits and signs",
            [
                [
                    row(m, "d1", amount="\u00b2"),
                    row(m, "d2", amount="\u0663"),
                    row(m, "d3", amount="+5"),
                    row(m, "d4", amount="-5"),
                    row(m, "d5", amount=" 5"),
                    row(m, "d6", amount="5.0"),
                    row(m, "d7", amount="0"),
                    row(m, "d8", amount="0000"),
                    row(m, "d9", amount="007"),
                    row("٠" * 11, "d10"),
                    row(m, "d11", period="２０２６-01"),
                    row(m, "d12", period="2026-00"),
                    # As many bytes as a good value, fewer characters (checked as bytes).
                    row("é" + m[2:], "d13"),
                    row(m, "d14", period="é26-01"),
                    row(m, "d15", period="2026-é"),
                    row(m, "d16", amount="1é"),
                    row(m, "é" * 50),
                ]
            ],
        ),
        (
            "long amounts and references",
            [
                [
                    row(m, "l1", amount="9" * 19),
                    row(m, "l2", amount="9" * 40),
                    row(m, "l3", amount="0" * 30 + "5"),
                    row(m, "r" * 100),
                    row(m, "r" * 101),
                    row(m, "é" * 100),
                    row(m, "é" * 101),
                ]
            ],
        ),
        (
            "duplicates, also of bad rows",
            [
                [
                    good,
                    row(m, "g1"),
                    row("123", "x1"),
                    row(m, "x1"),
                    row(m, "x1"),
                ]
            ],
        ),
        (
            "other banks and programs",
            [
                [
                    row(m, "p1", program="carte-t31"),
                    f"toulouse-31,{o},carte-t31,2026-02,40,p2".encode(),
                    f"toulouse-31,{m},carte-t31,2026-02,40,p3".encode(),
                    f"Pyrenees-Gascogne,{m},carte-societaire-gers,2026-02,40,p4".encode(),
                ]
            ],
        ),
        (
            "crlf, bom-less quotes everywhere",
            [
                [
                    b'"pyrenees-gascogne","'
                    + m.encode()
                    + b'","carte-societaire-gers","2026-03","7","w1"\r',
                ]
            ],
        ),
        ("no newline at the end", [[good, row(m, "g2")]]),
        ("the same file twice", [[good, row(m, "g2")], [good, row(m, "g2")]]),
        ("overlapping files", [[good, row(m, "g2")], [row(m, "g2"), row(m, "g3")]]),
    ]


@pytest.mark.parametrize("all_or_nothing", [False, True])
def test_both_paths_give_the_same_ledger_balances_and_report(cast, tmp_path, all_or_nothing):
    for index, (name, contents) in enumerate(hostile_files(cast)):
        paths = []
        for n, lines in enumerate(contents):
            end = b"" if name == "no newline at the end" else b"\n"
            paths.append(write(tmp_path, lines, f"hostile-{index}-{n}.csv", end=end))
        on_postgres = run_rolled_back("postgres", paths, all_or_nothing=all_or_nothing)
        in_python = run_rolled_back("python", paths, all_or_nothing=all_or_nothing)
        assert on_postgres == in_python, name


def test_both_paths_agree_on_a_duplicate_of_a_row_whose_wallet_total_is_too_large(
    cast, tmp_path, settings
):
    settings.CREDIT_MAX_AMOUNT = 999999999999999
    m, o = cast["m"], cast["o"]
    big = [row(m, f"big{n}", amount=999999999999999) for n in range(9300)]
    other = f"toulouse-31,{o},carte-t31,2026-02,40,big0".encode()  # the same reference
    fine = f"toulouse-31,{o},carte-t31,2026-02,5,fine".encode()
    # No row breaks a row rule: on PostgreSQL, only the wallet check calls for the deferred one.
    path = write(tmp_path, [*big, other, fine])
    on_postgres, in_python = (run_rolled_back(e, [path]) for e in ENGINES)
    assert on_postgres == in_python
    [result] = in_python
    assert result["errors"][-1] == (9302, "référence en double dans le fichier (déjà vue ligne 2)")
    assert len(result["errors"]) == 9301
    assert [entry[4] for entry in result["ledger"]] == ["fine"]
