"""Campaigns: programs, enrolment and THE rule "is this program open on this day".

A campaign is a program's year: it opens, members give, it closes, its balances are swept,
the bank pays the associations. Every page, form, service and admin screen that asks whether
a program is open, enrollable, or whether an association can receive in it asks here:

* ``Program.objects.open_on(day)`` — members can give: between the opening and closing dates
  and not swept (a program swept before its closing date is closed everywhere);
* ``Program.objects.enrollable_on(day)`` — staff can enrol associations: a program of the
  current campaign year (or already open) that has neither closed nor been swept;
* ``Program.objects.closed_on(day)`` — past its closing date, or swept (a swept program is
  closed everywhere);
* ``Program.objects.sweepable_on(day)`` — the year-end sweep may run: closed, not swept;
* ``Program.objects.reminder_due_on(day)`` — the year-end reminder may go out: open, and no
  more than the program's ``reminder_days_before`` days before its close;
* ``Program.objects.renewable_on(day)`` — staff may renew last campaign's list into it: not
  closed (``Program.previous`` is that last campaign);
* ``Program.objects.year_end_on(day)`` — the year end is previewed: reminder due, or closed
  and waiting for the sweep;
* ``Program.objects.not_swept()`` — the program still holds balances (open, or closed and
  waiting for its sweep): the monthly recap covers it;
* ``receiving_enrollments(program_ids)`` — the enrolments through which an association can
  receive in a program: a validated association enrolled in it.

How a campaign is named and where it stands, on every page and in every email, is answered
here too: ``Program.label`` (the program's name with its year: « Carte Sociétaire - GERS
2026 ») and ``campaign_state`` (an SQL expression built from the same conditions: upcoming,
open, closed waiting for the sweep, swept, paid — « paid » from the payout statement) read
by ``CampaignStatus`` (what a page says about it: « ouverte jusqu'au 31/12/2026 »…).

A rule about one program asks the same queryset (``Program.is_open``, ``is_closed``,
``reminder_is_due``), and a query reaching programs through a relation uses the rule's
condition with a prefix (``open_condition``, ``not_swept_condition``): nothing restates the
dates or ``swept_at`` by hand elsewhere.

The models live here, next to their rules; ``cagnotte.models`` re-exports them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Func, Q, Value, When
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cagnotte.ledger_partitions import ensure_ledger_partition

# The one status in which an association may receive Tookets (``Association.Status.VALIDATED``;
# a string here so that the campaign rules do not import the associations app's models).
VALIDATED = "validated"


def _today(day: datetime.date | None) -> datetime.date:
    return day or timezone.localdate()


def not_swept_condition(*, prefix: str = "") -> Q:
    """A program not swept yet, as a condition (``prefix`` reaches it through a relation)."""
    return Q(**{f"{prefix}swept_at__isnull": True})


def open_condition(day: datetime.date, *, prefix: str = "") -> Q:
    """The open rule as a condition on a program (``prefix`` reaches it through a relation)."""
    return Q(**{f"{prefix}opens_on__lte": day, f"{prefix}closes_on__gte": day}) & (
        not_swept_condition(prefix=prefix)
    )


def closed_condition(day: datetime.date, *, prefix: str = "") -> Q:
    """Past its closing date, or swept (a swept program is closed everywhere)."""
    return Q(**{f"{prefix}closes_on__lt": day}) | ~not_swept_condition(prefix=prefix)


# A payout statement marked paid (``PayoutStatement.Status.PAID``; a string here, as
# ``VALIDATED``: the payouts' model lives in ``cagnotte.models``, which imports this module).
PAID = "paid"


class CampaignState(models.TextChoices):
    UPCOMING = "upcoming", _("à venir")
    OPEN = "open", _("ouverte")
    CLOSED = "closed", _("close, en attente du soldage")
    SWEPT = "swept", _("soldée")
    PAID = "paid", _("versée aux associations")


def campaign_state(day: datetime.date | None = None, *, prefix: str = "") -> Case:
    """Where a campaign stands on ``day``, as an SQL expression (``prefix`` reaches the
    program through a relation): read with the rows that show it, never one query per
    program. Built from the rules' own conditions, checked in this order: paid (its payout
    statement says so), swept, open, closed, else upcoming."""
    day = _today(day)
    return Case(
        When(Q(**{f"{prefix}payout_statement__status": PAID}), then=Value(CampaignState.PAID)),
        When(~not_swept_condition(prefix=prefix), then=Value(CampaignState.SWEPT)),
        When(open_condition(day, prefix=prefix), then=Value(CampaignState.OPEN)),
        When(closed_condition(day, prefix=prefix), then=Value(CampaignState.CLOSED)),
        default=Value(CampaignState.UPCOMING),
        output_field=models.CharField(),
    )


def campaign_paid_at(*, prefix: str = "") -> F:
    """When the bank paid the campaign (its statement's ``paid_at``), with ``campaign_state``."""
    return F(f"{prefix}payout_statement__paid_at")


def _date(value) -> str:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date()
    return formats.date_format(value, "d/m/Y")


@dataclass(frozen=True)
class CampaignStatus:
    """What a page says about one campaign: its label and where it stands.

    ``state``: a ``CampaignState`` read with ``campaign_state``; ``paid_at`` with
    ``campaign_paid_at``."""

    program: Program
    state: str
    paid_at: datetime.datetime | None = None

    @property
    def label(self) -> str:
        return self.program.label

    @property
    def is_open(self) -> bool:
        return self.state == CampaignState.OPEN

    @property
    def is_closed(self) -> bool:
        return self.state == CampaignState.CLOSED

    @property
    def is_over(self) -> bool:
        """Swept (and perhaps paid): its balances are gone, it stays in the history."""
        return self.state in (CampaignState.SWEPT, CampaignState.PAID)

    @property
    def text(self) -> str:
        p = self.program
        if self.state == CampaignState.UPCOMING:
            return gettext("ouvre le %(date)s") % {"date": _date(p.opens_on)}
        if self.state == CampaignState.OPEN:
            return gettext("ouverte jusqu’au %(date)s") % {"date": _date(p.closes_on)}
        if self.state == CampaignState.CLOSED:
            return gettext("close le %(date)s, en attente du soldage") % {
                "date": _date(p.closes_on)
            }
        if self.state == CampaignState.PAID and self.paid_at is not None:
            return gettext("soldée, versée aux associations le %(date)s") % {
                "date": _date(self.paid_at)
            }
        if p.swept_at is not None:
            return gettext("soldée le %(date)s") % {"date": _date(p.swept_at)}
        return str(CampaignState(self.state).label)


class _DaysAfter(Func):
    """``date + n days`` in SQL: PostgreSQL adds an integer to a date; SQLite has ``date()``."""

    arity = 2
    output_field = models.DateField()
    template = "(%(expressions)s)"
    arg_joiner = " + "

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="date(%(expressions)s || ' days')",
            arg_joiner=", '+' || ",
            **extra,
        )


