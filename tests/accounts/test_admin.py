import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import BankCustomer, User
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_tookets():
    return Group.objects.get(name="Service Tookets")


@pytest.fixture
def pg_staff_client(client, staff_pg, service_tookets):
    staff_pg.groups.add(service_tookets)
    client.force_login(staff_pg)
    return client


@pytest.fixture
def customers(pg_caisse, other_caisse):
    return {
        "pg": f.BankCustomerFactory(caisse_regionale=pg_caisse, name="Client Gersois"),
        "t31": f.BankCustomerFactory(caisse_regionale=other_caisse, name="Client Toulousain"),
    }


def test_staff_list_only_their_regional_banks_users(pg_staff_client, member, other_member):
    response = pg_staff_client.get(reverse("admin:accounts_user_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert member.username in html
    assert other_member.username not in html


def test_staff_cannot_open_or_edit_another_banks_user_by_url(pg_staff_client, other_member):
    change = reverse("admin:accounts_user_change", args=[other_member.pk])
    # Django's admin redirects a missing object to the index with a message; nothing is shown.
    response = pg_staff_client.get(change)
    assert response.status_code == 302
    assert other_member.username not in pg_staff_client.get(response["Location"]).content.decode()
    response = pg_staff_client.post(change, {"username": other_member.username, "recap_emails": ""})
    assert response.status_code == 302
    other_member.refresh_from_db()
    assert other_member.recap_emails is True
    # Django's UserAdmin names its password URL "auth_user_password_change" whatever the model.
    password = reverse("admin:auth_user_password_change", args=[other_member.pk])
    assert password.startswith("/admin/accounts/user/")
    assert pg_staff_client.get(password).status_code == 404
    history = reverse("admin:accounts_user_history", args=[other_member.pk])
    assert pg_staff_client.get(history).status_code == 302


def test_staff_can_edit_a_member_of_their_bank_but_not_their_rights(pg_staff_client, member):
    change = reverse("admin:accounts_user_change", args=[member.pk])
    response = pg_staff_client.get(change)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="is_superuser"' not in html
    assert 'name="groups"' not in html
    assert 'name="recap_emails"' in html


def test_staff_cannot_edit_other_staff(pg_staff_client, pg_caisse, staff_pg):
    colleague = f.StaffFactory(caisse_regionale=pg_caisse, username="staff-pg-2")
    change = reverse("admin:accounts_user_change", args=[colleague.pk])
    response = pg_staff_client.post(change, {"username": "renamed"})
    assert response.status_code == 403
    colleague.refresh_from_db()
    assert colleague.username == "staff-pg-2"


def test_staff_list_only_their_banks_customers(pg_staff_client, customers):
    html = pg_staff_client.get(reverse("admin:accounts_bankcustomer_changelist")).content.decode()
    assert "Client Gersois" in html
    assert "Client Toulousain" not in html


def test_staff_cannot_open_or_edit_another_banks_customer_by_url(pg_staff_client, customers):
    other = customers["t31"]
    change = reverse("admin:accounts_bankcustomer_change", args=[other.pk])
    assert pg_staff_client.get(change).status_code == 302
    pg_staff_client.post(change, {"name": "Piraté", "account_number": other.account_number})
    other.refresh_from_db()
    assert other.name == "Client Toulousain"


def test_staff_cannot_attach_another_banks_customer_as_manager(pg_staff_client, customers):
    pg = customers["pg"]
    change = reverse("admin:accounts_bankcustomer_change", args=[pg.pk])
    response = pg_staff_client.post(
        change,
        {
            "caisse_regionale": pg.caisse_regionale_id,
            "account_number": pg.account_number,
            "kind": "person",
            "name": pg.name,
            "managers": str(customers["t31"].pk),
        },
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert not pg.managers.exists()


def test_national_staff_and_superuser_see_every_bank(
    client, national_staff, service_tookets, member, other_member
):
    national_staff.groups.add(service_tookets)
    client.force_login(national_staff)
    html = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert member.username in html and other_member.username in html

    admin = User.objects.create_superuser("root", "root@example.test", "x" * 12)
    client.force_login(admin)
    html = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert member.username in html and other_member.username in html


def test_member_is_not_let_into_the_admin(client, member):
    client.force_login(member)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_change_list_query_count_is_bounded(
    pg_staff_client, pg_caisse, django_assert_max_num_queries
):
    f.MemberFactory.create_batch(30, caisse_regionale=pg_caisse)
    f.BankCustomerFactory.create_batch(30, caisse_regionale=pg_caisse)
    with django_assert_max_num_queries(12):
        assert pg_staff_client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    with django_assert_max_num_queries(12):
        response = pg_staff_client.get(reverse("admin:accounts_bankcustomer_changelist"))
        assert response.status_code == 200
    assert BankCustomer.objects.count() == 30
