"""Payouts: what the bank pays each association for a swept program, and the files it sends.

100 K = 1 € (one Tooket is one euro cent): amounts are integer cents, never floats.

A statement is computed once, after the sweep, from the ledger (gifts and sweeps of the
program's wallets, and the matching of its offers, per association) and frozen: its lines are never recomputed, and
``check_ledger`` fails if they ever differ from the ledger. Each line carries the IBAN the
bank's customer data gives for the association's account (``accounts.identity.ibans_of``),
checked with schwifty; a line without a valid IBAN stays in the statement, marked, and is
left out of the transfer file (listed apart, never dropped).

Exports are deterministic: the SEPA file's message, payment and end-to-end ids derive from
the program and the association, its dates from the statement, so a re-export is identical.
"""

from __future__ import annotations

import csv
import datetime
import io
import xml.etree.ElementTree as ET

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from schwifty import IBAN
from sepaxml import SepaTransfer

from accounts.iban import normalized_iban
from accounts.identity import ibans_of
from associations.models import Association
from cagnotte.campaigns import Program
from cagnotte.models import LedgerEntry, PayoutLine, PayoutStatement
from caisses.models import CaisseRegionale

SEPA_SCHEMA = "pain.001.001.03"
IBAN_MISSING = "IBAN manquant"
IBAN_INVALID = "IBAN invalide"


class PayoutError(Exception):
    """A payout step that cannot be taken (program not swept, wrong order of steps…)."""


def ledger_received(*, program_id: int) -> dict[int, tuple[int, int, int]]:
    """``{association_id: (gifts K, sweeps K, matching K)}`` from the ledger for one program
    (a matching entry has no wallet: it belongs to the program through its offer)."""
    rows = (
        LedgerEntry.objects.filter(
            Q(wallet__program_id=program_id) | Q(offer__program_id=program_id),
            kind__in=[LedgerEntry.Kind.GIFT, LedgerEntry.Kind.SWEEP, LedgerEntry.Kind.MATCHING],
        )
        .values("association_id")
        .annotate(
            gifts=Sum("amount", filter=Q(kind=LedgerEntry.Kind.GIFT), default=0),
            sweeps=Sum("amount", filter=Q(kind=LedgerEntry.Kind.SWEEP), default=0),
            matched=Sum("amount", filter=Q(kind=LedgerEntry.Kind.MATCHING), default=0),
        )
        .order_by()
    )
    return {
        r["association_id"]: (-int(r["gifts"]), -int(r["sweeps"]), -int(r["matched"])) for r in rows
    }


def _bic_for(iban: str, banks_by_code: dict[str, str]) -> str:
    parsed = IBAN(iban)
    bic = banks_by_code.get(parsed.bank_code)
    if bic:
        return bic
    found = parsed.bic
    return str(found) if found else ""


def compute_payout_statement(*, program: Program, actor=None) -> PayoutStatement:
    """The program's payout statement: computed on the first call, then returned as frozen."""
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program.pk)
        existing = PayoutStatement.objects.filter(program=program).first()
        if existing is not None:
            return existing
        if not program.is_swept:
            raise PayoutError(
                _("Le programme « %s » n’est pas encore soldé : pas d’état des versements.")
                % program
            )
        received = ledger_received(program_id=program.pk)
        associations = Association.objects.in_bulk(list(received))
        banks_by_code = dict(
            CaisseRegionale.objects.exclude(bank_code="").values_list("bank_code", "bic")
        )
        raw_ibans = {}
        by_caisse: dict[int, list[str]] = {}
        for a in associations.values():
            by_caisse.setdefault(a.caisse_regionale_id, []).append(a.account_number)
        for caisse_id, accounts in by_caisse.items():
            for account, iban in ibans_of(
                caisse_regionale_id=caisse_id, account_numbers=accounts
            ).items():
                raw_ibans[(caisse_id, account)] = iban
        statement = PayoutStatement.objects.create(program=program, computed_by=actor)
        lines = []
        for association_id, (gifts, sweeps, matched) in sorted(received.items()):
            if gifts + sweeps + matched <= 0:
                continue
            a = associations[association_id]
            raw = raw_ibans.get((a.caisse_regionale_id, a.account_number), "") or ""
            iban = normalized_iban(raw)
            if iban is None:
                problem, bic, iban = (IBAN_INVALID if raw.strip() else IBAN_MISSING), "", raw[:34]
            else:
                problem, bic = "", _bic_for(iban, banks_by_code)
            lines.append(
                PayoutLine(
                    statement=statement,
                    association_id=association_id,
                    gifts_k=gifts,
                    sweeps_k=sweeps,
                    matched_k=matched,
                    total_k=gifts + sweeps + matched,
                    amount_cents=gifts + sweeps + matched,  # 100 K = 1 €
                    iban=iban,
                    bic=bic,
                    iban_problem=problem,
                )
            )
        PayoutLine.objects.bulk_create(lines)
        total = sum(line.total_k for line in lines)
        PayoutStatement.objects.filter(pk=statement.pk).update(total_k=total, total_cents=total)
        statement.refresh_from_db()
        return statement


def _step(*, statement: PayoutStatement, frm: str, to: str, actor, at_field: str, by_field: str):
    now = timezone.now()
    changed = PayoutStatement.objects.filter(pk=statement.pk, status=frm).update(
        status=to, **{at_field: now, by_field: actor}
    )
    if changed != 1:
        statement.refresh_from_db()
        raise PayoutError(
            _("L’état des versements est « %(status)s » : cette étape n’est pas possible.")
            % {"status": statement.get_status_display()}
        )
    statement.refresh_from_db()
    return statement


