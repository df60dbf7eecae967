from django import template

register = template.Library()

THIN_SPACE = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"


@register.filter
def tookets(value) -> str:
    """Whole Tookets as the guide writes them: « 9 830 K » (thin space between thousands)."""
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", THIN_SPACE) + f"{NBSP}K"
