"""The staff's dashboard: figures and charts of their bank's associations.

The figures come from ``associations.selectors.staff_dashboard``, the charts from
``associations.charts``; for staff of one bank the content is a fragment named by the bank's
state (``associations.staff_state.staff_dashboard_state``).
"""

from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from associations import selectors, staff_state
from associations.charts import dashboard_charts
from cagnotte.matching import offer_rows_of_bank, offers_from_rows
from caisses.models import CaisseRegionale
from caisses.staff import ALL_BANKS, staff_caisse
from tookets.db_router import replica_reads
from tookets.fragments import kept_html, render_fragment
from tookets.http import int_or_none

DASHBOARD_CONTENT = "admin/associations/association/_dashboard_content.html"
OFFERS_CONTENT = "admin/associations/association/_dashboard_offers.html"


class DashboardMixin:
    """For ``AssociationAdmin``: the dashboard page, scoped through ``get_queryset``."""

    def get_urls(self):
        return [
            path(
                "tableau-de-bord/",
                self.admin_site.admin_view(self.dashboard_view),
                name="associations_association_dashboard",
            ),
            *super().get_urls(),
        ]

    @method_decorator(replica_reads)
    def dashboard_view(self, request):
        """Figures and charts of the staff member's bank (national staff: of every bank, or
        of the one they pick). For staff of one bank the content is a fragment named by the
        bank's state (``staff_state.staff_dashboard_state``: its associations, what they
        received, the month) and by how many days the oldest submitted file has waited."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        caisse_id = staff_caisse(request.user)
        if caisse_id is ALL_BANKS:
            caisse_id = int_or_none(request.GET.get("caisse"))
            content = render_to_string(
                DASHBOARD_CONTENT,
                self._dashboard_context(request, caisse_id, national=True),
                request=request,
            )
        else:
            state = staff_state.staff_dashboard_state(caisse_id, today=timezone.localdate())
            oldest = state.oldest_submitted_at
            waiting_days = (timezone.now() - oldest).days if oldest else None
            content = render_fragment(
                request,
                DASHBOARD_CONTENT,
                state=(caisse_id, state, waiting_days),
                context=lambda: {
                    **self._dashboard_context(request, caisse_id, national=False),
                    "oldest_submitted_at": oldest,
                    "waiting": oldest is not None,
                    "waiting_days": waiting_days,
                },
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Tableau de bord Tookets"),
            "dashboard_content": content,
            "offers_content": _offers_content(caisse_id),
        }
        return TemplateResponse(request, "admin/associations/association/dashboard.html", context)

    def _dashboard_context(self, request, caisse_id: int | None, *, national: bool) -> dict:
        caisse = CaisseRegionale.objects.filter(pk=caisse_id).first() if caisse_id else None
        associations = self.get_queryset(request)
        if caisse is not None:
            associations = associations.filter(caisse_regionale=caisse)
        figures = selectors.staff_dashboard(associations)
        oldest = figures.oldest_submitted_at
        waiting = (timezone.now() - oldest) if oldest else None
        return {
            "caisse": caisse,
            "caisses": list(CaisseRegionale.objects.order_by("name")) if national else [],
            "by_status": figures.by_status,
            "total": figures.total,
            "oldest_submitted_at": oldest,
            "waiting": waiting is not None,
            "waiting_days": waiting.days if waiting else None,
            "given_this_year": figures.given_this_year,
            "year": figures.year,
            "changelist_url": reverse("admin:associations_association_changelist"),
            "charts": dashboard_charts(associations=associations, by_status=figures.by_status),
        }


def _offers_content(caisse_id: int | None) -> str:
    """The offers' table, outside the cached content (budgets move with every matched gift):
    read each time, rendered once per rows as read and day (kept in this process)."""
    alias, rows = offer_rows_of_bank(caisse_regionale_id=caisse_id)
    today = timezone.localdate()
    html = kept_html(
        OFFERS_CONTENT,
        state=(rows, today),
        context=lambda: {"offers": offers_from_rows(alias, rows), "today": today},
    )
    return mark_safe(html)
