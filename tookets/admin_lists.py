"""Admin lists refuse garbage in their filters with Django's own « invalid lookup » answer.

Django's ChangeList turns most bad filter values into ``IncorrectLookupParameters`` (the list
reloads with ``?e=1``), but not all: the date hierarchy computes its bounds with ``int()`` and
``datetime`` outside its guard, so ``?created_at__year=999…9`` (OverflowError) or ``=9999``
(the next year does not exist) answered 500. Every registered admin gets this ChangeList.
(NUL bytes never get here: ``tookets.http.RejectNulMiddleware`` answers 400 first.)
"""

from functools import cache

from django.contrib.admin.options import IncorrectLookupParameters


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


def guard_changelists(site) -> None:
    """Make every ModelAdmin of ``site`` use a guarded ChangeList (its own, if it has one)."""
    for model_admin in site._registry.values():
        original = model_admin.get_changelist

        def get_changelist(request, _original=original, **kwargs):
            return guarded(_original(request, **kwargs))

        model_admin.get_changelist = get_changelist
