from dataclasses import dataclass

from django.contrib.auth.backends import BaseBackend
from django.db import IntegrityError, transaction

from accounts.identity import Identity, get_provider
from accounts.models import User
from accounts.services import is_closed_identifier


def username_for(caisse_code: str, account_number: str) -> str:
    return f"{caisse_code}:{account_number}"


def axes_username(request, credentials) -> str | None:
    """The identifier that django-axes locks: the regional bank and the account number."""
    caisse = credentials.get("caisse")
    account = credentials.get("account_number")
    if caisse is None or account is None:
        return credentials.get("username")
    return username_for(caisse.code, account)


@dataclass
class IneligibleCustomer:
    """Returned instead of a user when the code is right but Tookets is not open to that customer.

    Only sociétaires who use online banking get a wallet. The code was right, so this is not
    a failed attempt for django-axes; no local user is created and nobody is logged in: the
    login view shows a refusal page. It is not a ``User``: ``login()`` cannot take it.
    """

    identity: Identity
    backend: str = ""  # django.contrib.auth.authenticate() sets it on what a backend returns
    closed: bool = False  # the member closed their Tookets account

    @property
    def reason(self) -> str:
        if self.closed:
            return "closed"
        return "not_societaire" if not self.identity.is_societaire else "not_online_banking"


def is_eligible(identity: Identity) -> bool:
    return identity.is_societaire and identity.is_online_banking


class BankBackend(BaseBackend):
    """Authenticates members and associations through the bank's identity provider.

    The provider is the authority; the local ``User`` row is created or refreshed from it on
    each successful login. The identity is attached to the returned user (``user.identity``).
    A customer who may not use Tookets gets an ``IneligibleCustomer`` instead of a user.
    """

    def authenticate(self, request, caisse=None, account_number=None, code=None, **kwargs):
        if caisse is None or account_number is None or code is None:
            return None
        identity = get_provider().check(
            caisse_regionale_id=caisse.pk, account_number=account_number, code=code
        )
        if identity is None:
            return None
        if is_closed_identifier(
            caisse_regionale_id=caisse.pk, account_number=identity.account_number
        ):
            return IneligibleCustomer(identity=identity, closed=True)
        if not is_eligible(identity):
            return IneligibleCustomer(identity=identity)
        user = sync_user(caisse=caisse, identity=identity)
        if user is None or not self.user_can_authenticate(user):
            return None
        user.identity = identity
        return user

    def user_can_authenticate(self, user):
        return user.is_active and user.closed_at is None

    def get_user(self, user_id):
        user = User.objects.filter(pk=user_id).first()
        return user if user and self.user_can_authenticate(user) else None


def sync_user(*, caisse, identity: Identity) -> User | None:
    """Create or refresh the local user of a bank identity. A closed account stays closed."""
    kind = User.Kind.ASSOCIATION if identity.is_association else User.Kind.MEMBER
    defaults = {
        "username": username_for(caisse.code, identity.account_number),
        "kind": kind,
        "display_name": identity.name,
        "email": identity.email,
        "is_societaire": identity.is_societaire,
        "caisse_locale_id": identity.caisse_locale_id,
    }
    lookup = {"caisse_regionale": caisse, "account_number": identity.account_number}
    user = User.objects.filter(**lookup).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User(**lookup, **defaults)
                user.set_unusable_password()
                user.save()
                return user
        except IntegrityError:  # two first logins at once: the other one created it
            user = User.objects.get(**lookup)
    if user.closed_at is not None:
        return None
    changed = [f for f, v in defaults.items() if f != "username" and getattr(user, f) != v]
    for f in changed:
        setattr(user, f, defaults[f])
    if changed:
        user.save(update_fields=changed)
    return user
