"""Business actions on an association's projects: submit, correct, decide, tell the outcome.

A project follows the file's workflow (``associations.services``)::

    submit ──▶ submitted ──accept──▶ accepted (shown to members, gifts may count for it)
                 │   ▲
    request_correction │ resubmit (the association edits it)
                 ▼   │
          correction_requested
    submitted / correction_requested ──refuse──▶ refused

and, once the association was paid for the project's program, its outcome (« Ce que nous en
avons fait »): written → submitted ──accept / refuse──▶ accepted / refused (refused: it may
write it again).

Each step locks the project row, re-checks its status, writes the new status and a
``ProjectEvent`` in one transaction and queues the email through the outbox (the staff's
decisions through ``associations.workflow.transition``, the step the file's take too).
"""

import datetime

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from associations.models import Association, Project, ProjectEvent
from associations.services import InvalidTransition, WorkflowError, check_staff_scope
from associations.workflow import transition
from cagnotte.campaigns import Program, open_programs_of
from cagnotte.models import PayoutLine, PayoutStatement
from tookets import outbox

Status = Project.Status
Outcome = Project.OutcomeStatus
Event = ProjectEvent.Event

# « Up to a few projects per campaign »: a refused one does not count.
MAX_PROJECTS_PER_PROGRAM = 3
EDITABLE_STATUSES = frozenset({Status.SUBMITTED, Status.CORRECTION_REQUESTED})
EDITABLE_FIELDS = frozenset({"title", "text", "goal", "ends_on", "program"})


def project_programs(association: Association, *, day: datetime.date | None = None):
    """The programs a project may be for: the association's bank's open ones it is enrolled in."""
    return open_programs_of(caisse_regionale_id=association.caisse_regionale_id, day=day).filter(
        enrollments__association=association
    )


def check_dates(*, program: Program, ends_on: datetime.date, today: datetime.date) -> None:
    if ends_on < today:
        raise WorkflowError(_("La date de fin doit être aujourd’hui ou plus tard."))
    if not program.opens_on <= ends_on <= program.closes_on:
        raise WorkflowError(
            _("La date de fin doit être dans la campagne (du %(start)s au %(end)s).")
            % {
                "start": program.opens_on.strftime("%d/%m/%Y"),
                "end": program.closes_on.strftime("%d/%m/%Y"),
            }
        )


def _check_own(association: Association, actor: User) -> None:
    if actor.pk is None or association.user_id != actor.pk:
        raise PermissionDenied("only the association's own account writes its projects")


def submit_project(
    *,
    association: Association,
    actor: User,
    program: Program,
    title: str,
    text: str,
    goal: int,
    ends_on: datetime.date,
    photo: ContentFile | None = None,
) -> Project:
    """A new project, sent to the bank's staff (status ``submitted``)."""
    _check_own(association, actor)
    today = timezone.localdate()
    if not project_programs(association, day=today).filter(pk=program.pk).exists():
        raise WorkflowError(_("Ce programme n’est pas ouvert pour votre association."))
    check_dates(program=program, ends_on=ends_on, today=today)
    with transaction.atomic():
        # The association's row lock serialises its submissions: the count below holds.
        locked = Association.objects.select_for_update().get(pk=association.pk)
        if locked.status != Association.Status.VALIDATED:
            raise InvalidTransition(_("Seule une association validée peut proposer un projet."))
        count = (
            Project.objects.filter(association=locked, program=program)
            .exclude(status=Status.REFUSED)
            .count()
        )
        if count >= MAX_PROJECTS_PER_PROGRAM:
            raise WorkflowError(
                _("Vous avez déjà %(n)d projets pour cette campagne : c’est le maximum.")
                % {"n": MAX_PROJECTS_PER_PROGRAM}
            )
        project = Project(
            association=locked,
            program=program,
            title=title.strip(),
            text=text.strip(),
            goal=goal,
            ends_on=ends_on,
            status=Status.SUBMITTED,
        )
        if photo is not None:
            project.photo.save(photo.name, photo, save=False)
        project.save()
        _record(project, Event.SUBMITTED, from_status="", actor=actor, message="")
    return project


def update_project(
    *, project: Project, actor: User, fields: dict, photo: ContentFile | None = None
) -> Project:
    """The association edits a project not yet decided; a correction asked is resubmitted."""
    _check_own(project.association, actor)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not an editable project field: {sorted(unknown)}")
    program = fields.get("program", project.program)
    if (
        "program" in fields
        and not project_programs(project.association).filter(pk=program.pk).exists()
    ):
        raise WorkflowError(_("Ce programme n’est pas ouvert pour votre association."))
    check_dates(
        program=program,
        ends_on=fields.get("ends_on", project.ends_on),
        today=timezone.localdate(),
    )
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.status not in EDITABLE_STATUSES:
            raise InvalidTransition(
                _("Ce projet a déjà été décidé : il ne peut plus être modifié.")
            )
        for name, value in fields.items():
            setattr(locked, name, value.strip() if isinstance(value, str) else value)
        if photo is not None:
            locked.photo.save(photo.name, photo, save=False)
        from_status = locked.status
        locked.status = Status.SUBMITTED
        locked.save()
        if from_status == Status.CORRECTION_REQUESTED:
            _record(locked, Event.RESUBMITTED, from_status=from_status, actor=actor, message="")
    return locked


