"""The identifier remembered on the device: regional bank + account number, never the code.

Kept in a signed, long-lived, HttpOnly cookie so the login form is pre-filled next time.
Signing keeps a tampered cookie from pre-filling anything (it is then ignored).
"""

from django.conf import settings
from django.core import signing

COOKIE_NAME = "tookets_identifiant"
_SALT = "accounts.remember"
MAX_AGE = 60 * 60 * 24 * 365


def remember(response, *, caisse_code: str, account_number: str) -> None:
    response.set_signed_cookie(
        COOKIE_NAME,
        f"{caisse_code}:{account_number}",
        salt=_SALT,
        max_age=MAX_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def recall(request) -> tuple[str, str] | None:
    """The remembered (caisse code, account number), or None."""
    try:
        value = request.get_signed_cookie(COOKIE_NAME, salt=_SALT, max_age=MAX_AGE)
    except (KeyError, signing.BadSignature):
        return None
    caisse_code, _sep, account_number = value.partition(":")
    if not caisse_code or len(account_number) != 11 or not account_number.isdigit():
        return None
    return caisse_code, account_number


# « Mémoriser mon identifiant sur cet appareil »: the identifier page posts a hidden "0" then
# the checkbox's "1" when it is ticked; the keypad page carries the choice on as one hidden
# value. The last value wins; none at all (a client that never showed the box) keeps the
# guide's behaviour, remembering.
FIELD = "remember"


def wanted(request) -> bool:
    """Did the person ask (or leave the default) to remember the identifier?"""
    values = request.POST.getlist(FIELD)
    return not values or values[-1] == "1"


def forget(response) -> None:
    response.delete_cookie(COOKIE_NAME, samesite="Lax")
