import random

import pytest
from django.utils import timezone

from associations import demo
from associations.models import Association
from associations.selectors import associations_visible_to
from cagnotte.campaigns import Enrollment
from cagnotte.models import Program
from caisses import demo as caisses_demo

pytestmark = pytest.mark.django_db


def seed_all():
    caisses_demo.seed(random.Random("caisses"))
    return demo.seed(random.Random("associations"), associations=3)


def test_pyrenees_gascogne_member_sees_the_guides_2795_associations(member):
    seed_all()
    year = timezone.localdate().year
    program = Program.objects.get(code=f"carte-societaire-gers-{year}")
    assert program.name == "Carte Sociétaire - GERS"
    assert program.is_open()
    visible = associations_visible_to(member)
    assert visible.count() == 2795
    pg = Association.objects.filter(caisse_regionale=member.caisse_regionale)
    assert pg.count() == 2795 + demo.PG_NOT_ENROLLED + demo.PG_SUBMITTED
    assert pg.filter(status=Association.Status.SUBMITTED).count() == demo.PG_SUBMITTED
    # Other regional banks: their own program and the requested number of associations.
    toulouse = Program.objects.get(code=f"carte-societaire-toulouse-31-{year}")
    assert toulouse.name == "Carte Sociétaire - " + toulouse.caisse_regionale.program_label
    assert Enrollment.objects.filter(program=toulouse).count() == 3


def test_demo_rows_are_well_formed_and_deterministic(member):
    seed_all()
    rows = list(
        Association.objects.order_by("pk").values_list(
            "name",
            "search_name",
            "rna_number",
            "account_number",
            "latitude",
            "longitude",
            "caisse_regionale__min_lat",
            "caisse_regionale__max_lat",
            "caisse_locale__caisse_regionale_id",
            "caisse_regionale_id",
        )
    )
    rnas = [r[2] for r in rows]
    assert len(set(rnas)) == len(rnas)
    assert all(r[1] and r[1] == r[1].lower() for r in rows)
    assert all(r[6] <= r[4] <= r[7] for r in rows)
    assert all(r[8] == r[9] for r in rows)
    assert "98652790001" not in {r[3] for r in rows}
    assert any("é" in r[0] for r in rows)
    assert len({r[0] for r in rows if r[9] == member.caisse_regionale_id}) > 2000
    visible = associations_visible_to(member)
    assert visible.values("activity").distinct().count() >= 10
    assert visible.values("caisse_locale").distinct().count() == 30
    assert visible.filter(search_name__contains="pyrenees").exists()
    first = [r[0] for r in rows[:50]]
    Enrollment.objects.all().delete()
    Association.objects.all().delete()
    demo.seed(random.Random("associations"), associations=3)
    assert list(Association.objects.order_by("pk").values_list("name", flat=True)[:50]) == first