# --- Staff decisions ------------------------------------------------------------------------


def accept_project(*, project: Project, staff: User, message: str = "") -> Project:
    return _transition(
        project,
        staff=staff,
        events={Status.SUBMITTED: Event.ACCEPTED},
        to=Status.ACCEPTED,
        message=(message or "").strip(),
        set_fields={"accepted_at": timezone.now()},
    )


def request_project_correction(*, project: Project, staff: User, message: str) -> Project:
    message = (message or "").strip()
    if not message:
        raise WorkflowError(_("Indiquez à l’association ce qu’elle doit corriger."))
    return _transition(
        project,
        staff=staff,
        events={Status.SUBMITTED: Event.CORRECTION_REQUESTED},
        to=Status.CORRECTION_REQUESTED,
        message=message,
    )


def refuse_project(*, project: Project, staff: User, reason: str) -> Project:
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Indiquez le motif du refus."))
    return _transition(
        project,
        staff=staff,
        events={Status.SUBMITTED: Event.REFUSED, Status.CORRECTION_REQUESTED: Event.REFUSED},
        to=Status.REFUSED,
        message=reason,
    )


# --- The outcome (« Ce que nous en avons fait ») ---------------------------------------------


def with_outcome_allowed(queryset):
    """Annotate ``outcome_allowed``: the project is accepted and its association was paid for
    its program (« after the payout »). One rule, read with the rows (the association's list
    of projects: no query per project) or for one project (``outcome_allowed``)."""
    paid = PayoutLine.objects.filter(
        association_id=OuterRef("association_id"),
        statement__program_id=OuterRef("program_id"),
        statement__status=PayoutStatement.Status.PAID,
    )
    return queryset.annotate(
        outcome_allowed=ExpressionWrapper(
            Q(status=Status.ACCEPTED) & Q(Exists(paid)), output_field=BooleanField()
        )
    )


def outcome_allowed(project: Project) -> bool:
    """After the payout: the association was paid for the project's program."""
    return (
        with_outcome_allowed(Project.objects.filter(pk=project.pk))
        .values_list("outcome_allowed", flat=True)
        .first()
        is True
    )


def submit_outcome(
    *, project: Project, actor: User, text: str, photo: ContentFile | None = None
) -> Project:
    _check_own(project.association, actor)
    text = (text or "").strip()
    if not text:
        raise WorkflowError(_("Racontez ce que vous avez fait avec ces Tookets."))
    if not outcome_allowed(project):
        raise InvalidTransition(
            _("Vous pourrez raconter ce que vous en avez fait après le versement.")
        )
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.outcome_status not in (Outcome.NONE, Outcome.REFUSED, Outcome.SUBMITTED):
            raise InvalidTransition(_("Ce compte rendu a déjà été accepté."))
        from_status = locked.outcome_status
        locked.outcome_text = text
        if photo is not None:
            locked.outcome_photo.save(photo.name, photo, save=False)
        locked.outcome_status = Outcome.SUBMITTED
        locked.save()
        _record(locked, Event.OUTCOME_SUBMITTED, from_status=from_status, actor=actor, message="")
    return locked


def accept_outcome(*, project: Project, staff: User, message: str = "") -> Project:
    return _outcome_decision(
        project, staff=staff, to=Outcome.ACCEPTED, event=Event.OUTCOME_ACCEPTED, message=message
    )


def refuse_outcome(*, project: Project, staff: User, reason: str) -> Project:
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Indiquez le motif du refus."))
    return _outcome_decision(
        project, staff=staff, to=Outcome.REFUSED, event=Event.OUTCOME_REFUSED, message=reason
    )


# --- Internals ------------------------------------------------------------------------------


def _outcome_decision(project, *, staff, to, event, message) -> Project:
    check_staff_scope(staff=staff, association=project.association)
    transition(
        Project.objects,
        project.pk,
        field="outcome_status",
        events={Outcome.SUBMITTED: event},
        to=to,
        record=lambda locked, event, from_status: _record(
            locked, event, from_status=from_status, actor=staff, message=message
        ),
        refusal=_("Aucun compte rendu n’attend de décision."),
        touch=("updated_at",),
    )
    project.refresh_from_db()
    return project


def _transition(project, *, staff, events, to, message, set_fields=None) -> Project:
    check_staff_scope(staff=staff, association=project.association)
    # The file's step (``associations.workflow``): two staff members deciding at once, or an
    # edit racing a decision, see the status the other left; one of them is refused.
    transition(
        Project.objects,
        project.pk,
        events=events,
        to=to,
        record=lambda locked, event, from_status: _record(
            locked, event, from_status=from_status, actor=staff, message=message
        ),
        refusal=_("Action impossible : le projet est « %(status)s »."),
        set_fields=set_fields,
        touch=("updated_at",),
    )
    project.refresh_from_db()
    return project


def _record(project: Project, event: str, *, from_status: str, actor: User, message: str):
    change = ProjectEvent.objects.create(
        project=project,
        event=event,
        from_status=from_status,
        to_status=project.outcome_status if event.startswith("outcome") else project.status,
        actor=actor,
        message=message,
    )
    outbox.enqueue("associations.tasks.send_project_email", project_event_id=change.pk)
    return change
