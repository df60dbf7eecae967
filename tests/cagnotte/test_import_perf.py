"""The PostgreSQL credit import's fast path (issue 4 §2) against the plain Python import.

The fast path writes every good row into the ledger with COPY as it is read, then creates
the missing wallets with their totals and adds the others'; when a reference is already in
the ledger it rolls that back and takes the general path (staged rows, ON CONFLICT, balances
from what was inserted). Both must give exactly what the Python import gives.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cagnotte.imports import import_credits, postgres
from cagnotte.ledger_partitions import ensure_ledger_partition
from cagnotte.models import LedgerEntry, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit

HEADER = "caisse_code,account_number,program_code,period,amount,reference"
FAST = postgres.STEP_FAST
FALLBACK = postgres.STEP_GENERAL
UNDONE = postgres.STEP_FAST_UNDONE


@pytest.fixture(params=["python", "postgres"])
def engine(request, db):
    if request.param == "postgres":
        request.getfixturevalue("require_postgres")
    return request.param


@pytest.fixture
def members(pg_caisse):
    return [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(5)]


@pytest.fixture
def programs(program, pg_caisse):
    return [
        program,
        f.ProgramFactory(caisse_regionale=pg_caisse, code="carte-2", name="Livret Tookets"),
    ]


def rows_for(members, programs, *, prefix, count):
    """``count`` credits spread over every member and program, in no particular wallet order."""
    rows = []
    for n in range(count):
        member = members[(n * 3) % len(members)]
        program = programs[n % len(programs)]
        rows.append((member, program, f"2026-{n % 12 + 1:02d}", n % 97 + 1, f"{prefix}-{n:05d}"))
    return rows


def lines_of(rows):
    return [
        f"pyrenees-gascogne,{m.account_number},{p.code},{period},{amount},{ref}"
        for m, p, period, amount, ref in rows
    ]


def write(tmp_path, rows, name="credits.csv", extra=()):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines_of(rows), *extra]) + "\n", encoding="utf-8")
    return path


def balances():
    return {
        (w.member_id, w.program_id): w.balance
        for w in Wallet.objects.order_by("member_id", "program_id")
    }


def expected_balances(*row_sets):
    totals, seen = {}, set()
    for rows in row_sets:
        for m, p, _period, amount, ref in rows:
            if ref not in seen:
                seen.add(ref)
                totals[(m.pk, p.pk)] = totals.get((m.pk, p.pk), 0) + amount
    return totals


def test_a_fresh_file_gives_what_the_python_import_gives(engine, members, programs, tmp_path):
    rows = rows_for(members, programs, prefix="fresh", count=400)
    report = import_credits(path=write(tmp_path, rows), engine=engine)
    assert (report.rows, report.applied, report.already_applied, report.errors) == (
        400,
        400,
        0,
        [],
    )
    assert report.tookets_applied == sum(r[3] for r in rows)
    assert report.wallets_created == 10
    assert balances() == expected_balances(rows)
    assert LedgerEntry.objects.filter(kind="credit").count() == 400
    if engine == "postgres":
        assert FAST in report.timings and FALLBACK not in report.timings
    assert_ledger_consistent()


def test_reimport_and_overlapping_files_credit_each_reference_once(
    engine, members, programs, tmp_path
):
    first_rows = rows_for(members, programs, prefix="month", count=300)
    # The second file repeats the last 100 rows of the first and brings 150 new ones.
    second_rows = first_rows[200:] + rows_for(members, programs, prefix="next", count=150)
    first = import_credits(path=write(tmp_path, first_rows, "a.csv"), engine=engine)
    # force: the same file again is read again (else its hash says « déjà importé » at once).
    again = import_credits(path=write(tmp_path, first_rows, "a.csv"), engine=engine, force=True)
    second = import_credits(path=write(tmp_path, second_rows, "b.csv"), engine=engine)

    assert (first.applied, first.already_applied) == (300, 0)
    assert (again.applied, again.already_applied, again.tookets_applied) == (0, 300, 0)
    assert (second.applied, second.already_applied) == (150, 100)
    assert second.tookets_applied == sum(r[3] for r in second_rows[100:])
    assert again.wallets_created == second.wallets_created == 0
    assert balances() == expected_balances(first_rows, second_rows)
    assert LedgerEntry.objects.count() == 450
    if engine == "postgres":
        assert FALLBACK in again.timings and FALLBACK in second.timings
    assert_ledger_consistent()


def test_a_fresh_file_adds_to_the_wallets_it_finds_and_opens_the_others_with_their_total(
    engine, members, programs, tmp_path
):
    # The fast path creates a new wallet with its balance and adds to the others: both kinds
    # in one file, and a wallet that already holds Tookets from elsewhere.
    first_rows = rows_for(members[:2], programs[:1], prefix="first", count=20)
    import_credits(path=write(tmp_path, first_rows, "a.csv"), engine=engine)
    credit(members[2], programs[0], 11, reference="elsewhere-1")
    rows = rows_for(members, programs, prefix="second", count=90)
    report = import_credits(path=write(tmp_path, rows, "b.csv"), engine=engine)
    assert (report.applied, report.already_applied, report.wallets_created) == (90, 0, 7)
    expected = expected_balances(first_rows, rows)
    expected[(members[2].pk, programs[0].pk)] += 11
    assert balances() == expected
    if engine == "postgres":
        assert FAST in report.timings and FALLBACK not in report.timings
    assert_ledger_consistent()


def test_a_reference_already_used_elsewhere_in_the_ledger_is_not_credited_again(
    engine, members, programs, tmp_path
):
    # The same reference already on another wallet (another program): the row counts as
    # already applied, on both paths, and nothing else of the file is lost.
    credit(members[1], programs[1], 7, reference="taken-1")
    rows = [
        (members[0], programs[0], "2026-03", 40, "new-1"),
        (members[0], programs[0], "2026-03", 50, "taken-1"),
        (members[2], programs[0], "2026-03", 60, "new-2"),
    ]
    report = import_credits(path=write(tmp_path, rows), engine=engine)
    assert (report.applied, report.already_applied, report.tookets_applied) == (2, 1, 100)
    assert Wallet.objects.get(member=members[0], program=programs[0]).balance == 40
    assert Wallet.objects.get(member=members[1], program=programs[1]).balance == 7
    assert_ledger_consistent()


def test_bad_rows_are_reported_with_their_line_and_the_rest_takes_the_fast_path(
    engine, members, programs, tmp_path
):
    rows = rows_for(members, programs, prefix="mixed", count=50)
    path = write(
        tmp_path,
        rows,
        extra=[
            f"pyrenees-gascogne,{members[0].account_number},carte-2,2026-13,5,bad-period",
            "pyrenees-gascogne,123,carte-2,2026-01,5,bad-account",
        ],
    )
    report = import_credits(path=path, engine=engine)
    assert [line for line, _ in report.errors] == [52, 53]
    assert (report.rows, report.applied) == (52, 50)
    assert balances() == expected_balances(rows)
    if engine == "postgres":
        assert FAST in report.timings and UNDONE not in report.timings
    assert_ledger_consistent()


@pytest.mark.parametrize(
    "reference, first",
    [
        # of a good row (line 5)
        ("mixed-00003", 5),
        # of the refused row just before
        ("refused", 52),
        # of a good row (line 4) that a refused row repeated (line 52)
        ("mixed-00002", 4),
    ],
)
def test_a_duplicate_is_reported_with_the_first_line_of_its_reference(
    engine, members, programs, tmp_path, reference, first
):
    rows = rows_for(members, programs, prefix="mixed", count=50)
    m = members[0].account_number
    path = write(
        tmp_path,
        rows,
        extra=[
            f"pyrenees-gascogne,{m},carte-2,2026-13,5,{reference}",
            f"pyrenees-gascogne,{m},carte-2,2026-01,5,{reference}",
        ],
    )
    report = import_credits(path=path, engine=engine)
    assert report.errors == [
        (52, "période invalide (AAAA-MM attendu)"),
        (53, f"référence en double dans le fichier (déjà vue ligne {first})"),
    ]
    assert (report.rows, report.applied) == (52, 50)
    assert balances() == expected_balances(rows)
    assert_ledger_consistent()


def test_a_reference_twice_in_a_file_of_two_campaign_years_is_a_duplicate(
    engine, members, programs, pg_caisse, tmp_path
):
    # The ledger's unique index is per campaign year: the checker must see this one.
    next_year = f.ProgramFactory(
        caisse_regionale=pg_caisse, code="carte-next", year=programs[0].year + 1
    )
    ensure_ledger_partition(next_year.year)
    m = members[0].account_number
    path = write(
        tmp_path,
        [],
        extra=[
            f"pyrenees-gascogne,{m},{programs[0].code},2026-01,5,twice",
            f"pyrenees-gascogne,{m},carte-next,2026-01,5,twice",
        ],
    )
    report = import_credits(path=path, engine=engine)
    assert report.errors == [(3, "référence en double dans le fichier (déjà vue ligne 2)")]
    assert (report.rows, report.applied) == (2, 1)
    assert LedgerEntry.objects.filter(reference="twice").count() == 1
    assert_ledger_consistent()


def test_all_or_nothing_writes_nothing(engine, members, programs, tmp_path):
    rows = rows_for(members, programs, prefix="aon", count=20)
    path = write(tmp_path, rows, extra=["pyrenees-gascogne,123,carte-2,2026-01,5,bad-account"])
    report = import_credits(path=path, all_or_nothing=True, engine=engine)
    assert report.rejected and [line for line, _ in report.errors] == [22]
    assert not Wallet.objects.exists() and not LedgerEntry.objects.exists()


def test_all_or_nothing_reports_every_bad_row_after_the_first(engine, members, programs, tmp_path):
    # The first bad row comes early; the rest of the file, well past what the reader reads
    # ahead at once, is still checked and its bad rows reported.
    bad = "pyrenees-gascogne,123,carte-2,2026-01,5,bad-{}"
    rows = rows_for(members, programs, prefix="aon", count=3000)
    path = write(tmp_path, rows[:1], extra=[bad.format(1), *lines_of(rows[1:]), bad.format(2)])
    report = import_credits(path=path, all_or_nothing=True, engine=engine)
    assert report.rejected and [line for line, _ in report.errors] == [3, 3003]
    assert report.rows == 3002
    assert not Wallet.objects.exists() and not LedgerEntry.objects.exists()


def test_inside_a_callers_transaction_the_fallback_keeps_the_rest(
    require_postgres, members, programs, tmp_path
):
    rows = rows_for(members, programs, prefix="outer", count=30)
    path = write(tmp_path, rows)
    with transaction.atomic():
        first = import_credits(path=path)
        again = import_credits(path=path, force=True)
        assert Wallet.objects.filter(balance__gt=0).count() == 10
    assert (first.applied, again.applied, again.already_applied) == (30, 0, 30)
    assert balances() == expected_balances(rows)
    assert_ledger_consistent()


def test_the_postgres_import_runs_a_fixed_number_of_statements(
    require_postgres, members, programs, tmp_path
):
    # Set-based: the number of statements does not grow with the file (COPY is not counted);
    # recording the batch (hash lookup, insert, update, its bank) is four of them, the
    # savepoint around the session settings (temp_buffers may be refused) two, the savepoint
    # around the wallets' creation (a wallet created meanwhile: see postgres._create_wallets)
    # two, the ids of the file's banks (the validation reads only their members) one, and
    # once committed the statistics' check (the file's years, their partitions' row counts)
    # two, with an ANALYZE of the partition and of the wallets when the file outgrew them
    # (here both times: a fresh test database) two.
    small = write(tmp_path, rows_for(members, programs, prefix="s", count=5), "s.csv")
    large = write(tmp_path, rows_for(members, programs, prefix="l", count=2000), "l.csv")
    with CaptureQueriesContext(connection) as for_small:
        import_credits(path=small)
    with CaptureQueriesContext(connection) as for_large:
        import_credits(path=large)
    assert len(for_small) == len(for_large) <= 33


def test_the_schema_keeps_the_import_cheap(require_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = 'cagnotte_ledgerentry'::regclass AND a.attname = 'reference'"
        )
        assert cursor.fetchone()[0] == "C"
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'cagnotte_wallet'")
        assert "fillfactor=50" in cursor.fetchone()[0]
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'cagnotte_wallet' ORDER BY 1"
        )
        indexes = [row[0] for row in cursor.fetchall()]
    # The (member, program) unique index serves lookups by member: no single-column one.
    assert not any(d.endswith("(member_id)") for d in indexes), indexes


def test_a_session_whose_temp_buffers_are_fixed_still_imports(
    require_postgres, members, programs, tmp_path, monkeypatch
):
    # PostgreSQL fixes temp_buffers at a session's first temporary table: once one was used,
    # another size is refused, and the import goes on with the session's own (and its other
    # settings).
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE earlier_temp_table (x int) ON COMMIT DROP")
        cursor.execute("INSERT INTO earlier_temp_table VALUES (1)")
    monkeypatch.setattr(postgres, "PG_TEMP_BUFFERS", "7MB")  # not the session's size
    rows = rows_for(members, programs, prefix="t", count=30)
    with CaptureQueriesContext(connection) as queries:
        report = import_credits(path=write(tmp_path, rows))
    assert (report.applied, report.errors) == (30, [])
    assert balances() == expected_balances(rows)
    settings = [q["sql"] for q in queries if "set_config" in q["sql"]]
    assert len(settings) == 2 and "temp_buffers" not in settings[1], settings
    assert_ledger_consistent()
