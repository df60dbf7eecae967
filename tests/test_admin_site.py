"""The admin's sidebar app list, built once per key (``tookets.admin_site``): the same list
Django builds, and another list as soon as anything it reads of the user changes."""

from pathlib import Path

from django.contrib import admin
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from tookets.admin_site import TooketsAdminSite, permissions_of
from tookets.user_reads import PERMISSION_NAMES, users_with

USERS = reverse("admin:accounts_user_changelist")
CAMPAIGNS = reverse("admin:cagnotte_program_changelist")


def app_list_of(user, *, fresh=False):
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=user.pk)  # a fresh permission cache, as a request has
    if fresh:
        return admin.AdminSite.get_app_list(admin.site, request)
    return admin.site.get_app_list(request)


def urls(app_list) -> set[str]:
    return {model["admin_url"] for app in app_list for model in app["models"]}


def test_the_admin_site_is_ours():
    assert isinstance(admin.site, TooketsAdminSite)


def test_the_kept_list_is_the_list_django_builds(staff_pg, national_staff, member):
    superuser = User.objects.create_superuser(username="root", password="x")
    for user in (staff_pg, national_staff, superuser, member):
        built = app_list_of(user)
        again = app_list_of(user)
        assert again is built  # kept, not rebuilt
        assert built == app_list_of(user, fresh=True)
    assert USERS in urls(app_list_of(superuser))
    assert USERS not in urls(app_list_of(staff_pg))
    assert CAMPAIGNS in urls(app_list_of(staff_pg))
    assert app_list_of(member) == []


def test_a_permission_granted_or_withdrawn_shows_at_once(staff_pg):
    assert USERS not in urls(app_list_of(staff_pg))
    view_user = Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    staff_pg.user_permissions.add(view_user)
    assert USERS in urls(app_list_of(staff_pg))
    assert app_list_of(staff_pg) == app_list_of(staff_pg, fresh=True)
    staff_pg.user_permissions.remove(view_user)
    assert USERS not in urls(app_list_of(staff_pg))


def test_a_role_change_shows_at_once(staff_pg):
    assert CAMPAIGNS in urls(app_list_of(staff_pg))
    User.objects.filter(pk=staff_pg.pk).update(is_staff=False)
    assert app_list_of(staff_pg) == []
    User.objects.filter(pk=staff_pg.pk).update(is_staff=True, is_active=False)
    assert app_list_of(staff_pg) == []


def test_each_language_has_its_list(staff_pg):
    with translation.override("fr"):
        french = app_list_of(staff_pg)
    with translation.override("en"):
        english = app_list_of(staff_pg)
    assert english is not french
    with translation.override("fr"):
        assert app_list_of(staff_pg) is french


def test_the_permissions_in_one_statement_are_django_s(staff_pg, django_assert_num_queries):
    service = Group.objects.get(name="Service Tookets")
    staff_pg.groups.add(service)
    staff_pg.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    )
    expected = ModelBackend().get_all_permissions(User.objects.get(pk=staff_pg.pk))
    assert "accounts.view_user" in expected and len(expected) > 1
    user = User.objects.get(pk=staff_pg.pk)
    with django_assert_num_queries(1):
        assert permissions_of(user) == expected
        assert user.has_perm("accounts.view_user")  # read from what was loaded
        assert user.get_all_permissions() == expected


def test_the_permissions_read_with_the_user_are_django_s(staff_pg, django_assert_num_queries):
    """Read with the staff member's row (PostgreSQL; elsewhere in their own statement, as
    above); only inside the block."""
    staff_pg.groups.add(Group.objects.get(name="Service Tookets"))
    staff_pg.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    )
    expected = ModelBackend().get_all_permissions(User.objects.get(pk=staff_pg.pk))
    with django_assert_num_queries(1):
        with users_with(PERMISSION_NAMES):
            user = User.objects.get(pk=staff_pg.pk)
    on_postgresql = connection.vendor == "postgresql"
    with django_assert_num_queries(0 if on_postgresql else 1):
        assert permissions_of(user) == expected
        assert user.has_perm("accounts.view_user")
    assert not hasattr(User.objects.get(pk=staff_pg.pk), PERMISSION_NAMES)


def test_an_admin_page_reads_the_permissions_as_they_are_now(client, staff_pg):
    """A permission granted between two pages counts on the second (read with the user each
    time, never kept with the session)."""
    client.force_login(staff_pg)
    assert client.get(USERS).status_code == 403
    staff_pg.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    )
    assert client.get(USERS).status_code == 200


DJANGO_SIDEBAR = Path(admin.__file__).parent / "templates" / "admin" / "nav_sidebar.html"


def test_the_kept_sidebar_is_django_s_for_each_page(staff_pg):
    django_sidebar = engines["django"].from_string(DJANGO_SIDEBAR.read_text())
    user = User.objects.get(pk=staff_pg.pk)
    seen = set()
    for path in (
        "/admin/",
        CAMPAIGNS,
        reverse("admin:associations_association_changelist"),
        reverse("admin:associations_association_change", args=[1]),
        CAMPAIGNS,
    ):
        request = RequestFactory().get(path)
        request.user = user
        context = admin.site.each_context(request)
        kept = str(context["nav_sidebar"])
        assert kept == django_sidebar.render({**context, "request": request}, request)
        seen.add(kept)
    # The index, the campaigns and the associations (list and change page alike): three.
    assert len(seen) == 3
    assert 'class="model-program current-model"' in str(context["nav_sidebar"])


def test_a_page_shows_the_kept_sidebar(client, staff_pg):
    client.force_login(staff_pg)
    html = client.get(CAMPAIGNS).content.decode()
    assert html.count('id="nav-sidebar"') == 1
    assert f'<a href="{CAMPAIGNS}" aria-current="page">' in html
