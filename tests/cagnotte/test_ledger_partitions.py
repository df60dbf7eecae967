"""The ledger partitioned by campaign year (PostgreSQL, migration 0012): every writer writes the
partition key, every ledger rule holds on each partition, partitions are made ahead of time,
a year without one is refused, ``check_ledger`` reports per year, and the migration converts
an existing ledger."""

import datetime
import json
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from cagnotte import sweep as sweep_module
from cagnotte.imports import import_credits
from cagnotte.ledger import LedgerYearMissing, _by_reference_query, entry_by_reference
from cagnotte.ledger_checks import check_ledger
from cagnotte.ledger_partitions import (
    ensure_ledger_partition,
    ledger_partition_years,
    partition_name,
)
from cagnotte.models import (
    CreditImportBatch,
    Favourite,
    LedgerEntry,
    MatchingOffer,
    ProjectGift,
    Wallet,
)
from cagnotte.services import credit_wallet, give_tookets, settle_wallet
from cagnotte.sweep import sweep_program
from cagnotte.tasks import ensure_ledger_year_partitions
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tookets.compiled import PLACEHOLDER

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TODAY = datetime.date.today()
# Years away from today's: a writer that took the current year instead of its program's would
# write into the wrong partition, and these tests would see it.
OPEN_YEAR, CLOSED_YEAR = 2041, 2040


def _sql(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _raw_program(caisse, year, code):
    """A program written without ``Program.save``, so without its partition."""
    return _sql(
        "INSERT INTO cagnotte_program (caisse_regionale_id, code, name, year, opens_on, "
        "closes_on, reminder_days_before) VALUES (%s, %s, 'Brut', %s, %s, %s, 21) RETURNING id",
        [caisse.pk, code, year, TODAY.replace(month=1, day=1), TODAY.replace(month=12, day=31)],
    )[0][0]


@pytest.fixture
def open_program(require_postgres, pg_caisse):
    # Open today, whatever its campaign year says.
    return f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="ouvert-2041",
        year=OPEN_YEAR,
        opens_on=TODAY.replace(month=1, day=1),
        closes_on=TODAY.replace(month=12, day=31),
    )


def test_a_program_saved_makes_its_partition_and_the_beat_job_makes_missing_ones(
    require_postgres, pg_caisse
):
    assert 2043 not in ledger_partition_years()
    f.ProgramFactory(caisse_regionale=pg_caisse, code="p-2043", year=2043)
    assert 2043 in ledger_partition_years()
    assert ensure_ledger_partition(2043) is False  # idempotent
    _raw_program(pg_caisse, 2044, "brut-2044")
    assert ensure_ledger_year_partitions() == [2044]
    assert {TODAY.year, TODAY.year + 1, 2043, 2044} <= set(ledger_partition_years())
    assert ensure_ledger_year_partitions() == []


def test_every_writer_writes_its_programs_year(
    open_program, pg_caisse, member, tmp_path, monkeypatch
):
    association = f.AssociationFactory(caisse_regionale=pg_caisse, name="Les Amis")
    f.EnrollmentFactory(association=association, program=open_program)
    credit(member, open_program, 1000)  # post_entry (credit_wallet)
    MatchingOffer.objects.create(
        program=open_program,
        name="Doublés",
        starts_on=open_program.opens_on,
        ends_on=open_program.closes_on,
        budget=1000,
    )
    gift = give_tookets(
        member=member, program=open_program, association_id=association.pk, amount=10, token="t1"
    )
    assert gift.matching.amount == 10
    for engine, rows in (("postgres", "r-pg"), ("python", "r-py")):
        path = tmp_path / f"{engine}.csv"
        path.write_text(
            "caisse_code,account_number,program_code,period,amount,reference\n"
            f"pyrenees-gascogne,{member.account_number},ouvert-2041,2041-01,5,{rows}\n",
            encoding="utf-8",
        )
        assert import_credits(path=path, engine=engine).applied == 1
    wallet = Wallet.objects.get(member=member, program=open_program)
    settle_wallet(wallet=wallet, to_favourite=False, reason="clôture")
    closed = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="clos-2040",
        year=CLOSED_YEAR,
        opens_on=datetime.date(2001, 1, 1),
        closes_on=datetime.date(2001, 12, 31),
    )
    # The member's favourite receives their balance at the sweep; the other's goes back.
    Favourite.objects.create(member=member, association=association)
    f.EnrollmentFactory(association=association, program=closed)
    other = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Paul")
    credit(member, closed, 7)
    credit(other, closed, 8)
    sweep_program(program=closed)  # the set-based SQL
    third = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="clos-2039",
        year=2039,
        opens_on=datetime.date(2001, 1, 1),
        closes_on=datetime.date(2001, 12, 31),
    )
    f.EnrollmentFactory(association=association, program=third)
    credit(member, third, 9)
    credit(other, third, 4)
    monkeypatch.setattr(sweep_module, "set_based", lambda: False)
    sweep_program(program=third)  # the Python engine (post_entry)
    kinds = set(LedgerEntry.objects.values_list("kind", "year").distinct())
    assert {
        ("credit", OPEN_YEAR),
        ("gift", OPEN_YEAR),
        ("matching", OPEN_YEAR),
        ("return", OPEN_YEAR),
        ("credit", CLOSED_YEAR),
        ("sweep", CLOSED_YEAR),
        ("return", CLOSED_YEAR),
        ("credit", 2039),
        ("sweep", 2039),
        ("return", 2039),
    } == kinds
    result = check_ledger()
    assert result.ok and not result.years
    assert [y.year for y in result.by_year] == [2039, CLOSED_YEAR, OPEN_YEAR]


