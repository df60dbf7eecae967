"""Staff scope, written once in ``caisses.staff`` and asked by every admin and service.

Each test tries to break one rule as a staff member of another bank would: a URL typed by
hand, a list filter's choices, an autocomplete's JSON.
"""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import User
from caisses.models import CaisseRegionale
from caisses.staff import ALL_BANKS, is_bank_staff, may_act_on, scope_to_staff, staff_caisse
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_pg):
    """Pyrénées Gascogne's staff, with the group every bank's staff get."""
    staff_pg.groups.add(Group.objects.get(name="Service Tookets"))
    client.force_login(staff_pg)
    return client


# --- The rule -------------------------------------------------------------------------------


def test_who_is_bank_staff(staff_pg, national_staff, member, pg_caisse):
    superuser = f.StaffFactory(caisse_regionale=pg_caisse, is_superuser=True)
    member_with_flag = f.MemberFactory(caisse_regionale=pg_caisse, is_staff=True)
    inactive = f.StaffFactory(caisse_regionale=pg_caisse, is_active=False)
    assert [is_bank_staff(u) for u in (staff_pg, national_staff, superuser)] == [True] * 3
    assert [is_bank_staff(u) for u in (member, member_with_flag, inactive)] == [False] * 3
    assert staff_caisse(staff_pg) == pg_caisse.pk
    assert staff_caisse(national_staff) is ALL_BANKS
    assert staff_caisse(superuser) is ALL_BANKS  # a superuser is national, whatever their bank


def test_scope_and_may_act_on(staff_pg, staff_other, national_staff, pg_caisse, other_caisse):
    member_with_flag = f.MemberFactory(caisse_regionale=pg_caisse, is_staff=True)
    banks = CaisseRegionale.objects.all()
    assert list(scope_to_staff(banks, staff_pg, caisse_path="pk")) == [pg_caisse]
    assert scope_to_staff(banks, national_staff, caisse_path="pk").count() == banks.count()
    # A member given is_staff by mistake sees nothing of their bank.
    assert not scope_to_staff(banks, member_with_flag, caisse_path="pk").exists()
    assert not scope_to_staff(User.objects.all(), member_with_flag).exists()
    assert may_act_on(staff_pg, pg_caisse.pk) and not may_act_on(staff_pg, other_caisse.pk)
    assert may_act_on(national_staff, other_caisse.pk)
    assert not may_act_on(member_with_flag, pg_caisse.pk)


# --- The admin ------------------------------------------------------------------------------


def test_staff_open_their_banks_record_not_anothers(staff_client, pg_caisse, other_caisse):
    own = staff_client.get(reverse("admin:caisses_caisseregionale_change", args=[pg_caisse.pk]))
    assert own.status_code == 200
    url = reverse("admin:caisses_caisseregionale_change", args=[other_caisse.pk])
    response = staff_client.get(url)
    # The admin answers a missing object with a redirect to its index and a message.
    assert response.status_code == 302
    assert other_caisse.name not in staff_client.get(response["Location"]).content.decode()
    history = reverse("admin:caisses_caisseregionale_history", args=[other_caisse.pk])
    assert staff_client.get(history).status_code == 302
    listing = staff_client.get(reverse("admin:caisses_caisseregionale_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [pg_caisse]


def test_the_regional_bank_autocomplete_lists_the_staffs_bank_only(
    staff_client, pg_caisse, other_caisse
):
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "cagnotte", "model_name": "program", "field_name": "caisse_regionale"},
    )
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [str(pg_caisse.pk)]
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "accounts",
            "model_name": "user",
            "field_name": "caisse_regionale",
            "term": "Toulouse",
        },
    )
    assert response.json()["results"] == []


def test_the_wallet_lists_program_filter_offers_the_staffs_programs_only(
    staff_client, pg_caisse, other_caisse, member, other_member
):
    own = f.ProgramFactory(caisse_regionale=pg_caisse, name="Programme du Gers")
    # Two programs of their own, or a filter with one choice is not shown at all.
    own_too = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme du Gers")
    foreign = f.ProgramFactory(caisse_regionale=other_caisse, name="Programme de Toulouse")
    f.WalletFactory(member=member, program=own)
    f.WalletFactory(member=other_member, program=foreign)
    response = staff_client.get(reverse("admin:cagnotte_wallet_changelist"))
    assert response.status_code == 200
    (program_filter,) = [
        spec for spec in response.context["cl"].filter_specs if spec.field_path == "program"
    ]
    assert sorted(pk for pk, _label in program_filter.lookup_choices) == [own.pk, own_too.pk]
    assert "Programme de Toulouse" not in response.content.decode()


def test_national_staff_filter_on_every_banks_programs(
    client, national_staff, pg_caisse, other_caisse
):
    national_staff.groups.add(Group.objects.get(name="Service Tookets"))
    f.ProgramFactory(caisse_regionale=pg_caisse, name="Programme du Gers")
    f.ProgramFactory(caisse_regionale=other_caisse, name="Programme de Toulouse")
    client.force_login(national_staff)
    html = client.get(reverse("admin:cagnotte_wallet_changelist")).content.decode()
    assert "Programme du Gers" in html and "Programme de Toulouse" in html


def test_the_local_bank_list_filters_on_the_staffs_bank_only(staff_client, other_caisse):
    response = staff_client.get(reverse("admin:caisses_caisselocale_changelist"))
    assert response.status_code == 200
    paths = [spec.field_path for spec in response.context["cl"].filter_specs]
    assert "caisse_regionale" not in paths


# --- Saving a member's record ---------------------------------------------------------------


def _form_data(response) -> dict:
    """What the browser would post back for the admin's change form, as displayed."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool) or value is None:
            if value:
                data[name] = "on"
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)
    return data


def test_staff_save_a_members_settings(staff_client, member):
    assert ":" in member.username  # « <bank code>:<account> », which Django's validator refuses
    url = reverse("admin:accounts_user_change", args=[member.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    data = _form_data(page)
    assert "username" not in data  # shown, not editable
    data.pop("recap_emails", None)  # untick « e-mails récapitulatifs »
    data["display_name"] = "Jeanne Dupont-Lagarde"
    response = staff_client.post(url, {**data, "_save": "Enregistrer"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert (member.display_name, member.recap_emails) == ("Jeanne Dupont-Lagarde", False)


def test_a_members_identity_cannot_be_rewritten_through_the_admin(staff_client, member):
    url = reverse("admin:accounts_user_change", args=[member.pk])
    data = _form_data(staff_client.get(url))
    before = (member.username, member.account_number, member.caisse_regionale_id)
    response = staff_client.post(
        url, {**data, "username": "pirate", "account_number": "99999999999", "_save": "1"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.username, member.account_number, member.caisse_regionale_id) == before


def test_superuser_renaming_staff_still_meets_djangos_username_rule(client, pg_caisse):
    admin = f.StaffFactory(caisse_regionale=None, is_superuser=True, username="root")
    colleague = f.StaffFactory(caisse_regionale=pg_caisse, username="staff-pg-2")
    client.force_login(admin)
    url = reverse("admin:accounts_user_change", args=[colleague.pk])
    data = _form_data(client.get(url))
    response = client.post(url, {**data, "username": "bad:name", "_save": "1"})
    assert response.status_code == 200
    assert "username" in response.context["adminform"].form.errors
    colleague.refresh_from_db()
    assert colleague.username == "staff-pg-2"
