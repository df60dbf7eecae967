"""Business actions on wallets, the ledger and favourites."""

from django.db import transaction

from cagnotte.models import Favourite


class NotEligible(Exception):
    """The association may not be chosen or receive Tookets from this member."""


@transaction.atomic
def set_favourite(*, member, association_id: int) -> Favourite:
    """Make an association the member's one favourite. It must be visible to the member."""
    from associations.selectors import associations_visible_to

    association = associations_visible_to(member).filter(pk=association_id).first()
    if association is None:
        raise NotEligible
    favourite, _ = Favourite.objects.update_or_create(
        member=member, defaults={"association": association}
    )
    return favourite
