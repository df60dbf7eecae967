"""Credit periods: a month written ``YYYY-MM``, as in the bank's credit files.

The one place a period is read (``parse_period``, ``is_period``), named (``period_label``:
« décembre 2024 ») and computed (``current_period``, ``previous_period``). In the kernel
because the pages' money filters need it as much as the ledger, the imports and the emails.
"""

from __future__ import annotations

import datetime
import re

from django.utils import timezone

# Four ASCII digits, a dash, a month 01–12 (``str.isdigit`` would also take « ٣ »).
PERIOD_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

# French whatever language is active: emails leave from workers, pages are French.
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def is_period(text: str) -> bool:
    return PERIOD_RE.fullmatch(text) is not None


def parse_period(period: str) -> datetime.date:
    """``YYYY-MM`` → the first day of that month; ``ValueError`` (in French) otherwise."""
    try:
        if is_period(period):
            return datetime.date(int(period[:4]), int(period[5:]), 1)
    except ValueError:  # year 0000
        pass
    raise ValueError(f"période invalide : {period!r} (attendu AAAA-MM)")


def period_of(day: datetime.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_label(period: str) -> str:
    """« 2024-12 » → « décembre 2024 »; ``ValueError`` when it is not a period."""
    first = parse_period(period)
    return f"{MONTHS[first.month - 1]} {first.year}"


def current_period(on: datetime.date | None = None) -> str:
    """The period of a day (today by default): this month's credits carry it."""
    return period_of(on or timezone.localdate())


def previous_period(on: datetime.date | None = None) -> str:
    """The month before ``on`` (today by default): the recap of a month goes out once its
    credits are in, early the next month."""
    first = (on or timezone.localdate()).replace(day=1)
    return period_of(first - datetime.timedelta(days=1))
