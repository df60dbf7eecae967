"""The campaign rules, each written once in cagnotte/campaigns.py: open, closed, sweepable,
reminder due, not swept; a program asks the same queryset as a list of programs."""

import datetime

import pytest
from django.utils import timezone

from cagnotte.campaigns import Program
from cagnotte.sweep import SweepRefused, check_sweepable
from tests import factories as f

OPENS = datetime.date(2026, 1, 1)
CLOSES = datetime.date(2026, 12, 31)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def campaign(pg_caisse):
    return f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="carte-2026",
        year=2026,
        opens_on=OPENS,
        closes_on=CLOSES,
        reminder_days_before=21,
    )


def codes(queryset):
    return sorted(queryset.filter(code__startswith="carte-2026").values_list("code", flat=True))


@pytest.mark.parametrize(
    "day, is_open, is_closed, sweepable, reminder",
    [
        (OPENS - DAY, False, False, False, False),  # not opened yet
        (OPENS, True, False, False, False),
        (CLOSES - 22 * DAY, True, False, False, False),
        (CLOSES - 21 * DAY, True, False, False, True),  # reminder_days_before
        (CLOSES, True, False, False, True),  # the last day still open
        (CLOSES + DAY, False, True, True, False),  # closed, waiting for the sweep
    ],
)
def test_each_rule_through_the_year(campaign, day, is_open, is_closed, sweepable, reminder):
    qs = Program.objects.all()
    assert (codes(qs.open_on(day)) == ["carte-2026"]) is is_open
    assert (codes(qs.closed_on(day)) == ["carte-2026"]) is is_closed
    assert (codes(qs.sweepable_on(day)) == ["carte-2026"]) is sweepable
    assert (codes(qs.reminder_due_on(day)) == ["carte-2026"]) is reminder
    # One program asks the same queryset.
    assert campaign.is_open(day) is is_open
    assert campaign.is_closed(day) is is_closed
    assert campaign.reminder_is_due(day) is reminder
    assert codes(qs.not_swept()) == ["carte-2026"]


def test_a_swept_program_is_closed_everywhere(campaign):
    Program.objects.filter(pk=campaign.pk).update(swept_at=timezone.now())
    campaign.refresh_from_db()
    day = CLOSES - 5 * DAY  # swept before its closing date
    qs = Program.objects.all()
    assert campaign.is_swept
    assert codes(qs.open_on(day)) == codes(qs.reminder_due_on(day)) == []
    assert codes(qs.closed_on(day)) == ["carte-2026"]
    assert codes(qs.sweepable_on(CLOSES + DAY)) == codes(qs.not_swept()) == []
    assert not campaign.reminder_is_due(day) and campaign.is_closed(day)
    check_sweepable(campaign, day=day)  # nothing to refuse: its sweep does nothing


def test_the_reminder_follows_the_program_setting(campaign):
    Program.objects.filter(pk=campaign.pk).update(reminder_days_before=5)
    assert not campaign.reminder_is_due(CLOSES - 6 * DAY)
    assert campaign.reminder_is_due(CLOSES - 5 * DAY)
    Program.objects.filter(pk=campaign.pk).update(reminder_days_before=0)
    assert not campaign.reminder_is_due(CLOSES - DAY)
    assert campaign.reminder_is_due(CLOSES)


def test_the_sweep_refuses_a_program_not_closed(campaign):
    for day in (OPENS - DAY, OPENS, CLOSES):
        with pytest.raises(SweepRefused, match="ouvert jusqu’au 31/12/2026"):
            check_sweepable(campaign, day=day)
    check_sweepable(campaign, day=CLOSES + DAY)
