"""Credit periods « YYYY-MM », read and named in one place (tookets/periods.py)."""

import datetime

import pytest

from tookets.money import month
from tookets.periods import (
    current_period,
    is_period,
    parse_period,
    period_label,
    previous_period,
)


@pytest.mark.parametrize(
    "text, first",
    [("2024-12", datetime.date(2024, 12, 1)), ("2026-01", datetime.date(2026, 1, 1))],
)
def test_a_period_reads_as_the_first_day_of_its_month(text, first):
    assert is_period(text)
    assert parse_period(text) == first


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-3",
        "2026/03",
        "mars",
        "2026-13",
        "2026-00",
        "20260-1",
        "٢٠٢٦-03",
        "2026-03 ",
        "0000-01",
    ],
)
def test_anything_else_is_refused_in_french(text):
    with pytest.raises(ValueError, match="période invalide"):
        parse_period(text)
    assert month(text) == ""


def test_0000_is_a_period_for_the_import_rule_but_not_a_date():
    # The import's SQL and Python twins accept it (four digits); it names no month to show.
    assert is_period("0000-01")


def test_labels_are_french_whatever_the_language():
    assert period_label("2024-12") == "décembre 2024"
    assert period_label("2026-08") == "août 2026"
    assert month("2026-02") == "février 2026"  # the pages' filter says the same


def test_current_and_previous_periods():
    assert current_period(datetime.date(2026, 3, 31)) == "2026-03"
    assert previous_period(datetime.date(2026, 3, 5)) == "2026-02"
    assert previous_period(datetime.date(2026, 1, 1)) == "2025-12"
    assert is_period(current_period()) and is_period(previous_period())
