"""Reads about wallets and what associations received."""

from dataclasses import dataclass

from django.utils import timezone

from cagnotte.models import AssociationTotals, AssociationYearTotals


@dataclass(frozen=True)
class AssociationFigures:
    supporters: int = 0
    first_year: int | None = None
    received_total: int = 0
    received_this_year: int = 0


def association_figures(
    *, association_ids, year: int | None = None
) -> dict[int, AssociationFigures]:
    """Figures for a page of association cards, in two queries whatever the page size.

    The summary tables are kept in step with the ledger inside each gift's transaction.
    """
    ids = list(association_ids)
    year = year or timezone.localdate().year
    totals = {t.association_id: t for t in AssociationTotals.objects.filter(association_id__in=ids)}
    this_year = dict(
        AssociationYearTotals.objects.filter(association_id__in=ids, year=year).values_list(
            "association_id", "received"
        )
    )
    result = {}
    for pk in ids:
        t = totals.get(pk)
        result[pk] = AssociationFigures(
            supporters=t.supporters if t else 0,
            first_year=t.first_year if t else None,
            received_total=t.received_total if t else 0,
            received_this_year=this_year.get(pk, 0),
        )
    return result
