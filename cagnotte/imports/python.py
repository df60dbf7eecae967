"""The Python engine (SQLite in development, and the reference the PostgreSQL engine is tested
against): the same reader's records, checked by the same checker, written in batches with
the ORM inside one transaction: wallets created, locked in id order, their totals checked,
then the entries and the balances."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import F

from cagnotte.imports import rules
from cagnotte.imports.checker import Checker
from cagnotte.imports.reader import Reader
from cagnotte.imports.report import ImportReport, progress_bar
from cagnotte.ledger import entry_time, locked_wallets, partition_guard
from cagnotte.models import LedgerEntry, Wallet

BATCH = 5000
LOOKUP_BATCH = 500


def import_python(reader: Reader, report: ImportReport, *, progress: bool) -> None:
    check = Checker(rules.amount_ceiling()).check
    errors: dict[int, str] = {}
    good: list[rules.CheckedRow] = []
    bar = progress_bar(None, progress, "Lecture", unit="lignes")
    for record in reader:
        row, reason = check(record)
        if reason is None:
            good.append(row)
        else:
            errors[row.line] = reason
        bar.update(1)
    bar.close()
    report.rows = reader.rows
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
                year=r.program_year,
            )
            for r in batch
            if (r.reference, r.program_year) not in known
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
