"""Reads about associations. Visibility rules are written here, once."""

from django.utils import timezone

from associations.models import Association


def associations_visible_to(member, *, on=None):
    """Associations a member may see, choose and give to.

    Validated, enrolled in a program of the member's regional bank that is open today, and in
    that regional bank's territory.
    """
    on = on or timezone.localdate()
    if member is None or not member.is_authenticated or member.caisse_regionale_id is None:
        return Association.objects.none()
    return Association.objects.filter(
        status=Association.Status.VALIDATED,
        caisse_regionale_id=member.caisse_regionale_id,
        enrollments__program__caisse_regionale_id=member.caisse_regionale_id,
        enrollments__program__opens_on__lte=on,
        enrollments__program__closes_on__gte=on,
    ).distinct()
