"""Business actions on an association's file: registration, the staff workflow, enrolment.

The workflow is a small state machine::

    draft ──submit──▶ submitted ──validate──▶ validated ──enrol──▶ (visible)
                        │   ▲
      request_correction│   │submit (resubmission)
                        ▼   │
                 correction_requested
    submitted / correction_requested ──reject──▶ rejected

Each transition locks the association row, re-checks its status, writes the new status and a
``StatusChange`` (who, when, which event, from, to, why) in one transaction
(``associations.workflow.transition``, the one step every workflow of this app takes), and
queues the email only once the transaction has committed. Enrolling in a program and withdrawing from
one leave the status as it is and record their own event (``enrolled``, ``unenrolled``).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.identity import Identity
from accounts.models import User
from associations import selectors
from associations.models import FILE_FIELDS, Association, StatusChange, normalize_search
from associations.workflow import InvalidTransition, WorkflowError, transition
from cagnotte.campaigns import Enrollment, enrollable_programs
from cagnotte.models import Program
from caisses.models import CaisseLocale, CaisseRegionale
from caisses.staff import may_act_on
from tookets import outbox

Status = Association.Status
Event = StatusChange.Event

# Statuses in which the association may still edit its file.
EDITABLE_STATUSES = frozenset({Status.DRAFT, Status.CORRECTION_REQUESTED})

# Fields the registration wizard writes; anything else is refused by ``save_registration_step``.
WIZARD_FIELDS = frozenset(FILE_FIELDS)

# What a file needs before it can be submitted, with the label shown to the president.
REQUIRED_FIELDS = {
    "name": "nom",
    "rna_number": "numéro RNA",
    "jo_publication_date": "date de parution au Journal Officiel",
    "president_name": "représentant(e) légal(e)",
    "email": "e-mail de contact",
    "presentation": "présentation",
    "activity": "activité",
    "domain": "domaine",
    "caisse_locale": "caisse locale",
    "address": "adresse",
    "postal_code": "code postal",
    "city": "ville",
    "latitude": "position sur la carte",
    "longitude": "position sur la carte",
}


class NotEligible(WorkflowError):
    pass


class IncompleteRegistration(WorkflowError):
    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(_("Le dossier est incomplet : %s.") % ", ".join(missing))


@dataclass(frozen=True)
class RegistrationStart:
    association: Association | None
    refusal: str = ""  # a French message when the identity may not register


# --- Registration (the association's side) --------------------------------------------------


def start_registration(*, caisse: CaisseRegionale, identity: Identity, user: User) -> Association:
    """The association's file for this bank account, created as a draft pre-filled from the bank.

    Idempotent: authenticating again finds the same row (one per regional bank and account), so
    the progress of the wizard survives a logout. A row that staff created without a login gets
    linked to the association's user.
    """
    if not identity.is_association:
        raise NotEligible(
            _(
                "Ce compte n’est pas un compte d’association. Saisissez le numéro de compte "
                "de l’association (11 chiffres) et votre code personnel."
            )
        )
    if not identity.is_societaire:
        raise NotEligible(
            _(
                "Cette association n’est pas sociétaire de la Caisse régionale : elle ne peut "
                "pas s’inscrire à Tookets. Rapprochez-vous de votre agence."
            )
        )
    prefill = identity.prefill or {}
    with transaction.atomic():
        association = (
            Association.objects.select_for_update()
            .filter(caisse_regionale=caisse, account_number=identity.account_number)
            .first()
        )
        if association is None:
            association = Association(
                caisse_regionale=caisse,
                account_number=identity.account_number,
                user=user,
                name=(prefill.get("name") or identity.name)[:200],
                email=prefill.get("email") or identity.email or "",
                phone=(prefill.get("phone") or "")[:20],
                address=(prefill.get("address") or "")[:200],
                postal_code=(prefill.get("postal_code") or "")[:10],
                city=(prefill.get("city") or "")[:100],
                caisse_locale_id=identity.caisse_locale_id,
                status=Status.DRAFT,
            )
            association.save()
            StatusChange.objects.create(
                association=association,
                event=Event.STARTED,
                from_status="",
                to_status=Status.DRAFT,
                actor=user,
                message=_("Inscription commencée."),
            )
        elif association.user_id is None:
            association.user = user
            association.save(update_fields=["user", "updated_at"])
        elif association.user_id != user.pk:
            # The unique constraints tie one user to one (bank, account): this cannot happen
            # unless the data was edited by hand.
            raise NotEligible(_("Ce dossier est rattaché à un autre compte."))
    return association


def save_registration_step(*, association: Association, fields: dict) -> Association:
    """Write one wizard step to the draft, only while the file is still editable."""
    unknown = set(fields) - WIZARD_FIELDS
    if unknown:
        raise ValueError(f"not a wizard field: {sorted(unknown)}")
    values = dict(fields)
    if "name" in values:
        values["search_name"] = normalize_search(values["name"])
    values["updated_at"] = timezone.now()
    with transaction.atomic():
        changed = Association.objects.filter(
            pk=association.pk, status__in=EDITABLE_STATUSES
        ).update(**values)
        if changed != 1:
            raise InvalidTransition(
                _("Ce dossier a déjà été envoyé : il ne peut plus être modifié.")
            )
    association.refresh_from_db()
    return association


def registration_problems(association: Association) -> list[str]:
    """What still prevents submitting the file, in French (empty when it is complete)."""
    missing = []
    for field, label in REQUIRED_FIELDS.items():
        value = getattr(association, f"{field}_id" if field in _FK_FIELDS else field)
        if value in (None, "") and label not in missing:
            missing.append(label)
    cr = association.caisse_regionale
    if association.latitude is not None and association.longitude is not None:
        if not position_in_territory(cr, association.latitude, association.longitude):
            missing.append(_("position dans le territoire de la Caisse régionale"))
    if association.caisse_locale_id and not caisse_locale_fits(
        association=association, caisse_locale=association.caisse_locale
    ):
        missing.append(_("caisse locale de la Caisse régionale"))
    if association.jo_publication_date and association.jo_publication_date > (timezone.localdate()):
        missing.append(_("date de parution au Journal Officiel passée"))
    return missing


_FK_FIELDS = {"activity", "domain", "caisse_locale"}


def caisse_locale_fits(*, association: Association, caisse_locale: CaisseLocale) -> bool:
    """An association's local bank is one of its regional bank's."""
    return caisse_locale.caisse_regionale_id == association.caisse_regionale_id


def position_in_territory(cr: CaisseRegionale, latitude: float, longitude: float) -> bool:
    return cr.min_lat <= latitude <= cr.max_lat and cr.min_lng <= longitude <= cr.max_lng


def submit_registration(*, association: Association, actor: User) -> Association:
    """draft → submitted, or correction_requested → submitted (a resubmission)."""
    if actor.pk is None or association.user_id != actor.pk:
        raise PermissionDenied("only the association's own account submits its file")
    problems = registration_problems(association)
    if problems:
        raise IncompleteRegistration(problems)
    return _transition(
        association=association,
        events={Status.DRAFT: Event.SUBMITTED, Status.CORRECTION_REQUESTED: Event.RESUBMITTED},
        to=Status.SUBMITTED,
        actor=actor,
        message="",
        set_fields={"submitted_at": timezone.now()},
    )


# --- Staff decisions ------------------------------------------------------------------------


def check_staff_scope(*, staff: User, association: Association) -> None:
    """Staff act only on their own regional bank's associations; national staff on all."""
    if not may_act_on(staff, association.caisse_regionale_id):
        raise PermissionDenied("not bank staff of the association's regional bank")


