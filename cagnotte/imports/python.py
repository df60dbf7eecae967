"""The Python engine (SQLite in development, and the reference the PostgreSQL engine is tested
against): the same reader's records, checked by the same rule list, written in batches inside
one transaction, in the order the PostgreSQL engine writes: wallets created, locked in id
order, their totals checked, then the entries and the balances."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import F

from accounts.models import User
from cagnotte.imports import rules
from cagnotte.imports.reader import Reader
from cagnotte.imports.report import ImportReport, progress_bar
from cagnotte.ledger import entry_time, locked_wallets, partition_guard
from cagnotte.models import LedgerEntry, Program, Wallet
from caisses.models import CaisseRegionale

BATCH = 5000
LOOKUP_BATCH = 500


def _checked_rows(reader: Reader, progress: bool) -> list[rules.CheckedRow]:
    bar = progress_bar(None, progress, "Lecture", unit="lignes")
    rows = []
    for line, error, fields, _plain in reader:
        if fields is None:
            rows.append(rules.CheckedRow(line, error))
        else:
            rows.append(rules.CheckedRow.of(line, fields))
        bar.update(1)
    bar.close()
    return rows


def _resolve(rows: list[rules.CheckedRow]) -> None:
    """Fill in what each row's codes name: its bank, member, program, and the first line of a
    reference that occurs twice (lookups in batches, not one query per row)."""
    caisses = dict(CaisseRegionale.objects.values_list("code", "id"))
    programs = {
        code: (pk, cr)
        for code, pk, cr in Program.objects.values_list("code", "id", "caisse_regionale_id")
    }
    wanted: dict[int, set[str]] = {}
    first_line: dict[str, int] = {}
    seen_twice: set[str] = set()
    for r in rows:
        if r.read_error is not None:
            continue
        r.caisse_id = caisses.get(r.caisse_code)
        if r.caisse_id is not None:
            wanted.setdefault(r.caisse_id, set()).add(r.account_number)
        program = programs.get(r.program_code)
        if program is not None:
            r.program_id, r.program_caisse_id = program
        if r.reference in first_line:
            seen_twice.add(r.reference)
        else:
            first_line[r.reference] = r.line
    members = {}
    for cr_id, accounts in wanted.items():
        accounts = sorted(accounts)
        for i in range(0, len(accounts), LOOKUP_BATCH):
            found = User.objects.filter(
                kind=User.Kind.MEMBER,
                caisse_regionale_id=cr_id,
                account_number__in=accounts[i : i + LOOKUP_BATCH],
            ).values_list("account_number", "id")
            for account, pk in found:
                members[(cr_id, account)] = pk
    for r in rows:
        if r.read_error is None:
            r.member_id = members.get((r.caisse_id, r.account_number))
            if r.reference in seen_twice:
                r.first_line = first_line[r.reference]


def import_python(reader: Reader, report: ImportReport, *, progress: bool) -> None:
    rows = _checked_rows(reader, progress)
    report.rows = reader.rows
    _resolve(rows)
    ceiling = rules.amount_ceiling()
    errors: dict[int, str] = {}
    good: list[rules.CheckedRow] = []
    for r in rows:
        reason = rules.first_broken(r, ceiling)
        if reason is None:
            good.append(r)
        else:
            errors[r.line] = reason
    if report.all_or_nothing and errors:
        report.errors = sorted(errors.items())
        return
    totals = Counter()
    for r in good:
        totals[(r.member_id, r.program_id)] += int(r.amount)
    with transaction.atomic():
        keys = sorted(k for k, total in totals.items() if total <= rules.BALANCE_MAX)
        before = Wallet.objects.count()
        for i in range(0, len(keys), BATCH):
            Wallet.objects.bulk_create(
                [Wallet(member_id=m, program_id=p) for m, p in keys[i : i + BATCH]],
                ignore_conflicts=True,
            )
        report.wallets_created = Wallet.objects.count() - before
        wallets = _lock_wallets(set(totals))
        too_large = {
            key
            for key, total in totals.items()
            if rules.wallet_total_too_large(
                balance=wallets[key][1] if key in wallets else 0, total=total
            )
        }
        if too_large:
            reason = rules.wallet_total_message()
            for r in good:
                if (r.member_id, r.program_id) in too_large:
                    errors[r.line] = reason
            good = [r for r in good if (r.member_id, r.program_id) not in too_large]
        report.errors = sorted(errors.items())
        if report.rejected:
            transaction.set_rollback(True)  # undoes the wallets created above
            return
        _write_entries(good, wallets, report, progress)


def _lock_wallets(keys: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
    """Lock the wallets of ``keys`` in id order; (member, program) -> (wallet id, balance).

    Their ids are read first (no lock), then locked in ascending ranges of ids: the order
    across batches is the id order every writer of several wallets keeps. A batch job: it
    waits for each wallet as long as it takes.
    """
    member_ids = sorted({m for m, _ in keys})
    ids = []
    for i in range(0, len(member_ids), LOOKUP_BATCH):
        for member_id, program_id, pk in Wallet.objects.filter(
            member_id__in=member_ids[i : i + LOOKUP_BATCH]
        ).values_list("member_id", "program_id", "pk"):
            if (member_id, program_id) in keys:
                ids.append(pk)
    ids.sort()
    found = {}
    for i in range(0, len(ids), LOOKUP_BATCH):
        batch = Wallet.objects.filter(pk__in=ids[i : i + LOOKUP_BATCH])
        rows = batch.values_list("member_id", "program_id", "pk", "balance")
        with locked_wallets(rows, wait=None) as locked:
            for member_id, program_id, pk, balance in locked:
                found[(member_id, program_id)] = (pk, balance)
    return found


def _write_entries(good, wallets, report: ImportReport, progress: bool) -> None:
    bar = progress_bar(len(good), progress, "Application", unit="lignes")
    now = entry_time()
    years = dict(Program.objects.values_list("pk", "year"))
    per_wallet = Counter()
    for start in range(0, len(good), BATCH):
        batch = good[start : start + BATCH]
        # References are unique per campaign year (the ledger's partition key).
        known = set(
            LedgerEntry.objects.filter(reference__in=[r.reference for r in batch]).values_list(
                "reference", "year"
            )
        )
        entries = [
            LedgerEntry(
                wallet_id=wallets[(r.member_id, r.program_id)][0],
                kind=LedgerEntry.Kind.CREDIT,
                amount=int(r.amount),
                reference=r.reference,
                period=r.period,
                created_at=now,
                year=years[r.program_id],
            )
            for r in batch
            if (r.reference, years[r.program_id]) not in known
        ]
        with partition_guard():
            LedgerEntry.objects.bulk_create(entries)
        for e in entries:
            per_wallet[e.wallet_id] += e.amount
        report.applied += len(entries)
        report.already_applied += len(batch) - len(entries)
        report.tookets_applied += sum(e.amount for e in entries)
        bar.update(len(batch))
    for wallet_id in sorted(per_wallet):
        Wallet.objects.filter(pk=wallet_id).update(balance=F("balance") + per_wallet[wallet_id])
    bar.close()
