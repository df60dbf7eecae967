"""Who is behind a regional bank + account number + personal code.

The bank owns identities. A small provider interface hides where they come from: the default
provider reads the local directory (``BankCustomer``) loaded from the bank's customer feed;
a deployment can plug in another one with ``settings.IDENTITY_PROVIDER``.
"""

from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.utils.module_loading import import_string

from accounts.models import BankCustomer


@dataclass(frozen=True)
class Identity:
    kind: str  # "person" or "association"
    caisse_regionale_id: int
    account_number: str
    name: str
    email: str = ""
    is_societaire: bool = False
    is_online_banking: bool = False
    caisse_locale_id: int | None = None
    iban: str = ""
    # Bank data used to pre-fill forms (address, postal_code, city, phone…).
    prefill: dict = field(default_factory=dict)

    @property
    def is_association(self) -> bool:
        return self.kind == "association"


class IdentityProvider(Protocol):
    def check(self, *, caisse_regionale_id: int, account_number: str, code: str) -> Identity | None:
        """Return the identity when the code is right for that account, else None."""


class LocalDirectoryProvider:
    """Checks codes against the hashed codes of the local customer directory."""

    # Hashing a dummy code when the account is unknown keeps the answer time the same, so the
    # response time does not tell whether an account exists.
    _dummy_hash = None

    def check(self, *, caisse_regionale_id: int, account_number: str, code: str) -> Identity | None:
        customer = (
            BankCustomer.objects.filter(
                caisse_regionale_id=caisse_regionale_id, account_number=account_number
            )
            .prefetch_related("managers")
            .first()
        )
        if customer is None:
            self._waste_time(code)
            return None
        if customer.kind == BankCustomer.Kind.ASSOCIATION:
            holders = [(m.pk, m.personal_code) for m in customer.managers.all() if m.personal_code]
        else:
            holders = [(customer.pk, customer.personal_code)] if customer.personal_code else []
        if not holders:
            self._waste_time(code)
            return None
        if not any(
            check_password(code, encoded, setter=_rehash(pk, encoded)) for pk, encoded in holders
        ):
            return None
        return Identity(
            kind=customer.kind,
            caisse_regionale_id=customer.caisse_regionale_id,
            account_number=customer.account_number,
            name=customer.name,
            email=customer.email,
            is_societaire=customer.is_societaire,
            is_online_banking=customer.is_online_banking,
            caisse_locale_id=customer.caisse_locale_id,
            iban=customer.iban,
            prefill={
                "address": customer.address,
                "postal_code": customer.postal_code,
                "city": customer.city,
                "phone": customer.phone,
                "email": customer.email,
                "name": customer.name,
            },
        )

    def _waste_time(self, code: str) -> None:
        if LocalDirectoryProvider._dummy_hash is None:
            LocalDirectoryProvider._dummy_hash = make_password("000000")
        check_password(code, LocalDirectoryProvider._dummy_hash)


def _rehash(pk: int, encoded: str):
    """Store a right code again with the first of ``PASSWORD_HASHERS`` when Django says its
    hash is out of date (an older algorithm, e.g. PBKDF2, or older Argon2 parameters): the
    code is only known at a successful login, so hashes upgrade one login at a time.

    Conditional on the old hash: a feed that changed the code meanwhile wins.
    """

    def setter(code: str) -> None:
        BankCustomer.objects.filter(pk=pk, personal_code=encoded).update(
            personal_code=make_password(code)
        )

    return setter


@cache
def _provider_class(path: str):
    return import_string(path)


def get_provider() -> IdentityProvider:
    return _provider_class(settings.IDENTITY_PROVIDER)()


def ibans_of(*, caisse_regionale_id: int, account_numbers) -> dict[str, str]:
    """The IBANs the bank's customer data gives for these accounts (as stored, unchecked).

    A provider may answer it itself (``ibans_of`` method); the default reads the local directory.
    """
    provider = get_provider()
    if hasattr(provider, "ibans_of"):
        return provider.ibans_of(
            caisse_regionale_id=caisse_regionale_id, account_numbers=account_numbers
        )
    return dict(
        BankCustomer.objects.filter(
            caisse_regionale_id=caisse_regionale_id, account_number__in=list(account_numbers)
        ).values_list("account_number", "iban")
    )
