"""The virtual keypad: digits are shown at shuffled positions, the browser posts positions.

The layout of each display is kept in the session and used once: the server maps the posted
positions back to digits. A post replayed in another session (or after the layout was used)
decodes to nothing, so an observer of the posted positions learns nothing reusable.
"""

import secrets

from tookets.http import ascii_digits

KEYPAD_SIZE = 10
CODE_LENGTH = 6
_SESSION_PREFIX = "keypad:"


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
