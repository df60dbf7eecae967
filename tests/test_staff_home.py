"""The staff home (issue 19, item 4): what waits for a bank's Tookets service, each line
linked to the filtered list whose rows it counts; staff of another bank see only theirs."""

import datetime
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from associations.models import Association
from cagnotte.models import CreditImportBatch, PayoutStatement
from tests import factories as f

HOME = reverse("admin:index")


def waiting(client) -> dict[str, tuple[int, str]]:
    html = client.get(HOME).content.decode()
    rows = re.findall(
        r'<li data-waiting="(\w+)"><a href="([^"]+)">[^<]+</a> : <strong>(\d+)</strong>', html
    )
    return {key: (int(count), url.replace("&amp;", "&")) for key, url, count in rows}


def listed(client, url) -> int:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode().count('class="action-select"')


@pytest.fixture
def bank(pg_caisse, other_caisse, staff_pg, staff_other):
    # Staff work as the « Service Tookets » group (its permissions come from the migrations).
    service = Group.objects.get(name="Service Tookets")
    staff_pg.groups.add(service)
    staff_other.groups.add(service)
    now = timezone.now()
    for days in (2, 9):
        f.AssociationFactory(
            caisse_regionale=pg_caisse,
            status=Association.Status.SUBMITTED,
            submitted_at=now - datetime.timedelta(days=days),
        )
    f.AssociationFactory(caisse_regionale=pg_caisse, status=Association.Status.CORRECTION_REQUESTED)
    f.AssociationFactory(caisse_regionale=other_caisse, status=Association.Status.SUBMITTED)
    year = timezone.localdate().year
    f.ProgramFactory(caisse_regionale=pg_caisse, code="close", year=year - 1)
    f.ProgramFactory(caisse_regionale=other_caisse, code="close-t31", year=year - 1)
    swept = f.ProgramFactory(
        caisse_regionale=pg_caisse, code="soldee", year=year - 2, swept_at=timezone.now()
    )
    PayoutStatement.objects.create(program=swept)
    CreditImportBatch.objects.create(
        file_name="credits-novembre.csv",
        sha256="0" * 64,
        source=CreditImportBatch.Source.COMMAND,
        caisse_regionale=pg_caisse,
        status=CreditImportBatch.Status.DONE,
        rows=10,
        applied=8,
        error_count=2,
    )


def test_the_home_counts_what_the_lists_show(client, staff_pg, bank):
    client.force_login(staff_pg)
    lines = waiting(client)
    assert {k: n for k, (n, _url) in lines.items()} == {
        "submitted": 2,
        "correction": 1,
        "sweep": 1,
        "export": 1,
        "paid": 0,
        "import": 2,
    }
    assert "la plus ancienne attend depuis 9 jours" in client.get(HOME).content.decode()
    for key in ("submitted", "correction", "sweep", "export", "paid"):
        count, url = lines[key]
        assert listed(client, url) == count, key
    html = client.get(lines["import"][1]).content.decode()
    assert "credits-novembre.csv" in html


def test_another_banks_staff_see_only_theirs(client, staff_other, bank):
    client.force_login(staff_other)
    lines = waiting(client)
    assert lines["submitted"][0] == 1 and lines["correction"][0] == 0
    assert lines["sweep"][0] == 1 and lines["export"][0] == 0
    assert "import" not in lines  # the other bank's import is not theirs
