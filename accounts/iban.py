"""IBANs from the bank's customer data: checked, and kept in their compact form."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException


def normalized_iban(value: str) -> str | None:
    """The IBAN in its compact form when it is valid (structure and checksums), else None."""
    if not value or not value.strip():
        return None
    try:
        return IBAN(value).compact
    except SchwiftyException:
        return None


def validate_iban(value: str) -> None:
    if value and normalized_iban(value) is None:
        raise ValidationError(_("IBAN invalide."), code="invalid_iban")
