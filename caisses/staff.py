"""Who is bank staff, and of which regional bank: THE rule, written once.

Every admin class, admin view and staff service asks these functions; none of them reads
``is_staff``, ``kind`` or ``caisse_regionale_id`` of a staff user on its own.

- Bank staff: an active user with ``is_staff`` who is either a superuser or of kind
  « staff ». A member or an association's login never is, even with ``is_staff`` set.
- Their scope: a superuser or staff without a regional bank is national (every bank); other
  staff see and act on their own regional bank's rows only.

``caisses`` is the bottom layer: this module imports no other app (the user kind is compared
by its stored value, ``"staff"``, for that reason).
"""

import operator
from functools import reduce

from django.db.models import Model, Q, QuerySet

from caisses.models import CaisseRegionale

STAFF_KIND = "staff"  # accounts.User.Kind.STAFF, by value (caisses imports no other app)

# What ``staff_caisse`` answers for national staff: every regional bank.
ALL_BANKS = None


def is_bank_staff(user) -> bool:
    """Bank staff manage Tookets by role: no per-model permission needs granting."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and (user.is_superuser or getattr(user, "kind", None) == STAFF_KIND)
    )


def staff_caisse(user) -> int | None:
    """The id of the regional bank a bank staff member is confined to; ``ALL_BANKS`` (None)
    for national staff and superusers.

    Ask ``is_bank_staff`` first: for anyone else the answer means nothing (``scope_to_staff``
    and ``may_act_on`` do both).
    """
    if user.is_superuser:
        return ALL_BANKS
    return user.caisse_regionale_id


def may_act_on(user, caisse_regionale_id: int | None) -> bool:
    """May this user, as bank staff, see or act on a row of that regional bank?"""
    if not is_bank_staff(user):
        return False
    caisse_id = staff_caisse(user)
    return caisse_id is ALL_BANKS or caisse_id == caisse_regionale_id


def caisse_path_of(model: type[Model]) -> str | None:
    """The lookup from ``model`` to its regional bank, when there is an obvious one."""
    if model is CaisseRegionale:
        return "pk"
    field_names = {f.name for f in model._meta.get_fields()}
    if "caisse_regionale" in field_names:
        return "caisse_regionale"
    return None


def scope_to_staff(queryset: QuerySet, user, *, caisse_path: str | None = None) -> QuerySet:
    """The rows of ``queryset`` this user may see as bank staff (none for anyone else).

    ``caisse_path`` is the lookup from the queryset's model to its regional bank
    (``"caisse_regionale"``, ``"program__caisse_regionale"``, ``"pk"`` for the banks
    themselves), or a tuple of lookups of which one leads there; by default the model's own
    ``caisse_regionale`` field.
    """
    if not is_bank_staff(user):
        return queryset.none()
    caisse_id = staff_caisse(user)
    if caisse_id is ALL_BANKS:
        return queryset
    path = caisse_path or caisse_path_of(queryset.model)
    if path is None:
        raise ValueError(f"no path from {queryset.model.__name__} to its regional bank")
    if isinstance(path, tuple):  # rows reach their bank one way or another (ledger entries)
        return queryset.filter(reduce(operator.or_, (Q(**{p: caisse_id}) for p in path)))
    return queryset.filter(**{path: caisse_id})
