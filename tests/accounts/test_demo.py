import random

import pytest
from django.core.management import call_command

from accounts import demo
from accounts.models import BankCustomer, User
from caisses import demo as caisses_demo
from tests.accounts.helpers import login_with_code

pytestmark = pytest.mark.django_db


def _seed(members, seed=2015):
    caisses_demo.seed(random.Random(f"{seed}:caisses locales"))
    return demo.seed(random.Random(f"{seed}:sociétaires"), members=members)


def _snapshot():
    return list(
        User.objects.filter(kind="member")
        .order_by("username")
        .values_list("username", "display_name", "email", "caisse_locale__code")
    )


def test_seed_creates_members_twice_and_the_shared_demo_identities(client):
    _seed(60)
    members = User.objects.filter(kind=User.Kind.MEMBER)
    assert members.count() == 62  # 60 generated + Jeanne Dupont + the president
    assert BankCustomer.objects.filter(kind="person").count() == 64  # + the two refusals
    assert not members.filter(password__regex=r"^[^!]").exists()
    jeanne = User.objects.get(username="pyrenees-gascogne:98652706859")
    assert jeanne.display_name == "Jeanne Dupont"
    association = BankCustomer.objects.get(account_number="98652790001")
    assert association.kind == "association" and association.city == "Auch"
    assert list(association.managers.values_list("account_number", flat=True)) == ["98652700001"]
    # The whole directory shares one hash of the demo code.
    assert (
        BankCustomer.objects.exclude(personal_code="").values("personal_code").distinct().count()
        == 1
    )
    # Most members are in Pyrénées Gascogne, the others spread over the other banks.
    pg = members.filter(caisse_regionale__code="pyrenees-gascogne").count()
    assert pg > members.count() / 5
    assert members.values("caisse_regionale").distinct().count() > 5
    # Users and the directory agree.
    for user in members:
        assert BankCustomer.objects.filter(
            caisse_regionale=user.caisse_regionale, account_number=user.account_number
        ).exists()

    assert login_with_code(client).status_code == 302
    assert login_with_code(client, account="98652700002").status_code == 403
    assert login_with_code(client, account="98652700003").status_code == 403


def test_seed_is_deterministic():
    _seed(40)
    first = _snapshot()
    User.objects.filter(kind="member").delete()
    BankCustomer.objects.all().delete()
    from caisses.models import CaisseLocale

    CaisseLocale.objects.all().delete()
    _seed(40)
    assert _snapshot() == first


def test_seed_runs_a_bounded_number_of_queries(django_assert_max_num_queries):
    caisses_demo.seed(random.Random(1))
    # Row by row would be more than 1,000 queries; SQLite splits batches more than PostgreSQL.
    with django_assert_max_num_queries(60):
        demo.seed(random.Random(2), members=500)
    assert User.objects.filter(kind="member").count() == 502


def test_seed_twice_does_nothing_the_second_time():
    _seed(10)
    assert _seed(10) == "déjà présents"


def test_demo_staff_can_use_the_admin(client):
    _seed(5)
    staff = User.objects.get(username="staff-pg")
    assert staff.is_staff and not staff.is_superuser
    assert staff.caisse_regionale.code == "pyrenees-gascogne"
    assert staff.groups.filter(name="Service Tookets").exists()
    assert User.objects.get(username="admin").is_superuser
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "staff-t31", "password": "tookets-demo"}
    )
    assert response.status_code == 302
    assert client.get("/admin/accounts/user/").status_code == 200


def test_demo_logins_command_prints_the_identifiers(capsys):
    _seed(5)
    call_command("demo_logins")
    out = capsys.readouterr().out
    for expected in ["98652706859", "98652700001", "98652790001", "123456", "staff-pg", "admin"]:
        assert expected in out
