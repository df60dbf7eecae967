from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

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


@register.simple_tag
def filter_select(bound_field):
    """A filter's <select>, built in Python: Django's per-option widget templates cost more
    than all the page's queries together (about 50 options on every directory page)."""
    current = bound_field.value() or ""
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, mark_safe(" selected") if str(value) == str(current) else "", label)
            for value, label in bound_field.field.choices
        ),
    )
    return format_html(
        '<select name="{}" id="{}">{}</select>',
        bound_field.html_name,
        bound_field.id_for_label,
        options,
    )
