"""The admin site: Django's, with the sidebar (its app list and HTML) built once per staff member
and state of what it reads.

Django rebuilds the app list on every admin page (``each_context``): for each registered model
it asks the model admin's permissions and reverses its URLs, about a third of a staff list's
time. The list is a function of the registry (fixed once the process has started), of what
the permission methods read — the user's role fields (``caisses.staff``: active, staff,
superuser, kind, regional bank) and Django permissions — and of the language and script
prefix its names and URLs are rendered in. Keyed by exactly those, it is built once per key
and process: nothing to invalidate, a permission granted or a role changed is another key.

The permissions the key needs are read in one prepared statement (Django's ``ModelBackend``
reads the user's and the groups' in two) and left where ``ModelBackend`` looks for them, so
every permission check later in the request asks nothing more.

The sidebar's HTML is kept with its app list, one per set of links the page's path makes
« current » (Django's template marks the app and model whose URL the path contains).
"""

from functools import wraps
from urllib.parse import quote

from django.contrib import admin
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.translation import get_language

from tookets.prepared import prepared_cursor
from tookets.user_reads import PERMISSION_NAMES, permissions_sql, read_user_with

# Keys are few (one per role, bank and permission set): the bound only guards against a
# process serving many distinct permission sets; it starts over when reached.
_MAX_KEYS = 512


def permissions_of(user) -> frozenset[str]:
    """``user.get_all_permissions()`` for an active user who is not a superuser, in one
    statement; kept in ``_perm_cache``, the attribute ``ModelBackend`` reads first (the only
    backend here that grants permissions: ``BankBackend`` and axes' grant none)."""
    if not hasattr(user, "_perm_cache"):
        # Read with the user's row on the admin's pages (``TooketsAdminSite.admin_view``).
        names = getattr(user, PERMISSION_NAMES, None)
        if names is None:
            # From the primary, even on a page that reads off a replica: a permission
            # withdrawn counts from the moment it is withdrawn, not one replica lag later.
            with prepared_cursor() as cursor:
                cursor.execute(permissions_sql("%(user)s"), {"user": user.pk})
                names = [name for (name,) in cursor]
        user._perm_cache = set(names)
    return frozenset(user._perm_cache)


def app_list_key(user) -> tuple:
    """Everything the app list reads of the user, and the language and prefix it renders in."""
    return (
        user.pk,
        user.is_active,
        user.is_staff,
        user.is_superuser,
        getattr(user, "kind", None),
        getattr(user, "caisse_regionale_id", None),
        # A superuser has every permission, an inactive user none: nothing to read for them.
        permissions_of(user) if user.is_active and not user.is_superuser else frozenset(),
        get_language(),
        get_script_prefix(),
    )


class AppList(list):
    """An app list as Django builds it, with the sidebars rendered from it."""

    def __init__(self, apps):
        super().__init__(apps)
        # Every URL the sidebar's template tests against the path, in its order.
        self.urls = [
            url
            for app in self
            for url in (app["app_url"], *(m["admin_url"] for m in app["models"]))
        ]
        self.sidebars: dict[tuple, str] = {}


class Sidebar:
    """The sidebar of a page, rendered (or taken from its app list) when the page shows it."""

    def __init__(self, app_list: AppList, request):
        self.app_list = app_list
        self.request = request

    def __html__(self) -> str:
        path = quote(self.request.path)  # the template's ``request.path|urlencode``
        current = tuple(bool(url) and url in path for url in self.app_list.urls)
        html = self.app_list.sidebars.get(current)
        if html is None:
            html = render_to_string(
                "admin/nav_sidebar_rendered.html",
                {"available_apps": self.app_list, "request": self.request},
            )
            self.app_list.sidebars[current] = html
        return html

    __str__ = __html__


class TooketsAdminSite(admin.AdminSite):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._app_lists: dict[tuple, list] = {}

    def admin_view(self, view, cacheable=False):
        """Django's, the staff member read with their permissions (``permissions_of``)."""
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def wrapped(request, *args, **kwargs):
            read_user_with(request, PERMISSION_NAMES)
            return inner(request, *args, **kwargs)

        return wrapped

    def get_app_list(self, request, app_label=None):
        if app_label is not None:
            return super().get_app_list(request, app_label)
        key = app_list_key(request.user)
        app_list = self._app_lists.get(key)
        if app_list is None:
            app_list = AppList(super().get_app_list(request))
            if len(self._app_lists) >= _MAX_KEYS:
                self._app_lists.clear()
            self._app_lists[key] = app_list
        return app_list

    def each_context(self, request):
        context = super().each_context(request)
        apps = context["available_apps"]
        if isinstance(apps, AppList):
            context["nav_sidebar"] = Sidebar(apps, request)
        return context