def test_a_project_gift_records_its_entrys_year_and_an_orphan_is_refused(
    open_program, pg_caisse, member
):
    association = f.AssociationFactory(caisse_regionale=pg_caisse, name="Projets")
    f.EnrollmentFactory(association=association, program=open_program)
    credit(member, open_program, 100)
    gift = give_tookets(
        member=member, program=open_program, association_id=association.pk, amount=10, token="g"
    )
    project = f.ProjectFactory(association=association, program=open_program)
    # The key is composite: the right id with another year is an orphan.
    for entry_id, year in ((gift.pk, OPEN_YEAR + 1), (gift.pk + 10_000, OPEN_YEAR)):
        with pytest.raises(IntegrityError, match="project_gift_entry_fk"), transaction.atomic():
            ProjectGift.objects.create(
                entry_id=entry_id, entry_year=year, project=project, amount=10
            )
            _sql("SET CONSTRAINTS ALL IMMEDIATE")
    with transaction.atomic():
        ProjectGift.objects.create(entry=gift, entry_year=gift.year, project=project, amount=10)
        _sql("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_match_must_point_at_a_gift_of_its_own_year(open_program, pg_caisse, member):
    association = f.AssociationFactory(caisse_regionale=pg_caisse, name="Match")
    f.EnrollmentFactory(association=association, program=open_program)
    credit(member, open_program, 100)
    offer = MatchingOffer.objects.create(
        program=open_program,
        name="Doublés",
        starts_on=open_program.opens_on,
        ends_on=open_program.closes_on,
        budget=1000,
    )
    gift = give_tookets(
        member=member, program=open_program, association_id=association.pk, amount=10, token="m"
    )
    ensure_ledger_partition(OPEN_YEAR + 1)
    for matches_id, year in ((gift.pk, OPEN_YEAR + 1), (gift.pk + 10_000, OPEN_YEAR)):
        with pytest.raises(IntegrityError, match="entry_matches_gift_fk"), transaction.atomic():
            LedgerEntry.objects.create(
                kind="matching",
                amount=-1,
                reference=f"orphan-{matches_id}-{year}",
                association=association,
                offer=offer,
                matches_id=matches_id,
                year=year,
            )
            _sql("SET CONSTRAINTS ALL IMMEDIATE")
    # One match per gift, with the key.
    with pytest.raises(IntegrityError, match="match"), transaction.atomic():
        LedgerEntry.objects.create(
            kind="matching",
            amount=-1,
            reference="second-match",
            association=association,
            offer=offer,
            matches=gift,
            year=gift.year,
        )


def test_references_are_unique_within_a_year_and_writes_stay_idempotent(
    open_program, pg_caisse, member
):
    entry = credit(member, open_program, 10, reference="bank-ref-1")
    again = credit(member, open_program, 10, reference="bank-ref-1")
    assert again.pk == entry.pk
    assert Wallet.objects.get(member=member, program=open_program).balance == 10
    with pytest.raises(IntegrityError, match="reference_year"), transaction.atomic():
        _sql(
            "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, memo, "
            "created_at, year) VALUES (%s, 'credit', 5, 'bank-ref-1', '', '', now(), %s)",
            [entry.wallet_id, OPEN_YEAR],
        )
    # The same reference in another campaign year names another write.
    other_year = f.ProgramFactory(caisse_regionale=pg_caisse, code="autre", year=OPEN_YEAR + 1)
    other = credit(member, other_year, 3, reference="bank-ref-1")
    assert (other.pk != entry.pk, other.year) == (True, OPEN_YEAR + 1)
    assert_ledger_consistent()


def test_each_partition_keeps_every_check_and_the_append_only_trigger(
    open_program, member, other_member
):
    entry = credit(member, open_program, 50)
    partition = partition_name(OPEN_YEAR)
    checks = {
        table: {
            name
            for (name,) in _sql(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'",
                [table],
            )
        }
        for table in ("cagnotte_ledgerentry", partition)
    }
    assert checks["cagnotte_ledgerentry"] == checks[partition]
    assert {
        "entry_amount_not_zero",
        "entry_credit_positive",
        "entry_outflow_negative",
        "entry_gift_has_association",
        "entry_source_by_kind",
    } <= checks[partition]
    for bad in (
        "'credit', -1, NULL",  # credit positive, amount not zero
        "'gift', 5, NULL",  # outflow negative
        "'adjustment', 0, NULL",
    ):
        with pytest.raises(IntegrityError, match="entry_"), transaction.atomic():
            _sql(
                f"INSERT INTO {partition} (wallet_id, kind, amount, association_id, reference, "
                f"period, memo, created_at, year) VALUES (%s, {bad}, 'bad', '', '', now(), %s)",
                [entry.wallet_id, OPEN_YEAR],
            )
    for table in ("cagnotte_ledgerentry", partition):
        for sql, params in (
            (f"UPDATE {table} SET amount = 5000 WHERE id = %s", [entry.pk]),
            (f"UPDATE {table} SET memo = 'réécrit' WHERE id = %s", [entry.pk]),
            (f"UPDATE {table} SET created_by_id = %s WHERE id = %s", [other_member.pk, entry.pk]),
            (f"DELETE FROM {table} WHERE id = %s", [entry.pk]),
        ):
            with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
                _sql(sql, params)
    # The anonymisation goes through on a partition too.
    _sql(f"UPDATE {partition} SET created_by_id = NULL, memo = '' WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.amount == 50


def test_a_year_without_a_partition_is_refused_with_a_clear_error(
    require_postgres, pg_caisse, member, tmp_path, client
):
    program_id = _raw_program(pg_caisse, 2045, "sans-partition")
    assert 2045 not in ledger_partition_years()
    wallet = Wallet.objects.create(member=member, program_id=program_id)
    with pytest.raises(LedgerYearMissing, match="2045"):
        credit_wallet(
            member=member, program=wallet.program, amount=5, reference="x", period="2045-01"
        )
    path = tmp_path / "credits.csv"
    path.write_text(
        "caisse_code,account_number,program_code,period,amount,reference\n"
        f"pyrenees-gascogne,{member.account_number},sans-partition,2045-01,5,r1\n",
        encoding="utf-8",
    )
    for engine in ("postgres", "python"):
        with pytest.raises(LedgerYearMissing, match="2045"):
            import_credits(path=path, engine=engine, force=True)
        batch = CreditImportBatch.objects.latest("id")
        assert batch.status == CreditImportBatch.Status.FAILED
        assert "2045" in batch.report
    assert not LedgerEntry.objects.exists()
    wallet.refresh_from_db()
    assert wallet.balance == 0
    # The gift page says so in the form, without a 500 (a balance put there by hand: the
    # year's credits could not have been written).
    association = f.AssociationFactory(caisse_regionale=pg_caisse, name="Sans partition")
    f.EnrollmentFactory(association=association, program_id=program_id)
    Wallet.objects.filter(pk=wallet.pk).update(balance=5)
    client.force_login(member)
    url = reverse("cagnotte:give", args=[association.pk])
    token = re.search(r'name="token" value="([^"]+)"', client.get(url).content.decode())[1]
    response = client.post(url, {"wallet": wallet.pk, "amount": "1", "token": token})
    assert response.status_code == 200
    assert "pas encore ouvert pour l’année 2045" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_check_ledger_reports_per_year_and_finds_an_entry_in_the_wrong_year(
    open_program, pg_caisse, member
):
    credit(member, open_program, 30)
    earlier = f.ProgramFactory(caisse_regionale=pg_caisse, code="avant", year=2030)
    credit(member, earlier, 20)
    result = check_ledger()
    assert result.ok
    lines = {y.year: (y.entries, y.credited, y.balances) for y in result.by_year}
    assert lines == {2030: (1, 20, 20), OPEN_YEAR: (1, 30, 30)}
    wallet = Wallet.objects.get(member=member, program=earlier)
    _sql(
        "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, memo, "
        "created_at, year) VALUES (%s, 'adjustment', 4, 'wrong-year', '', '', now(), %s)",
        [wallet.pk, OPEN_YEAR],
    )
    _sql("UPDATE cagnotte_wallet SET balance = balance + 4 WHERE id = %s", [wallet.pk])
    result = check_ledger()
    assert not result.ok
    assert any(
        f"année {OPEN_YEAR}" in p and "pas celle de leur programme" in p for p in result.years
    )
    assert any(f"année {OPEN_YEAR}" in p and "conservation" in p for p in result.years)


# serialized_rollback: the flush after this test leaves the tables as the other transactional
# tests expect them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_converts_an_existing_ledger(require_postgres, pg_caisse):
    before = [("cagnotte", "0011_matching_offers")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        assert not _sql(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'cagnotte_ledgerentry'::regclass"
        )
        member = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Ancienne")
        rows = {}
        for year in (2024, 2025):
            program_id = _raw_program(pg_caisse, year, f"ancien-{year}")
            wallet_id = _sql(
                "INSERT INTO cagnotte_wallet (member_id, program_id, balance, created_at) "
                "VALUES (%s, %s, 100, now()) RETURNING id",
                [member.pk, program_id],
            )[0][0]
            rows[year] = _sql(
                "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, "
                "memo, created_at) VALUES (%s, 'credit', 100, %s, '', '', now()) RETURNING id",
                [wallet_id, f"ref-{year}"],
            )[0][0]
        last_id = max(rows.values())
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert _sql(
        "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'cagnotte_ledgerentry'::regclass"
    )
    assert {2024, 2025, TODAY.year, TODAY.year + 1} <= set(ledger_partition_years())
    assert (
        dict(LedgerEntry.objects.filter(reference__startswith="ref-").values_list("year", "id"))
        == rows
    )
    assert _sql(f"SELECT count(*) FROM {partition_name(2024)}") == [(1,)]
    # Ids continue after the old ones; the rules hold on the converted table.
    program = f.ProgramFactory(caisse_regionale=pg_caisse, code="apres", year=2025, name="Après")
    entry = credit(member, program, 5)
    assert entry.pk > last_id
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql("DELETE FROM cagnotte_ledgerentry WHERE id = %s", [rows[2024]])
    assert_ledger_consistent()


def test_the_year_of_a_program_with_wallets_is_fixed(open_program, member):
    credit(member, open_program, 5)
    with pytest.raises(IntegrityError, match="year of a program"), transaction.atomic():
        _sql("UPDATE cagnotte_program SET year = 2042 WHERE id = %s", [open_program.pk])
    # Its other fields still change; a program without wallets may change its year.
    _sql("UPDATE cagnotte_program SET name = 'Autre nom' WHERE id = %s", [open_program.pk])
    empty = f.ProgramFactory(caisse_regionale=open_program.caisse_regionale, code="vide")
    _sql("UPDATE cagnotte_program SET year = 2042 WHERE id = %s", [empty.pk])


def test_a_reference_is_read_by_its_index_whatever_the_statistics(
    require_postgres, member, program
):
    """Every gift asks whether its reference is in the ledger (a replay). A partition filled
    by imports and not analysed since (autovacuum behind, or off as on the benches' server)
    has no statistics for the planner: with ``ORDER BY id LIMIT 1`` it walked the primary key
    and filtered every row (1.55 s a gift on the national rehearsal's 18 M-entry partition).
    The statement reads the reference's unique index, at most a row per partition."""
    credit(member, program, 10)
    wallet = Wallet.objects.get(member=member, program=program)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, "
            "memo, created_at, year) SELECT %s, 'credit', 1, 'bulk-' || g, %s, '', now(), %s "
            "FROM generate_series(1, 50000) AS g",
            [wallet.pk, f"{program.year}-01", program.year],
        )
        statement = _by_reference_query(None)
        params = ["bulk-777" if p == PLACEHOLDER else p for p in statement.params]
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement.sql}", params)
        plan = json.dumps(cursor.fetchone()[0])
    scanned = set(re.findall(r'"Index Name": "([^"]+)"', plan))
    assert scanned and all("reference" in name for name in scanned), plan
    assert entry_by_reference("bulk-777").amount == 1
    assert entry_by_reference("bulk-777", year=program.year).reference == "bulk-777"
    assert entry_by_reference("nowhere") is None


def test_an_import_reads_again_the_statistics_of_a_partition_it_outgrew(
    require_postgres, member, open_program, tmp_path
):
    """A campaign year's partition filled by bulk writes and never analyzed (autovacuum
    behind, or off as on the benches' server): the planner reads it as if any wallet held
    0.5 % of its rows. On a million entries a member's history then scanned the whole
    partition (219 ms; 29 ms once analyzed: docs/scale.md, a scale this test does not build).
    An import that outgrows the partition's statistics reads them again."""
    from cagnotte.selectors import history_of

    table = partition_name(OPEN_YEAR)
    other = f.MemberFactory(caisse_regionale=member.caisse_regionale)
    credit(member, open_program, 10)
    credit(other, open_program, 10)
    bulk = Wallet.objects.get(member=other, program=open_program)
    _sql(
        "INSERT INTO cagnotte_ledgerentry (wallet_id, kind, amount, reference, period, memo, "
        "created_at, year) SELECT %s, 'credit', 1, 'bulk-' || g, %s, '', now(), %s "
        "FROM generate_series(1, 100000) AS g",
        [bulk.pk, f"{OPEN_YEAR}-01", OPEN_YEAR],
    )
    _sql("UPDATE cagnotte_wallet SET balance = balance + 100000 WHERE id = %s", [bulk.pk])
    assert _sql("SELECT reltuples FROM pg_class WHERE relname = %s", [table])[0][0] < 0

    path = tmp_path / "credits.csv"
    path.write_text(
        "caisse_code,account_number,program_code,period,amount,reference\n"
        + "".join(
            f"pyrenees-gascogne,{member.account_number},{open_program.code},{OPEN_YEAR}-02,5,"
            f"stats-{n}\n"
            for n in range(3)
        )
    )
    assert import_credits(path=path).applied == 3
    counted = _sql("SELECT reltuples FROM pg_class WHERE relname = %s", [table])[0][0]
    assert counted > 100000
    assert _sql("SELECT count(*) FROM pg_stats WHERE tablename = %s", [table])[0][0] > 0
    assert [e.reference for e in history_of(member)[:3]] == ["stats-2", "stats-1", "stats-0"]

    # Three rows more are far from a tenth of the partition: not read again.
    path.write_text(path.read_text().replace("stats-", "again-"))
    assert import_credits(path=path).applied == 3
    assert _sql("SELECT reltuples FROM pg_class WHERE relname = %s", [table])[0][0] == counted
    assert_ledger_consistent()


def test_statistics_are_read_again_only_when_outgrown(require_postgres, open_program):
    from cagnotte.ledger_partitions import analyze_after_bulk_write

    table = partition_name(OPEN_YEAR)
    # Never analyzed: any write reads them; nothing written, nothing to read.
    assert analyze_after_bulk_write({table: 0}) == []
    assert analyze_after_bulk_write({table: 1}) == [table]
    wallets = Wallet._meta.db_table
    _sql(f"ANALYZE {wallets}")
    counted = _sql("SELECT reltuples FROM pg_class WHERE relname = %s", [wallets])[0][0]
    assert analyze_after_bulk_write({wallets: int(counted * 0.1)}) == []
    assert analyze_after_bulk_write({wallets: int(counted * 0.1) + 1}) == [wallets]
