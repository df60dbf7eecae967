"""Reads about a member's account: « Télécharger mes données », the closure page."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from django.utils import timezone

from accounts.models import MemberEmail, User
from cagnotte.models import Favourite, LedgerEntry, Wallet
from cagnotte.selectors import favourite_can_receive

MOVEMENT_COLUMNS = [
    "date",
    "programme",
    "type",
    "montant_k",
    "association",
    "periode",
    "reference",
]
WALLET_COLUMNS = ["programme", "code_programme", "annee", "solde_k", "creee_le"]


def _iso(value):
    return value.isoformat() if value else None


def member_data(member: User) -> dict:
    """Everything Tookets holds about one member (their own rows only)."""
    favourite = Favourite.objects.select_related("association").filter(member=member).first()
    wallets = Wallet.objects.filter(member=member).select_related("program").order_by("pk")
    movements = (
        LedgerEntry.objects.filter(wallet__member=member)
        .select_related("wallet__program", "association")
        .order_by("created_at", "pk")
    )
    return {
        "exporte_le": _iso(timezone.now()),
        "identite": {
            "caisse_regionale": member.caisse_regionale.name if member.caisse_regionale else None,
            "caisse_locale": member.caisse_locale.name if member.caisse_locale else None,
            "identifiant": member.account_number,
            "nom": member.display_name,
            "prenom": member.first_name,
            "nom_de_famille": member.last_name,
            "email": member.email,
            "societaire": member.is_societaire,
            "inscrit_le": _iso(member.date_joined),
            "derniere_connexion": _iso(member.last_login),
        },
        "emails": {
            "accepte_les_emails_recapitulatifs": member.recap_emails,
            "choix_modifie_le": _iso(member.recap_changed_at),
            "envoyes": [
                {"type": e.kind, "periode": e.period, "envoye_le": _iso(e.sent_at)}
                for e in MemberEmail.objects.filter(member=member).order_by("claimed_at", "pk")
            ],
        },
        "association_favorite": (
            {"nom": favourite.association.name, "choisie_le": _iso(favourite.updated_at)}
            if favourite
            else None
        ),
        "cagnottes": [
            {
                "programme": w.program.name,
                "code_programme": w.program.code,
                "annee": w.program.year,
                "solde_k": w.balance,
                "creee_le": _iso(w.created_at),
            }
            for w in wallets
        ],
        "mouvements": [
            {
                "date": _iso(e.created_at),
                "programme": e.wallet.program.name,
                "type": e.kind,
                "montant_k": e.amount,
                "association": e.association.name if e.association else None,
                "periode": e.period,
                "reference": e.reference,
            }
            for e in movements
        ],
    }


def _csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def member_data_zip(member: User) -> bytes:
    """« Télécharger mes données »: ``donnees.json`` plus the wallets and movements as CSV."""
    data = member_data(member)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "donnees.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
        )
        archive.writestr("cagnottes.csv", _csv(data["cagnottes"], WALLET_COLUMNS))
        archive.writestr("mouvements.csv", _csv(data["mouvements"], MOVEMENT_COLUMNS))
    return buffer.getvalue()


def closure_wallets(member: User) -> list[dict]:
    """Each wallet with a balance and whether the favourite can receive it now."""
    rows = []
    for wallet in (
        Wallet.objects.filter(member=member, balance__gt=0)
        .select_related("program")
        .order_by("-program__year", "program__name", "pk")
    ):
        rows.append(
            {
                "wallet": wallet,
                "receiver": favourite_can_receive(member=member, program=wallet.program),
            }
        )
    return rows
