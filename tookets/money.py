"""One money format for every page: ``{% load money %}`` then ``{{ amount|tookets }}``.

Whole Tookets as the guide writes them, French style: « 9 830 K », « −1 440 K », a narrow
no-break space (U+202F) between thousands, a no-break space before the K so the unit never
wraps alone, and a true minus sign (U+2212). ``|tookets:"signed"`` adds « + » to gains (the
wallet's history).
"""

from django import template

from tookets.periods import period_label

register = template.Library()

THIN_SPACE = "\u202f"  # narrow no-break space: the French thousands separator
NBSP = "\u00a0"
MINUS = "\u2212"


def format_tookets(value, signed: bool = False) -> str:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    sign = MINUS if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}{abs(amount):,}".replace(",", THIN_SPACE) + f"{NBSP}K"


@register.filter
def tookets(value, arg: str = "") -> str:
    """``9830`` → « 9 830 K »; ``-1440`` → « −1 440 K »; ``|tookets:"signed"`` → « +410 K »."""
    return format_tookets(value, signed=arg == "signed")


@register.filter
def euros(cents) -> str:
    """Integer euro cents (1 K = 1 cent) as « 1 234,56 € »."""
    try:
        cents = int(cents)
    except (TypeError, ValueError):
        return ""
    sign = MINUS if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", THIN_SPACE) + f",{rest:02d}{NBSP}€"


@register.filter
def month(period) -> str:
    """A credit's period « 2026-11 » as « novembre 2026 » (empty when it is not a period)."""
    try:
        return period_label(str(period))
    except ValueError:
        return ""
