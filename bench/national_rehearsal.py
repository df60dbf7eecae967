"""A national bank's year, rehearsed: one large regional bank from its members to its SEPA file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/national_rehearsal.py --members 1500000

Drops and creates its own database (``--database``, default ``tookets_rehearsal``, on the
server of ``DATABASE_URL``), migrates it, then plays one campaign year of Pyrénées Gascogne at
national size, timing each step:

1. the bank's members (``--members``, bulk SQL) and ``--associations`` eligible associations,
   each with an IBAN in the bank's customer data; half the members choose a favourite;
2. the program of this campaign year;
3. twelve monthly credit files of one credit per member (``--months``), each written to disk
   and imported in turn through ``import_credits`` (the operators' command's code);
4. ``--gifts`` gifts through ``give_tookets`` (the member's « VALIDER LA DEMANDE »);
5. the close (the campaign's last day passes), the year-end sweep (``sweep_program``);
6. the payout statement, its SEPA file (schema-validated, control sum checked);
7. ``check_ledger`` over every partition;

and prints each step's time and the database's size, per ledger partition and in all. It
refuses to start on a busy machine (``--force`` runs anyway). One run, not a ratio: the
figures say how long a national bank's year takes on this machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

CAISSE = "pyrenees-gascogne"
FIRST_ACCOUNT = 93_000_000_000
FIRST_ASSOCIATION = 92_000_000_000


class Steps:
    """Each step's wall time, printed as it ends."""

    def __init__(self, out=print):
        self.out = out
        self.seconds: dict[str, float] = {}

    def __call__(self, label: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[label] = time.perf_counter() - start
        self.out(f"{label}: {self.seconds[label]:.1f} s")
        return result


def build_bank(cursor, *, members: int, associations: int) -> int:
    """Members, associations (validated, with an IBAN) and half the members' favourites."""
    from schwifty import IBAN

    cursor.execute("SELECT id, bank_code FROM caisses_caisseregionale WHERE code = %s", [CAISSE])
    caisse_id, bank_code = cursor.fetchone()
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,
            email, is_staff, is_active, date_joined, kind, caisse_regionale_id, account_number,
            display_name, is_societaire, recap_emails, closed_identifier)
        SELECT '!', false, %(caisse)s || ':' || (%(first)s + n)::text, '', '', '', false, true,
            now(), 'member', %(caisse_id)s, (%(first)s + n)::text, 'Sociétaire ' || n,
            true, false, ''
        FROM generate_series(0, %(count)s - 1) AS n
        """,
        {"caisse": CAISSE, "first": FIRST_ACCOUNT, "count": members, "caisse_id": caisse_id},
    )
    cursor.execute(
        """
        INSERT INTO associations_association (caisse_regionale_id, account_number, name,
            search_name, presentation, address, postal_code, city, website, email, phone, logo,
            president_name, president_email, status, created_at, updated_at)
        SELECT %(caisse_id)s, (%(first)s + n)::text, 'Association ' || n,
            'association ' || n, '', '', '32000', 'Auch', '', '', '', '', '', '', 'validated',
            now(), now()
        FROM generate_series(1, %(n)s) AS n
        """,
        {"caisse_id": caisse_id, "first": FIRST_ASSOCIATION, "n": associations},
    )
    from accounts.models import BankCustomer

    BankCustomer.objects.bulk_create(
        BankCustomer(
            caisse_regionale_id=caisse_id,
            account_number=str(FIRST_ASSOCIATION + n),
            kind=BankCustomer.Kind.ASSOCIATION,
            name=f"Association {n}",
            iban=str(
                IBAN.generate(
                    "FR", bank_code=bank_code, branch_code="00002", account_code=f"{n:011d}"
                )
            ),
        )
        for n in range(1, associations + 1)
    )
    return caisse_id


def enroll_and_favourites(cursor, *, program_id: int) -> None:
    cursor.execute(
        "INSERT INTO associations_enrollment (association_id, program_id, enrolled_at) "
        "SELECT id, %s, now() FROM associations_association WHERE account_number::bigint >= %s",
        [program_id, FIRST_ASSOCIATION],
    )
    cursor.execute(
        """
        WITH a AS (
            SELECT array_agg(id ORDER BY id) AS ids FROM associations_association
            WHERE account_number::bigint >= %(first)s
        )
        INSERT INTO cagnotte_favourite (member_id, association_id, updated_at)
        SELECT u.id, a.ids[1 + (u.id %% array_length(a.ids, 1))], now()
        FROM accounts_user u, a
        WHERE u.kind = 'member' AND u.id %% 2 = 0 AND u.account_number::bigint >= %(members)s
        """,
        {"first": FIRST_ASSOCIATION, "members": FIRST_ACCOUNT},
    )


def write_month(path: Path, *, members: int, code: str, period: str, run: str) -> None:
    from cagnotte.imports import HEADER

    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        chunk = []
        for n in range(members):
            chunk.append(
                f"{CAISSE},{FIRST_ACCOUNT + n},{code},{period},{n % 300 + 1},{run}-{period}-{n}\n"
            )
            if len(chunk) == 100_000:
                out.writelines(chunk)
                chunk.clear()
        out.writelines(chunk)


def give(*, program, gifts: int) -> int:
    from accounts.models import User
    from associations.models import Association
    from cagnotte.services import give_tookets

    association_ids = list(
        Association.objects.filter(enrollments__program=program).values_list("pk", flat=True)
    )
    givers = User.objects.filter(wallets__program=program, wallets__balance__gte=100).order_by(
        "pk"
    )[:gifts]
    given = 0
    for n, member in enumerate(givers):
        give_tookets(
            member=member,
            association_id=association_ids[n % len(association_ids)],
            amount=100,
            token=uuid.uuid4().hex,
            program=program,
            receipt=False,
        )
        given += 1
    return given


def sizes(cursor) -> list[tuple[str, int]]:
    """The ledger's size per partition (table, indexes, TOAST), then the database's."""
    cursor.execute(
        """
        SELECT c.relname, pg_total_relation_size(c.oid)
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'cagnotte_ledgerentry'::regclass
        ORDER BY c.relname
        """
    )
    rows = cursor.fetchall()
    if not rows:  # a plain table
        cursor.execute("SELECT pg_total_relation_size('cagnotte_ledgerentry')")
        rows = [("cagnotte_ledgerentry (one table)", cursor.fetchone()[0])]
    cursor.execute("SELECT pg_database_size(current_database())")
    return rows + [("database, in all", cursor.fetchone()[0])]


def rehearse(
    *, members: int, months: int = 12, gifts: int = 2000, associations: int = 400, out=print
) -> dict:
    """Play the year on the current database (migrated, with the regional banks); return the
    figures: each step's seconds, the sweep's outcome, the statement and the ledger check."""
    from django.db import connection, transaction

    from cagnotte.campaigns import Program
    from cagnotte.imports import import_credits
    from cagnotte.ledger_checks import check_ledger
    from cagnotte.payouts import (
        compute_payout_statement,
        export_sepa,
        payable_total_cents,
        sepa_total_cents,
    )
    from cagnotte.sweep import sweep_program
    from caisses.models import CaisseRegionale

    step = Steps(out)
    today = datetime.date.today()
    with transaction.atomic(), connection.cursor() as cursor:
        step(
            "members and associations",
            build_bank,
            cursor,
            members=members,
            associations=associations,
        )
    program = step(
        "program opened",
        Program.objects.create,
        caisse_regionale=CaisseRegionale.objects.get(code=CAISSE),
        code=f"repetition-{today.year}",
        name="Répétition nationale",
        year=today.year,
        opens_on=datetime.date(today.year, 1, 1),
        closes_on=datetime.date(today.year, 12, 31),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        step("eligibility and favourites", enroll_and_favourites, cursor, program_id=program.pk)
        cursor.execute("ANALYZE")
    run = uuid.uuid4().hex[:6]
    imported = 0
    with tempfile.TemporaryDirectory() as tmp:
        for month in range(1, months + 1):
            period = f"{today.year}-{month:02d}"
            path = Path(tmp) / f"credits-{period}.csv"
            step(
                f"file {period} written",
                write_month,
                path,
                members=members,
                code=program.code,
                period=period,
                run=run,
            )
            report = step(f"file {period} imported", import_credits, path=path)
            assert report.applied == members and not report.errors, report.summary()
            imported += report.applied
            path.unlink()
    given = step(f"{gifts} gifts", give, program=program, gifts=gifts)
    yesterday = today - datetime.timedelta(days=1)
    step(
        "the close",
        lambda: Program.objects.filter(pk=program.pk).update(
            opens_on=min(program.opens_on, yesterday), closes_on=yesterday
        ),
    )
    outcome = step("sweep", sweep_program, program=program, run_by_label="rehearsal")
    statement = step("payout statement", compute_payout_statement, program=program)
    sepa = step("SEPA file", export_sepa, statement=statement)
    assert sepa_total_cents(sepa) == payable_total_cents(statement)
    check = step("check_ledger", check_ledger)
    with connection.cursor() as cursor:
        on_disk = sizes(cursor)
    return {
        "seconds": step.seconds,
        "credits": imported,
        "gifts": given,
        "swept": outcome.swept,
        "sweep": outcome.figures,
        "statement_lines": statement.lines.count(),
        "sepa_cents": sepa_total_cents(sepa),
        "ledger_ok": check.ok,
        "check": check,
        "sizes": on_disk,
    }


def fresh_database(url: str, name: str) -> str:
    """Drop and create ``name`` on the server of ``url``; the new database's URL."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> None:
    from runs import add_run_arguments, require_quiet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--gifts", type=int, default=2000)
    parser.add_argument("--associations", type=int, default=400)
    parser.add_argument("--database", default="tookets_rehearsal")
    add_run_arguments(parser, runs=1)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("PostgreSQL only: set DATABASE_URL=postgres://… (its server is used)")
    require_quiet(args)
    os.environ["DATABASE_URL"] = fresh_database(url, args.database)

    import django

    django.setup()
    from django.core.management import call_command

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - start:.1f} s")
    figures = rehearse(
        members=args.members, months=args.months, gifts=args.gifts, associations=args.associations
    )
    total = sum(figures["seconds"].values())
    print(
        f"\n{args.members} members, {figures['credits']} credits in {args.months} files, "
        f"{figures['gifts']} gifts; sweep: {figures['sweep'].wallets} wallets, "
        f"{figures['sweep'].to_favourites} K to favourites, {figures['sweep'].returned} K "
        f"returned; statement: {figures['statement_lines']} lines, SEPA "
        f"{figures['sepa_cents'] / 100:.2f} €; check_ledger: "
        f"{'ok' if figures['ledger_ok'] else 'FAILED'}"
    )
    imports = [s for label, s in figures["seconds"].items() if label.endswith("imported")]
    if imports:
        print(
            f"imports: {sum(imports):.1f} s in all, {min(imports):.1f}–{max(imports):.1f} s a file"
        )
    print(f"the year, all steps: {total / 60:.1f} min")
    for name, size in figures["sizes"]:
        print(f"  {name}: {size / 2**30:.2f} GiB")
    if not figures["ledger_ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
