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
* ``Program.objects.not_swept()`` — the program still holds balances (open, or closed and
  waiting for its sweep): the monthly recap covers it;
* ``receiving_enrollments(program_ids)`` — the enrolments through which an association can
  receive in a program: a validated association enrolled in it.

A rule about one program asks the same queryset (``Program.is_open``, ``is_closed``,
``reminder_is_due``), and a query reaching programs through a relation uses the rule's
condition with a prefix (``open_condition``, ``not_swept_condition``): nothing restates the
dates or ``swept_at`` by hand elsewhere.

The models live here, next to their rules; ``cagnotte.models`` re-exports them.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
        return self.filter(Q(closes_on__lt=_today(day)) | ~not_swept_condition())

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
        return f"{self.name} ({self.year})"

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