class ProgramQuerySet(models.QuerySet):
    def not_swept(self) -> ProgramQuerySet:
        return self.filter(not_swept_condition())

    def open_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        return self.filter(open_condition(_today(day)))

    def enrollable_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        day = _today(day)
        return self.filter(
            Q(year=day.year) | Q(opens_on__lte=day), not_swept_condition(), closes_on__gte=day
        )

    def closed_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        return self.filter(closed_condition(_today(day)))

    def sweepable_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        return self.closed_on(day).not_swept()

    def reminder_due_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        """Open on ``day``, and ``day`` is no more than ``reminder_days_before`` days before
        the close (``closes_on - reminder_days_before <= day``, written on the side of
        ``closes_on`` so that the date column is compared as it is stored)."""
        day = _today(day)
        return self.open_on(day).filter(
            closes_on__lte=_DaysAfter(Value(day), F("reminder_days_before"))
        )

    def renewable_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        """Staff may renew last campaign's eligible list into it: not closed (it may not
        have opened yet; its associations show only from its opening, ``open_on``)."""
        return self.exclude(closed_condition(_today(day)))

    def year_end_on(self, day: datetime.date | None = None) -> ProgramQuerySet:
        """The year end shows before it happens: from the reminder (``reminder_due_on``)
        until the sweep (``sweepable_on``), pages say where each balance will go."""
        day = _today(day)
        return self.reminder_due_on(day) | self.sweepable_on(day)


