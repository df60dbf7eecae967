"""The staff's list of associations, its content a fragment per state.

The list spends its time in Python (the admin's changelist machinery, the templates), so for
staff of one bank its content is rendered once per state of that bank's associations and
query string (``associations.staff_state.staff_list_state``) and kept in the cache.
"""

from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.core.cache import cache
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from associations import staff_state
from caisses.staff import ALL_BANKS, staff_caisse
from tookets.fragments import CSRF_PLACEHOLDER, FRAGMENT_TIMEOUT, fragment_key, with_csrf

LIST_PAGE = "admin/associations/association/change_list.html"
LIST_CONTENT = "admin/associations/association/_change_list_content.html"


class CachedChangeListMixin:
    """For ``AssociationAdmin``: its change list, cached for staff of one bank."""

    def changelist_view(self, request, extra_context=None):
        """The list, its content (search, actions, rows, pagination, filters) rendered once
        per state of the staff member's bank and query string, and kept in the cache.

        The state (``staff_state.staff_list_state``) is read before the changelist reads
        its rows, so what a fragment shows is at least as new as its key. Rendered from the
        changelist's context only, never the request: for staff of one bank it is the same
        for all of them (their rights are their role's; ``is_superuser`` is in the key all the
        same). National staff, popups and posts (actions) take Django's path every time.
        """
        caisse_id = self._cached_list_bank(request)
        if caisse_id is None:
            return self._uncached_changelist(request, extra_context)
        state = staff_state.staff_list_state(caisse_id)
        key = fragment_key(
            LIST_CONTENT,
            (caisse_id, state, request.user.is_superuser, sorted(request.GET.lists())),
        )
        cached = cache.get(key)
        if cached is None:
            response = super().changelist_view(request, extra_context)
            if not isinstance(response, TemplateResponse) or response.status_code != 200:
                return response  # a redirect for a filter that is no filter: nothing to keep
            cached = _kept(response.context_data)
            cache.set(key, cached, FRAGMENT_TIMEOUT)
        else:
            response = TemplateResponse(
                request,
                LIST_PAGE,
                {**self.admin_site.each_context(request), "opts": self.opts},
            )
            request.current_app = self.admin_site.name
        response.context_data.update(_shown(request, cached))
        return response

    def _uncached_changelist(self, request, extra_context):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            response.context_data["list_content"] = mark_safe(
                render_to_string(LIST_CONTENT, response.context_data, request=request)
            )
        return response

    def _cached_list_bank(self, request) -> int | None:
        """The bank whose list this request may take from the cache; None: render it."""
        if request.method != "GET" or IS_POPUP_VAR in request.GET or TO_FIELD_VAR in request.GET:
            return None
        if not self.has_view_or_change_permission(request):
            return None  # Django's path refuses it
        caisse_id = staff_caisse(request.user)
        return None if caisse_id is ALL_BANKS else caisse_id


def _kept(context) -> dict:
    """What the cache keeps of a rendered list: its content (CSRF placeholder left in) and
    what the page around it reads."""
    return {
        "content": render_to_string(LIST_CONTENT, {**context, "csrf_token": CSRF_PLACEHOLDER}),
        "title": context["title"],
        "subtitle": context["subtitle"],
        "media": {
            "css": str(context["media"]["css"]),
            "js": str(context["media"]["js"]),
        },
        "action_form": bool(context["action_form"]),
        "actions_on_top": context["actions_on_top"],
        "actions_on_bottom": context["actions_on_bottom"],
    }


def _shown(request, cached: dict) -> dict:
    """The list page's context from what the cache kept, with this request's CSRF token."""
    return {
        "title": cached["title"],
        "subtitle": cached["subtitle"],
        "media": {name: mark_safe(html) for name, html in cached["media"].items()},
        "action_form": cached["action_form"],
        "actions_on_top": cached["actions_on_top"],
        "actions_on_bottom": cached["actions_on_bottom"],
        "list_content": with_csrf(request, cached["content"]),
    }
