"""Server-rendered SVG bar charts for the staff dashboard (no JavaScript, no library).

Each chart is drawn by ``templates/admin/associations/_bar_chart.html`` from the rows built
here, with its figures written beside the bars and a data table under it: readable without
colour, by a screen reader (the table) and when the SVG is not shown at all.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import F, QuerySet, Sum
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.translation import gettext as _

from cagnotte.models import AssociationMonthTotals
from tookets.money import format_tookets

ROW_HEIGHT = 28
LABEL_WIDTH = 190
BAR_SPACE = 330  # the longest bar's length, in the SVG's units
VALUE_GAP = 8


@dataclass
class Bar:
    label: str
    value: int
    text: str  # the value as written (« 9 830 K », « 12 »)
    y: int
    width: int
    text_x: int


@dataclass
class BarChart:
    id: str
    title: str
    row_label: str
    column_label: str
    bars: list[Bar]
    height: int
    width: int = LABEL_WIDTH + BAR_SPACE + 110

    @property
    def is_empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def bar_chart(
    *, id: str, title: str, row_label: str, column_label: str, rows, formatter=str
) -> BarChart:
    """Rows ``(label, value)`` laid out as horizontal bars scaled to the largest value."""
    rows = list(rows)
    largest = max((value for _label, value in rows), default=0) or 1
    bars = []
    for index, (label, value) in enumerate(rows):
        width = round(BAR_SPACE * value / largest) if value > 0 else 0
        bars.append(
            Bar(
                label=str(label),
                value=value,
                text=formatter(value),
                y=index * ROW_HEIGHT,
                width=width,
                text_x=LABEL_WIDTH + width + VALUE_GAP,
            )
        )
    return BarChart(
        id=id,
        title=title,
        row_label=row_label,
        column_label=column_label,
        bars=bars,
        height=max(len(bars), 1) * ROW_HEIGHT,
    )


def _month_starts(last: datetime.date, months: int) -> list[datetime.date]:
    year, month = last.year, last.month
    starts = []
    for _month in range(months):
        starts.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def tookets_given_per_month(
    *, associations: QuerySet, months: int = 12, today: datetime.date | None = None
) -> list[tuple[str, int]]:
    """Tookets given by members (gifts and year-end sweeps, not the bank's matching) to
    ``associations`` in each of the last ``months`` months, oldest first, months without a
    gift included. One grouped query over their month totals (``AssociationMonthTotals``,
    written with each entry): twelve rows per association, whatever the ledger holds."""
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    starts = _month_starts(today, months)
    rows = (
        AssociationMonthTotals.objects.filter(
            association__in=associations.values("pk"), month__gte=starts[0]
        )
        .values("month")
        .annotate(given=Sum(F("received") - F("matched")))
        .order_by()
    )
    given = {row["month"]: int(row["given"]) for row in rows}
    return [(f"{MONTHS_3[start.month]} {start.year}", given.get(start, 0)) for start in starts]


def dashboard_charts(*, associations: QuerySet, by_status) -> list[BarChart]:
    """The dashboard's two charts: Tookets given per month, associations by status."""
    return [
        bar_chart(
            id="chart-given-per-month",
            title=_("Tookets donnés par mois (12 derniers mois)"),
            row_label=_("Mois"),
            column_label=_("Tookets donnés"),
            rows=tookets_given_per_month(associations=associations),
            formatter=format_tookets,
        ),
        bar_chart(
            id="chart-associations-by-status",
            title=_("Associations par statut"),
            row_label=_("Statut"),
            column_label=_("Associations"),
            rows=[(label, n) for _value, label, n in by_status],
        ),
    ]