class Program(models.Model):
    """A Tookets program of one regional bank for one campaign year."""

    caisse_regionale = models.ForeignKey(
        "caisses.CaisseRegionale",
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        related_name="programs",
    )
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("nom"), max_length=120)
    year = models.PositiveSmallIntegerField(_("année de campagne"))
    opens_on = models.DateField(_("ouverture"))
    closes_on = models.DateField(_("clôture"))
    swept_at = models.DateTimeField(_("soldée le"), null=True, blank=True)
    # « Some weeks before the close »: three weeks leave time to choose a favourite.
    reminder_days_before = models.PositiveSmallIntegerField(
        _("rappel de fin de campagne (jours avant la clôture)"),
        default=21,
        help_text=_("Le rappel par e-mail part ce nombre de jours avant la clôture."),
    )

    objects = ProgramQuerySet.as_manager()

    class Meta:
        app_label = "cagnotte"
        ordering = ["-year", "name"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        constraints = [
            models.UniqueConstraint(
                fields=["caisse_regionale", "year", "name"], name="program_unique_per_cr_year"
            ),
            models.CheckConstraint(
                condition=Q(closes_on__gte=models.F("opens_on")), name="program_dates_ordered"
            ),
        ]

    def __str__(self):
        return self.label

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # Opening a campaign makes its ledger partition ahead of its first entry (PostgreSQL).
        ensure_ledger_partition(self.year)

    @property
    def label(self) -> str:
        """The campaign's name wherever two years could be confused: the program's name with
        its year (« Carte Sociétaire - GERS 2026 »), once, even when the name holds it."""
        if str(self.year) in self.name.split():
            return self.name
        return gettext("%(name)s %(year)s") % {"name": self.name, "year": self.year}

    def previous(self) -> Program | None:
        """Last campaign of the same program: the same bank and name, the latest earlier year."""
        return (
            type(self)
            .objects.filter(
                caisse_regionale_id=self.caisse_regionale_id, name=self.name, year__lt=self.year
            )
            .order_by("-year")
            .first()
        )

    def status(self, *, on: datetime.date | None = None) -> CampaignStatus:
        """This campaign's ``CampaignStatus`` on ``on`` (one query: a page of many campaigns
        reads ``campaign_state`` with its rows instead)."""
        row = (
            type(self)
            .objects.filter(pk=self.pk)
            .annotate(state=campaign_state(on), paid=campaign_paid_at())
            .values("state", "paid")
            .get()
        )
        return CampaignStatus(self, row["state"], row["paid"])

    @property
    def is_swept(self) -> bool:
        return self.swept_at is not None

    # The rules for this one program ask the queryset: one rule, one place.

    def is_open(self, on: datetime.date | None = None) -> bool:
        return type(self).objects.open_on(on).filter(pk=self.pk).exists()

    def is_closed(self, on: datetime.date | None = None) -> bool:
        return type(self).objects.closed_on(on).filter(pk=self.pk).exists()

    def reminder_is_due(self, on: datetime.date | None = None) -> bool:
        return type(self).objects.reminder_due_on(on).filter(pk=self.pk).exists()


class Enrollment(models.Model):
    """An association made eligible for one program (one campaign year) by its regional bank.

    Moved from ``associations`` (issue 10); the table keeps its name.
    """

    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.CASCADE,
        related_name="enrollments",
    )
    program = models.ForeignKey(
        Program,
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enrôlée par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    enrolled_at = models.DateTimeField(_("enrôlée le"), auto_now_add=True)

    class Meta:
        app_label = "cagnotte"
        db_table = "associations_enrollment"
        verbose_name = _("enrôlement")
        verbose_name_plural = _("enrôlements")
        constraints = [
            models.UniqueConstraint(fields=["association", "program"], name="enrollment_unique")
        ]
        indexes = [
            models.Index(fields=["program", "association"], name="association_program_21b125_idx")
        ]

    def __str__(self):
        return f"{self.association} — {self.program}"


def receiving_enrollments(*, program_ids=None):
    """Enrolments through which an association can receive: validated and enrolled.

    Whether the program is open is the caller's other half of the rule: a gift asks
    ``open_on``; the sweep runs on closed programs and asks only this.
    """
    qs = Enrollment.objects.filter(association__status=VALIDATED)
    if program_ids is not None:
        qs = qs.filter(program_id__in=program_ids)
    return qs


def open_programs_of(*, caisse_regionale_id: int, day: datetime.date | None = None):
    return Program.objects.open_on(day).filter(caisse_regionale_id=caisse_regionale_id)


def enrollable_programs(*, caisse_regionale_ids, day: datetime.date | None = None):
    """Programs an association of these banks can be enrolled in on ``day``."""
    return Program.objects.enrollable_on(day).filter(
        caisse_regionale_id__in=list(caisse_regionale_ids)
    )