def request_correction(*, association: Association, staff: User, message: str) -> Association:
    message = (message or "").strip()
    if not message:
        raise WorkflowError(_("Indiquez à l’association ce qu’elle doit corriger."))
    check_staff_scope(staff=staff, association=association)
    return _transition(
        association=association,
        events={Status.SUBMITTED: Event.CORRECTION_REQUESTED},
        to=Status.CORRECTION_REQUESTED,
        actor=staff,
        message=message,
    )


def validate_association(
    *, association: Association, staff: User, message: str = ""
) -> Association:
    check_staff_scope(staff=staff, association=association)
    return _transition(
        association=association,
        events={Status.SUBMITTED: Event.VALIDATED},
        to=Status.VALIDATED,
        actor=staff,
        message=(message or "").strip(),
        set_fields={"validated_at": timezone.now()},
    )


def reject_association(*, association: Association, staff: User, reason: str) -> Association:
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Indiquez le motif du refus."))
    check_staff_scope(staff=staff, association=association)
    return _transition(
        association=association,
        events={Status.SUBMITTED: Event.REJECTED, Status.CORRECTION_REQUESTED: Event.REJECTED},
        to=Status.REJECTED,
        actor=staff,
        message=reason,
    )


def enroll_association(
    *, association: Association, programs: Iterable[Program], staff: User
) -> list[Enrollment]:
    """Make a validated association eligible for this year's program(s) of its bank.

    Idempotent per (association, program): enrolling twice keeps one enrolment (the unique
    constraint backs this up). Returns the enrolments created by this call.
    """
    check_staff_scope(staff=staff, association=association)
    programs = list(programs)
    if not programs:
        raise WorkflowError(_("Choisissez au moins un programme."))
    allowed_ids = set(
        enrollable_programs(caisse_regionale_ids=[association.caisse_regionale_id]).values_list(
            "pk", flat=True
        )
    )
    for program in programs:
        if program.caisse_regionale_id != association.caisse_regionale_id:
            raise NotEligible(
                _(
                    "Le programme « %s » n’est pas un programme de la Caisse régionale de l’association."
                )
                % program
            )
        if program.pk not in allowed_ids:
            raise NotEligible(
                _("Le programme « %s » n’est pas un programme de la campagne en cours.") % program
            )
    with transaction.atomic():
        # The association's row lock serialises enrolments of one association, so the check
        # for existing enrolments below cannot race with another enrolment.
        locked = Association.objects.select_for_update().get(pk=association.pk)
        if locked.status != Status.VALIDATED:
            raise InvalidTransition(
                _("Seule une association validée peut être enrôlée (statut actuel : %s).")
                % locked.get_status_display()
            )
        existing = set(
            Enrollment.objects.filter(association=locked, program__in=programs).values_list(
                "program_id", flat=True
            )
        )
        created = [
            Enrollment.objects.create(association=locked, program=p, enrolled_by=staff)
            for p in sorted(programs, key=lambda p: p.pk)
            if p.pk not in existing
        ]
        if created:
            change = StatusChange.objects.create(
                association=locked,
                event=Event.ENROLLED,
                from_status=locked.status,
                to_status=locked.status,
                actor=staff,
                message=_("Enrôlée dans : %s.") % ", ".join(str(e.program) for e in created),
            )
            _queue_email(change)
    association.refresh_from_db()
    return created


