"""Staff dashboard charts: server-rendered SVG with a data table, scoped to the staff
member's regional bank."""

import datetime
import re

import pytest
from django.urls import reverse

from associations.charts import bar_chart, tookets_given_per_month
from associations.models import Association
from cagnotte.models import Wallet
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("admin:associations_association_dashboard")


def test_bars_scale_to_the_largest_value_and_write_their_figure():
    chart = bar_chart(
        id="c",
        title="T",
        row_label="Mois",
        column_label="K",
        rows=[("a", 50), ("b", 100), ("c", 0)],
    )
    widths = [bar.width for bar in chart.bars]
    assert widths[1] == 2 * widths[0] and widths[2] == 0
    assert [bar.text for bar in chart.bars] == ["50", "100", "0"]
    assert [bar.y for bar in chart.bars] == [0, 28, 56]


def test_months_without_gifts_are_shown_as_zero(member, program, association):
    credit(member, program, 100)
    wallet = Wallet.objects.get(member=member)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=40, token="c1"
    )
    rows = tookets_given_per_month(associations=Association.objects.all(), months=3)
    assert len(rows) == 3
    assert rows[-1][1] == 40 and rows[0][1] == 0
    today = datetime.date.today()
    assert rows[-1][0].endswith(str(today.year))


def test_dashboard_shows_both_charts_with_tables_for_the_staff_bank_only(
    client, staff_pg, member, program, association, other_member, other_caisse
):
    credit(member, program, 2000)
    wallet = Wallet.objects.get(member=member)
    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=1500, token="d1"
    )
    other_program = f.ProgramFactory(caisse_regionale=other_caisse, code="carte-31")
    elsewhere = f.AssociationFactory(caisse_regionale=other_caisse, name="Ailleurs")
    f.EnrollmentFactory(association=elsewhere, program=other_program)
    credit(other_member, other_program, 9000)
    give_tookets(
        member=other_member,
        wallet_id=Wallet.objects.get(member=other_member).pk,
        association_id=elsewhere.pk,
        amount=7777,
        token="d2",
    )
    client.force_login(staff_pg)
    html = client.get(DASHBOARD).content.decode()
    assert html.count('<svg class="bar-chart"') == 2
    assert html.count('role="img"') >= 2
    assert "Tookets donnés par mois (12 derniers mois)" in html
    given = re.findall(r'id="chart-given-per-month-table".*?</table>', html, re.S)[0]
    assert 'data-value="1500"' in given and "1\u202f500\u00a0K" in given
    assert "7777" not in given and "7\u202f777" not in html
    statuses = re.findall(r'id="chart-associations-by-status-table".*?</table>', html, re.S)[0]
    assert re.search(r'Validée</th><td data-value="1">', statuses)
