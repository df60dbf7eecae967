"""The virtual keypad: digits are shown at shuffled positions, the browser posts positions.

The layout of each display is kept in the session and used once: the server maps the posted
positions back to digits. A post replayed in another session (or after the layout was used)
decodes to nothing, so an observer of the posted positions learns nothing reusable.

Beside the keypad, a code field (``code``) lets a password manager fill the code or a person
paste it (WCAG 2.2, 3.3.8 Accessible Authentication): remembering the code and transcribing it
digit by digit on shuffled keys is a cognitive test that a filled field spares. A post uses one
of the two ways, never both; ``read_code`` turns either into the same six digits, which the
views then check through ``django.contrib.auth.authenticate`` exactly as before, so the
lockouts (per identifier, per address) and the session rotation of ``login`` apply to both.
"""

import secrets
from dataclasses import dataclass

from django.utils.translation import gettext as _

from tookets.http import ascii_digits

KEYPAD_SIZE = 10
CODE_LENGTH = 6
CODE_FIELD = "code"
_SESSION_PREFIX = "keypad:"
# Far more than any code with spaces pasted around it; a longer value is not read further.
_CODE_FIELD_MAX = 64


def new_layout(request, purpose: str = "login") -> list[str]:
    """Shuffle the digits for one display of the keypad and remember the layout."""
    digits = list("0123456789")
    # SystemRandom: the layout must not be predictable from earlier ones.
    secrets.SystemRandom().shuffle(digits)
    request.session[_SESSION_PREFIX + purpose] = "".join(digits)
    return digits


def decode(request, positions: str, purpose: str = "login") -> str | None:
    """Map posted positions (e.g. "305912") back to the code; None if they cannot be decoded.

    The layout is consumed whatever the outcome: each display is good for one post.
    """
    layout = request.session.pop(_SESSION_PREFIX + purpose, None)
    # ASCII digits only: « ²²²²²² » passes str.isdigit() but is no position on the keypad.
    if not layout or not ascii_digits(positions) or len(positions) != CODE_LENGTH:
        return None
    return "".join(layout[int(p)] for p in positions)


def typed_code(value) -> str | None:
    """The six ASCII digits of a filled or pasted code field, else None.

    Spaces are tolerated (« 123 456 », a pasted trailing newline), nothing else: « ١٢٣٤٥٦ »
    and « １２３４５６ » are digits to Python but not the code's.
    """
    if not isinstance(value, str) or len(value) > _CODE_FIELD_MAX:
        return None
    value = "".join(value.split())
    if len(value) != CODE_LENGTH or not ascii_digits(value):
        return None
    return value


@dataclass(frozen=True)
class CodeEntry:
    """What a post of the keypad's form gives: a code to check, or why there is none."""

    code: str | None = None
    keypad_error: str = ""  # shown with the keypad (its role="alert" paragraph)
    field_error: str = ""  # shown next to the code field

    @property
    def error(self) -> str:
        return self.keypad_error or self.field_error


def read_code(request, data, purpose: str = "login") -> CodeEntry:
    """The code posted either as keypad positions or in the code field, never both.

    The keypad's layout is consumed whichever way was used (each display, one post). An entry
    without a code means nothing is to be checked: no attempt is counted against anyone.
    """
    positions = data.get("positions", "")
    typed = data.get(CODE_FIELD, "")
    decoded = decode(request, positions, purpose=purpose)
    if positions and typed:
        # The page's script keeps only one of the two; a post with both was not made by it.
        return CodeEntry(
            keypad_error=_(
                "Saisissez votre code soit sur le pavé, soit dans le champ, pas les deux."
            )
        )
    if typed:
        code = typed_code(typed)
        if code is None:
            return CodeEntry(
                field_error=_("Le code personnel doit comporter exactement 6 chiffres.")
            )
        return CodeEntry(code=code)
    if decoded is None:
        return CodeEntry(
            keypad_error=_("Votre code n’a pas pu être lu. Saisissez vos 6 chiffres sur le pavé.")
        )
    return CodeEntry(code=decoded)