def renew_eligibility(
    *, program: Program, association_ids: Iterable[int], staff: User
) -> list[Enrollment]:
    """« La liste évolue tous les ans »: retain for ``program`` the chosen associations of its
    previous campaign's list (``selectors.renewal_candidates``), in one decision: one
    transaction, each enrolment an event in its association's history, each association told
    by email that it is retained for the year. They show to members from the program's
    opening (the open rule), not before.

    Staff of the program's bank only; the program must not be closed
    (``Program.objects.renewable_on``). An id that is no candidate (another bank's, no longer
    validated, not on last year's list, already enrolled) is refused, nothing is written.
    """
    if not may_act_on(staff, program.caisse_regionale_id):
        raise PermissionDenied("not bank staff of the program's regional bank")
    ids = sorted({int(pk) for pk in association_ids})
    if not ids:
        raise WorkflowError(_("Choisissez au moins une association."))
    with transaction.atomic():
        # The program's row: two renewals of one program run one after the other.
        program = Program.objects.select_for_update().get(pk=program.pk)
        if not Program.objects.renewable_on().filter(pk=program.pk).exists():
            raise NotEligible(_("La campagne « %s » est close : plus d’enrôlement.") % program)
        # Locked in id order (as every writer of several associations), then re-checked.
        locked = list(
            selectors.renewal_candidates(program)
            .filter(pk__in=ids)
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        if len(locked) != len(ids):
            raise NotEligible(
                _(
                    "Certaines associations choisies ne sont plus à reconduire (retirées, "
                    "déjà retenues ou d’une autre Caisse régionale) : rechargez la page."
                )
            )
        created = Enrollment.objects.bulk_create(
            [Enrollment(association=a, program=program, enrolled_by=staff) for a in locked]
        )
        message = _("Retenue pour la campagne %(label)s, à partir du %(date)s.") % {
            "label": program.label,
            "date": program.opens_on.strftime("%d/%m/%Y"),
        }
        changes = StatusChange.objects.bulk_create(
            [
                StatusChange(
                    association=a,
                    event=Event.ENROLLED,
                    from_status=a.status,
                    to_status=a.status,
                    actor=staff,
                    message=message,
                )
                for a in locked
            ]
        )
        for change in changes:
            _queue_email(change)
    return created


def enroll_in_bank_programs(
    *, association: Association, programs: Iterable[Program], staff: User
) -> list[Enrollment]:
    """Enrol an association in those of ``programs`` that belong to its regional bank.

    For a decision taken on several associations at once (national staff may select several
    banks' associations and tick several banks' programs): each one gets its own bank's.
    Raises when none is its bank's, or when it was enrolled in all of them already.
    """
    own = [p for p in programs if p.caisse_regionale_id == association.caisse_regionale_id]
    if not own:
        raise NotEligible(_("aucun des programmes choisis n’est de sa Caisse régionale."))
    created = enroll_association(association=association, programs=own, staff=staff)
    if not created:
        raise WorkflowError(_("déjà enrôlée dans ce(s) programme(s)."))
    return created


def unenroll_association(
    *, association: Association, programs: Iterable[Program], staff: User, reason: str
) -> list[Program]:
    """Withdraw an association from program(s) it is enrolled in: it stops receiving their
    Tookets from now on (what it received stays in the ledger). Says why, in the history.

    Returns the programs it was withdrawn from; raises when it was enrolled in none of them.
    """
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Indiquez le motif du retrait."))
    check_staff_scope(staff=staff, association=association)
    program_ids = {p.pk for p in programs}
    with transaction.atomic():
        # The same lock as enrolment: a withdrawal and an enrolment of one association are
        # serialised, and the history lists them in the order they happened.
        locked = Association.objects.select_for_update().get(pk=association.pk)
        enrolments = list(
            Enrollment.objects.select_related("program")
            .filter(association=locked, program_id__in=program_ids)
            .order_by("program_id")
        )
        if not enrolments:
            raise WorkflowError(_("n’est enrôlée dans aucun de ces programmes."))
        withdrawn = [e.program for e in enrolments]
        Enrollment.objects.filter(pk__in=[e.pk for e in enrolments]).delete()
        StatusChange.objects.create(
            association=locked,
            event=Event.UNENROLLED,
            from_status=locked.status,
            to_status=locked.status,
            actor=staff,
            message=_("Retirée de : %(programs)s. Motif : %(reason)s")
            % {"programs": ", ".join(str(p) for p in withdrawn), "reason": reason},
        )
    return withdrawn


# --- Internals ------------------------------------------------------------------------------


def _transition(
    *,
    association: Association,
    events: dict[str, str],
    to: str,
    actor: User,
    message: str,
    set_fields: dict | None = None,
) -> Association:
    """The file's step (``associations.workflow.transition``): its event is a
    ``StatusChange``, its email queued in the same transaction."""

    def record(locked: Association, event: str, from_status: str) -> None:
        change = StatusChange.objects.create(
            association=locked,
            event=event,
            from_status=from_status,
            to_status=to,
            actor=actor,
            message=message,
        )
        _queue_email(change)

    transition(
        Association.objects,
        association.pk,
        events=events,
        to=to,
        record=record,
        refusal=_("Action impossible : le dossier est « %(status)s »."),
        set_fields=set_fields,
        touch=("updated_at",),
    )
    association.refresh_from_db()
    return association


def _queue_email(change: StatusChange) -> None:
    outbox.enqueue("associations.tasks.send_decision_email", status_change_id=change.pk)
