"""The staff home: what waits for a bank's Tookets service, on the admin's index page.

Each line counts the rows of one admin list, with the same scope (``caisses.staff``) and the
same filter as the list it links to, so the home's counts are the lists' counts: files
awaiting a decision (and the oldest's days), corrections awaiting the association, campaigns
closed and not swept yet, statements to export (and send) or to mark paid, and the last
credit import with its counts and errors.
"""

from dataclasses import dataclass

from django.contrib import admin
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from associations.models import Association
from cagnotte.campaigns import Program
from cagnotte.models import CreditImportBatch, PayoutStatement
from caisses.staff import is_bank_staff, scope_to_staff

# The campaign list's filter of the closed campaigns waiting for their sweep
# (``cagnotte.admin.CampaignStateFilter``).
CAMPAIGN_STATE_PARAM = "etat"
CLOSED_WAITING = "close"


@dataclass
class Waiting:
    key: str
    label: str
    count: int
    url: str
    detail: str = ""


def waiting_for(user) -> list[Waiting]:
    """What waits for this staff member, in their scope (five small queries)."""
    if not is_bank_staff(user):
        return []
    associations = reverse("admin:associations_association_changelist")
    files = (
        scope_to_staff(Association.objects.all(), user)
        .filter(status__in=[Association.Status.SUBMITTED, Association.Status.CORRECTION_REQUESTED])
        .values("status")
        .annotate(n=Count("pk"), oldest=Min("submitted_at"))
    )
    by_status = {row["status"]: row for row in files}
    submitted = by_status.get(Association.Status.SUBMITTED, {"n": 0, "oldest": None})
    detail = ""
    if submitted["oldest"] is not None:
        days = (timezone.now() - submitted["oldest"]).days
        # ngettext's plural rule for a source without a catalog entry takes 0 as plural.
        detail = (
            _("la plus ancienne est arrivée aujourd’hui")
            if days == 0
            else ngettext(
                "la plus ancienne attend depuis %(days)s jour",
                "la plus ancienne attend depuis %(days)s jours",
                days,
            )
            % {"days": days}
        )
    statements = dict(
        scope_to_staff(PayoutStatement.objects.all(), user, caisse_path="program__caisse_regionale")
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    statement_list = reverse("admin:cagnotte_payoutstatement_changelist")
    lines = [
        Waiting(
            "submitted",
            _("Dossiers à vérifier"),
            submitted["n"],
            f"{associations}?status__exact={Association.Status.SUBMITTED}",
            detail,
        ),
        Waiting(
            "correction",
            _("Corrections attendues des associations"),
            by_status.get(Association.Status.CORRECTION_REQUESTED, {"n": 0})["n"],
            f"{associations}?status__exact={Association.Status.CORRECTION_REQUESTED}",
        ),
        Waiting(
            "sweep",
            _("Campagnes closes en attente du soldage"),
            scope_to_staff(Program.objects.sweepable_on(), user).count(),
            f"{reverse('admin:cagnotte_program_changelist')}"
            f"?{CAMPAIGN_STATE_PARAM}={CLOSED_WAITING}",
        ),
        Waiting(
            "export",
            _("États des versements à exporter et envoyer"),
            statements.get(PayoutStatement.Status.COMPUTED, 0),
            f"{statement_list}?status__exact={PayoutStatement.Status.COMPUTED}",
        ),
        Waiting(
            "paid",
            _("États des versements envoyés, à marquer payés"),
            statements.get(PayoutStatement.Status.SENT, 0),
            f"{statement_list}?status__exact={PayoutStatement.Status.SENT}",
        ),
    ]
    batch = scope_to_staff(CreditImportBatch.objects.all(), user).order_by("-started_at", "-id")
    last = batch.first()
    if last is not None:
        lines.append(
            Waiting(
                "import",
                _("Dernier import de crédits"),
                last.error_count,
                reverse("admin:cagnotte_creditimportbatch_change", args=[last.pk]),
                _(
                    "%(file)s du %(date)s : %(applied)s crédits appliqués, %(errors)s lignes en erreur"
                )
                % {
                    "file": last.file_name,
                    "date": timezone.localtime(last.started_at).strftime("%d/%m/%Y"),
                    "applied": last.applied,
                    "errors": last.error_count,
                },
            )
        )
    return lines


def staff_home(request, extra_context=None):
    """The admin's index with what waits for this staff member above the app list."""
    return admin.site.index(
        request, extra_context={**(extra_context or {}), "waiting": waiting_for(request.user)}
    )
