"""The association's space: where its file stands and what it received."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from associations.models import Association, DirectoryVersion, StatusChange
from associations.services import EDITABLE_STATUSES
from cagnotte.campaigns import (
    CampaignStatus,
    Program,
    campaign_paid_at,
    campaign_state,
    open_programs_of,
    receiving_enrollments,
)
from cagnotte.figures import read_figures
from cagnotte.models import (
    AssociationTotals,
    AssociationYearTotals,
    Favourite,
    PayoutLine,
    PayoutStatement,
    Wallet,
)
from cagnotte.selectors import payouts_of
from tookets.compiled import PLACEHOLDER
from tookets.fragments import render_fragment
from tookets.prepared import prepared_cursor

STAFF_DECISIONS = [
    StatusChange.Event.CORRECTION_REQUESTED,
    StatusChange.Event.VALIDATED,
    StatusChange.Event.REJECTED,
]

Status = Association.Status


def status_in_words(association: Association, *, open_programs: list, last_message: str) -> str:
    if association.status == Status.DRAFT:
        return _("Inscription à compléter")
    if association.status == Status.SUBMITTED:
        return _("En cours de vérification")
    if association.status == Status.CORRECTION_REQUESTED:
        return _("Correction demandée : %(message)s") % {"message": last_message}
    if association.status == Status.REJECTED:
        return _("Refusée : %(reason)s") % {"reason": last_message}
    if open_programs:
        return _("Visible")
    return _("Validée, visible à partir de son enrôlement")


def space_state(user, *, year: int) -> tuple | None:
    """What names the space of the association whose login is ``user``, without reading the
    page: one small query, for the page's cached fragment (``tookets.fragments``); None when
    the login has no association yet.

    * the association's id, name, status and regional bank as they are (a file that is not
      validated changes without bumping the directory's version);
    * the directory's version, bumped by the database on any write to a program or an
      enrolment (the programs in progress, their names and dates, with the day);
    * how many status changes its file has and the last one's id: they are append-only
      (refused by the database on PostgreSQL), so a new staff message is a new count;
    * its summary figures (a gift changes them) and its payout lines with their statement's
      status and payment date (a statement marked sent or paid);
    * how many members chose it as favourite, and the forecast of what the sweep would bring
      it (``forecast_of``: per campaign, the favourite-holders' balances), rows of their own.
    """
    forecast_sql, compiled = _forecast_sql()
    forecast_params = [user.pk if value == _USER else value for value in compiled]
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT a.id, a.name, a.status, a.caisse_regionale_id, v.version, "
            f"(SELECT COUNT(*) FROM {StatusChange._meta.db_table} h "
            "WHERE h.association_id = a.id), "
            f"(SELECT MAX(h.id) FROM {StatusChange._meta.db_table} h "
            "WHERE h.association_id = a.id), "
            "t.supporters, t.received_total, t.first_year, y.received, "
            "l.id, l.amount_cents, l.iban_problem, s.id, s.program_id, s.status, s.paid_at, "
            f"(SELECT COUNT(*) FROM {Favourite._meta.db_table} fav "
            "WHERE fav.association_id = a.id), 0, NULL, NULL, NULL "
            f"FROM {Association._meta.db_table} a "
            f"LEFT JOIN {DirectoryVersion._meta.db_table} v ON v.id = 1 "
            f"LEFT JOIN {AssociationTotals._meta.db_table} t ON t.association_id = a.id "
            f"LEFT JOIN {AssociationYearTotals._meta.db_table} y "
            "ON y.association_id = a.id AND y.year = %s "
            f"LEFT JOIN {PayoutLine._meta.db_table} l ON l.association_id = a.id "
            f"LEFT JOIN {PayoutStatement._meta.db_table} s ON s.id = l.statement_id "
            "WHERE a.user_id = %s "
            # The forecast's rows, after the association's (column 20 says which is which).
            "UNION ALL SELECT " + "NULL, " * 18 + "NULL, 1, f.* "
            f"FROM ({forecast_sql}) AS f ORDER BY 20, 12, 21",
            [year, user.pk, *forecast_params],
        )
        rows = cursor.fetchall()
    if not rows or rows[0][19] != 0:
        return None
    association, version, rest = rows[0][:4], rows[0][4], rows[0][5:11]
    if version is None:  # the row is gone (a TRUNCATE): made again, from a new start
        version = DirectoryVersion.current()
    main = [row for row in rows if row[19] == 0]
    payouts = tuple(row[11:18] for row in main if row[11] is not None)
    forecast = tuple((row[20], row[21], int(row[22])) for row in rows if row[19] == 1)
    return (user.pk, association, version, rest, payouts, rows[0][18], forecast)


# Stands for the login's id in ``_forecast_sql`` (no id is negative).
_USER = PLACEHOLDER  # tookets.compiled's: one sentinel for every statement compiled once


@functools.cache
def _forecast_sql() -> tuple[str, tuple]:
    """``forecast_of``'s statement, compiled once per process with ``_USER`` in the login's
    place (the ORM took longer to compile it than the space's state took to run)."""
    sql, params = forecast_of(_USER).query.sql_with_params()
    return sql, tuple(params)


def forecast_of(user):
    """What the year-end sweep would bring the association of ``user`` if nothing changed: per
    campaign not swept yet in which it can receive (validated, enrolled:
    ``receiving_enrollments``), how many members who chose it as favourite hold Tookets there
    and their balances: ``(program id, members, Tookets)`` rows. A forecast: members give,
    earn and change favourite until the sweep. Never who they are."""
    programs = receiving_enrollments().filter(
        association__user=user, program__in=Program.objects.not_swept()
    )
    return (
        Wallet.objects.filter(
            balance__gt=0,
            member__favourite__association__user=user,
            program_id__in=programs.values("program_id"),
        )
        .values("program_id")
        .annotate(members=Count("pk"), tookets=Sum("balance"))
        .values_list("program_id", "members", "tookets")
        .order_by()
    )


def own_association(request, *, validated: bool = False, missing: str = "") -> Association:
    """The association this login manages, for the space's own pages (projects, messages,
    poster, certificates): ``PermissionDenied`` for any other kind of account, 404 (saying
    ``missing``) when it has none — with ``validated``, none validated yet."""
    user = request.user
    if user.kind != user.Kind.ASSOCIATION:
        raise PermissionDenied
    associations = Association.objects.select_related("caisse_regionale").filter(user=user)
    if validated:
        associations = associations.filter(status=Association.Status.VALIDATED)
    association = associations.first()
    if association is None:
        raise Http404(missing)
    return association


@login_required
def space(request):
    """The association's own page. Its content is a cached fragment named by ``space_state``:
    the file, its history, enrolments, figures and payouts are read only when it is new."""
    user = request.user
    if user.kind != user.Kind.ASSOCIATION:
        # Members and staff have no association space; the association's page is its own.
        return render(request, "associations/space_forbidden.html", status=403)
    today = timezone.localdate()
    state = space_state(user, year=today.year)
    if state is None:
        messages.info(request, _("Votre association n’est pas encore inscrite : commencez ici."))
        return redirect("associations:register")
    content = render_fragment(
        request,
        "associations/_space_content.html",
        # The day: programs open and close by date, and « cette année » is its year.
        state=(state, today),
        context=lambda: space_context(user, today=today, state=state),
    )
    return render(request, "associations/space.html", {"content": content})


def space_context(user, *, today, state=None) -> dict:
    """What the space shows, read from the database (a fragment's miss); the favourites and
    the forecast come from ``state`` (``space_state``), which read them."""
    association = (
        Association.objects.select_related(
            "caisse_regionale", "caisse_locale", "activity", "domain"
        )
        .filter(user=user)
        .first()
    )
    if association is None:  # deleted since its state was read: a 404 is never cached
        raise Http404
    enrollments = list(
        association.enrollments.select_related("program")
        .annotate(
            campaign_state=campaign_state(today, prefix="program__"),
            campaign_paid_at=campaign_paid_at(prefix="program__"),
        )
        .order_by("-program__year", "program__name")
    )
    open_ids = set(
        open_programs_of(caisse_regionale_id=association.caisse_regionale_id, day=today)
        .filter(enrollments__association=association)
        .values_list("pk", flat=True)
    )
    open_programs = [e.program for e in enrollments if e.program_id in open_ids]
    last_decision = (
        # The staff's last word on the file itself (an enrolment's note is not one).
        association.history.filter(event__in=STAFF_DECISIONS)
        .exclude(message="")
        .exclude(actor=user)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    last_message = last_decision.message if last_decision else ""
    figures = read_figures([association.pk], year=today.year)[0][association.pk]
    favourites, forecast = (
        (state[5], dict((p, (n, k)) for p, n, k in state[6]))
        if state
        else (
            0,
            {},
        )
    )
    # Per campaign still running or waiting for its sweep: its state and the forecast.
    coming = []
    for e in enrollments:
        status = CampaignStatus(e.program, e.campaign_state, e.campaign_paid_at)
        if status.is_over:
            continue
        members, tookets = forecast.get(e.program_id, (0, 0))
        coming.append({"campaign": status, "members": members, "tookets": tookets})
    return {
        "favourites": favourites,
        "coming": coming,
        "association": association,
        "status_text": status_in_words(
            association, open_programs=open_programs, last_message=last_message
        ),
        "last_decision": last_decision,
        "can_edit": association.status in EDITABLE_STATUSES,
        "enrollments": enrollments,
        "open_programs": open_programs,
        "figures": figures,
        "payouts": payouts_of(association_id=association.pk),
        "year": today.year,
    }
