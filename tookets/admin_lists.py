"""Admin lists refuse garbage in their filters and in their selected rows, without a 500.

Django's ChangeList turns most bad filter values into ``IncorrectLookupParameters`` (the list
reloads with ``?e=1``), but not all: the date hierarchy computes its bounds with ``int()`` and
``datetime`` outside its guard, so ``?created_at__year=999…9`` (OverflowError) or ``=9999``
(the next year does not exist) answered 500. Every registered admin gets this ChangeList.

An action posted with a selected row that is no id (``_selected_action=abc``) reached the
action's query and answered 500 (``Field 'id' expected a number``): such a post now reloads the
list with a message, as an action with nothing selected does.
(NUL bytes never get here: ``tookets.http.RejectNulMiddleware`` answers 400 first.)
"""

from functools import cache

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _


class GuardedFiltersMixin:
    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError, TypeError) as exc:
            raise IncorrectLookupParameters(exc) from exc


@cache
def guarded(changelist_class):
    if issubclass(changelist_class, GuardedFiltersMixin):
        return changelist_class
    return type(f"Guarded{changelist_class.__name__}", (GuardedFiltersMixin, changelist_class), {})


def _valid_selection(model_admin, request) -> bool:
    pk = model_admin.model._meta.pk
    try:
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            # The field's validators hold the database's integer range: a 23-digit id is no
            # id (SQLite raised OverflowError binding it, a 500).
            pk.run_validators(pk.to_python(value))
    except ValidationError:
        return False
    return True


def guard_changelists(site) -> None:
    """Make every ModelAdmin of ``site`` use a guarded ChangeList (its own, if it has one) and
    check the rows an action is posted for."""
    for model_admin in site._registry.values():
        get_changelist_of, response_action_of = (
            model_admin.get_changelist,
            model_admin.response_action,
        )

        def get_changelist(request, _original=get_changelist_of, **kwargs):
            return guarded(_original(request, **kwargs))

        def response_action(request, queryset, _original=response_action_of, _admin=model_admin):
            if not _valid_selection(_admin, request):
                _admin.message_user(
                    request, _("La sélection envoyée n’est pas valable."), messages.WARNING
                )
                return HttpResponseRedirect(request.get_full_path())
            return _original(request, queryset)

        model_admin.get_changelist = get_changelist
        model_admin.response_action = response_action
