"""The admin site: Django's, with the sidebar's app list built once per kind of staff member.

Django rebuilds the app list on every admin page (``each_context``): for each registered model
it asks the model admin's permissions and reverses its URLs, about a third of a staff list's
time. The list is a function of the registry (fixed once the process has started), of what
the permission methods read — the user's role fields (``caisses.staff``: active, staff,
superuser, kind, regional bank) and Django permissions — and of the language and script
prefix its names and URLs are rendered in. Keyed by exactly those, it is built once per key
and process: nothing to invalidate, a permission granted or a role changed is another key.
"""

from django.contrib import admin
from django.urls import get_script_prefix
from django.utils.translation import get_language

# Keys are few (one per role, bank and permission set): the bound only guards against a
# process serving many distinct permission sets; it starts over when reached.
_MAX_KEYS = 512


def app_list_key(user) -> tuple:
    """Everything the app list reads of the user, and the language and prefix it renders in."""
    return (
        user.pk,
        user.is_active,
        user.is_staff,
        user.is_superuser,
        getattr(user, "kind", None),
        getattr(user, "caisse_regionale_id", None),
        frozenset(user.get_all_permissions()) if user.is_active else frozenset(),
        get_language(),
        get_script_prefix(),
    )


class TooketsAdminSite(admin.AdminSite):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._app_lists: dict[tuple, list] = {}

    def get_app_list(self, request, app_label=None):
        if app_label is not None:
            return super().get_app_list(request, app_label)
        key = app_list_key(request.user)
        app_list = self._app_lists.get(key)
        if app_list is None:
            app_list = super().get_app_list(request)
            if len(self._app_lists) >= _MAX_KEYS:
                self._app_lists.clear()
            self._app_lists[key] = app_list
        return app_list