def mark_statement_sent(*, statement: PayoutStatement, actor) -> PayoutStatement:
    return _step(
        statement=statement,
        frm=PayoutStatement.Status.COMPUTED,
        to=PayoutStatement.Status.SENT,
        actor=actor,
        at_field="sent_at",
        by_field="sent_by",
    )


def mark_statement_paid(*, statement: PayoutStatement, actor) -> PayoutStatement:
    return _step(
        statement=statement,
        frm=PayoutStatement.Status.SENT,
        to=PayoutStatement.Status.PAID,
        actor=actor,
        at_field="paid_at",
        by_field="paid_by",
    )


def _lines(statement: PayoutStatement):
    return statement.lines.select_related("association").order_by("association_id")


CSV_HEADER = [
    "association_id",
    "association",
    "compte",
    "dons_k",
    "soldes_k",
    "abondement_k",
    "total_k",
    "montant_eur",
    "iban",
    "bic",
    "a_verser",
    "probleme",
]


def export_csv(*, statement: PayoutStatement) -> bytes:
    """The statement as CSV (UTF-8, ``;`` for spreadsheets in French locales), one row per
    association; lines without a valid IBAN are present with « non » and the reason."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in _lines(statement):
        euros, cents = divmod(line.amount_cents, 100)
        writer.writerow(
            [
                line.association_id,
                line.association.name,
                line.association.account_number,
                line.gifts_k,
                line.sweeps_k,
                line.matched_k,
                line.total_k,
                f"{euros}.{cents:02d}",
                line.iban,
                line.bic,
                "non" if line.iban_problem else "oui",
                line.iban_problem,
            ]
        )
    return out.getvalue().encode("utf-8")


def end_to_end_id(*, program_id: int, association_id: int) -> str:
    return f"TOOKETS-{program_id}-{association_id}"[:35]


def execution_date(statement: PayoutStatement) -> datetime.date:
    """The requested execution date: the next working day after the statement was computed."""
    day = timezone.localtime(statement.computed_at).date() + datetime.timedelta(days=1)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


class _DeterministicTransfer(SepaTransfer):
    """sepaxml's transfer with the ids and creation time given, not random or "now"."""

    def __init__(self, config, *, msg_id: str, created: datetime.datetime, payment_info_id: str):
        super().__init__(config, schema=SEPA_SCHEMA, clean=True)
        self._payment_info_id = payment_info_id
        header = self._xml.find("CstmrCdtTrfInitn").find("GrpHdr")
        header.find("MsgId").text = msg_id
        header.find("CreDtTm").text = created.strftime("%Y-%m-%dT%H:%M:%S")

    def _finalize_batch(self):
        super()._finalize_batch()
        for node in self._xml.iter("PmtInfId"):
            node.text = self._payment_info_id


def export_sepa(*, statement: PayoutStatement) -> bytes:
    """A SEPA credit-transfer file (pain.001.001.03): one transaction per association with a
    valid IBAN, from the regional bank's payout account. Validated against the schema shipped
    with sepaxml before it is returned."""
    program = statement.program
    cr = program.caisse_regionale
    payable = [line for line in _lines(statement) if line.payable]
    if not payable:
        raise PayoutError(_("Aucune association de cet état n’a d’IBAN valide."))
    if not cr.payout_iban or normalized_iban(cr.payout_iban) is None:
        raise PayoutError(_("La caisse régionale n’a pas de compte payeur valide."))
    config = {
        "name": f"Credit Agricole {cr.name}",
        "IBAN": normalized_iban(cr.payout_iban),
        "BIC": cr.bic,
        "batch": True,
        "currency": "EUR",
    }
    transfer = _DeterministicTransfer(
        config,
        msg_id=f"TOOKETS-{program.pk}-{statement.pk}"[:35],
        created=timezone.localtime(statement.computed_at).replace(microsecond=0),
        payment_info_id=f"TOOKETS-{program.pk}"[:35],
    )
    when = execution_date(statement)
    for line in payable:
        payment = {
            "name": line.association.name,
            "IBAN": line.iban,
            "amount": line.amount_cents,
            "execution_date": when,
            "description": f"Tookets {program.name} {program.year}",
            "endtoend_id": end_to_end_id(program_id=program.pk, association_id=line.association_id),
        }
        if line.bic:
            payment["BIC"] = line.bic
        transfer.add_payment(payment)
    return transfer.export(validate=True)


def sepa_total_cents(xml: bytes) -> int:
    """The file's control sum in cents (for checks: it must equal the payable lines)."""
    root = ET.fromstring(xml)
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:{SEPA_SCHEMA}"}
    text = root.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", ns).text
    euros, _, cents = text.partition(".")
    return int(euros) * 100 + int((cents + "00")[:2])


def payable_total_cents(statement: PayoutStatement) -> int:
    return sum(line.amount_cents for line in statement.lines.all() if line.payable)


def statements_against_ledger() -> list[str]:
    """Every frozen statement compared with the ledger: lines and total (``check_ledger``)."""
    problems = []
    for statement in PayoutStatement.objects.select_related("program").order_by("pk"):
        ledger = ledger_received(program_id=statement.program_id)
        ledger = {a: g + s + m for a, (g, s, m) in ledger.items() if g + s + m > 0}
        lines = dict(statement.lines.values_list("association_id", "total_k"))
        for association_id in sorted(set(ledger) | set(lines)):
            if ledger.get(association_id, 0) != lines.get(association_id, 0):
                problems.append(
                    f"état des versements {statement.program.code}, association "
                    f"{association_id} : {lines.get(association_id, 0)} K à l’état, "
                    f"{ledger.get(association_id, 0)} K selon les mouvements"
                )
        if statement.total_k != sum(lines.values()):
            problems.append(
                f"état des versements {statement.program.code} : total {statement.total_k} K, "
                f"somme des lignes {sum(lines.values())} K"
            )
    return problems
