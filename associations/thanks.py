"""An association's thank-you to its supporters: written, decided by staff, delivered once.

::

    write ──▶ submitted ──accept──▶ accepted ──▶ delivered once (accounts.emails.send_thank_you)
                 │  ▲
           refuse│  │write again
                 ▼  │
               refused

One per campaign (``kind=campaign``) and one more after the payout (``kind=payout``): the
unique constraint (association, program, kind) backs it. Each step records its event
(``ThankYouEvent``, append-only) in its own transaction; the staff's decisions take the
workflows' one step (``associations.workflow.transition``). Accepting queues the delivery in
the decision's transaction (the outbox); the delivery claims each email through
``tookets.send_once``, so two runs at once or a rerun send nothing twice.

Privacy: the recipients are read here and only by the delivery; what the association sees of
them is a count (``ThankYou.reached``).
"""

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from associations.models import Association, ThankYou, ThankYouEvent, ThankYouOptOut
from associations.services import InvalidTransition, WorkflowError, check_staff_scope
from associations.workflow import transition
from cagnotte.campaigns import Enrollment, Program
from cagnotte.models import Favourite, PayoutLine, PayoutStatement, Supporter
from caisses.staff import may_act_on
from tookets import outbox
from tookets.compiled import PLACEHOLDER, compiled_once
from tookets.db_router import read_connection

Status = ThankYou.Status
Kind = ThankYou.Kind
Event = ThankYouEvent.Event
DECISION_EVENTS = {Status.ACCEPTED: Event.ACCEPTED, Status.REFUSED: Event.REFUSED}


def writable_programs(association: Association):
    """The programs it may thank for: those of its bank it was enrolled in or received from."""
    return Program.objects.filter(caisse_regionale_id=association.caisse_regionale_id).filter(
        Q(Exists(Enrollment.objects.filter(program=OuterRef("pk"), association=association)))
        | Q(pk__in=PayoutLine.objects.filter(association=association).values("statement__program"))
    )


def _paid(association: Association, program: Program) -> bool:
    return PayoutLine.objects.filter(
        association=association,
        statement__program=program,
        statement__status=PayoutStatement.Status.PAID,
    ).exists()


def write_thank_you(
    *,
    association: Association,
    actor: User,
    program: Program,
    kind: str,
    text: str,
    photo: ContentFile | None = None,
) -> ThankYou:
    """Write (or write again, while not accepted) the message of one moment of a campaign."""
    if actor.pk is None or association.user_id != actor.pk:
        raise PermissionDenied("only the association's own account writes its messages")
    text = (text or "").strip()
    if not text:
        raise WorkflowError(_("Écrivez votre message."))
    if kind not in Kind.values:
        raise WorkflowError(_("Choisissez le moment du message."))
    if not writable_programs(association).filter(pk=program.pk).exists():
        raise WorkflowError(_("Ce programme n’est pas un de ceux de votre association."))
    if kind == Kind.PAYOUT and not _paid(association, program):
        raise WorkflowError(
            _("Le message d’après le versement s’écrit une fois le versement fait.")
        )
    with transaction.atomic():
        existing = (
            ThankYou.objects.select_for_update()
            .filter(association=association, program=program, kind=kind)
            .first()
        )
        if existing is not None:
            if existing.status == Status.ACCEPTED:
                raise InvalidTransition(_("Ce message a déjà été accepté et envoyé."))
            from_status = existing.status
            existing.text, existing.status = text, Status.SUBMITTED
            if photo is not None:
                existing.photo.save(photo.name, photo, save=False)
            existing.save(update_fields=["text", "status", "written_at", "photo"])
            _record(existing, Event.RESUBMITTED, from_status=from_status, actor=actor)
            return existing
        try:
            with transaction.atomic():
                thank_you = ThankYou(association=association, program=program, kind=kind, text=text)
                if photo is not None:
                    thank_you.photo.save(photo.name, photo, save=False)
                thank_you.save()
                _record(thank_you, Event.SUBMITTED, from_status="", actor=actor)
                return thank_you
        except IntegrityError:
            raise InvalidTransition(
                _("Ce message vient d’être écrit : rechargez la page.")
            ) from None


def accept_thank_you(*, thank_you: ThankYou, staff: User, message: str = "") -> ThankYou:
    changed = _decide(thank_you, staff=staff, to=Status.ACCEPTED, message=message)
    return changed


def refuse_thank_you(*, thank_you: ThankYou, staff: User, reason: str) -> ThankYou:
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Indiquez le motif du refus."))
    return _decide(thank_you, staff=staff, to=Status.REFUSED, message=reason)


def _decide(thank_you: ThankYou, *, staff: User, to: str, message: str) -> ThankYou:
    check_staff_scope(staff=staff, association=thank_you.association)

    message = (message or "").strip()

    def record(locked: ThankYou, event: str, from_status: str) -> None:
        _record(locked, event, from_status=from_status, actor=staff, message=message)
        if to == Status.ACCEPTED:
            outbox.enqueue("accounts.tasks.send_thank_you", thank_you_id=locked.pk)

    # The file's step (``associations.workflow``): two staff members deciding at once, one of
    # them is refused; a rewrite racing a decision waits for it.
    transition(
        ThankYou.objects,
        thank_you.pk,
        events={Status.SUBMITTED: DECISION_EVENTS[to]},
        to=to,
        record=record,
        refusal=_("Ce message n’attend pas de décision."),
        set_fields={
            "decided_at": timezone.now(),
            "decided_by": staff,
            "decision_message": message,
        },
    )
    thank_you.refresh_from_db()
    return thank_you


def _record(thank_you: ThankYou, event: str, *, from_status: str, actor: User, message=""):
    """The message's history (``ThankYouEvent``), in the step's own transaction."""
    return ThankYouEvent.objects.create(
        thank_you=thank_you,
        event=event,
        from_status=from_status,
        to_status=thank_you.status,
        actor=actor,
        message=message,
    )


def supporters_of(association_id: int):
    """Members who gave to the association or chose it as favourite, minus those who stopped
    its messages. For the delivery only: no page shows who they are."""
    return User.objects.filter(
        Q(Exists(Supporter.objects.filter(association_id=association_id, member=OuterRef("pk"))))
        | Q(Exists(Favourite.objects.filter(association_id=association_id, member=OuterRef("pk"))))
    ).exclude(
        Exists(ThankYouOptOut.objects.filter(association_id=association_id, member=OuterRef("pk")))
    )


@compiled_once(maxsize=1)
def _messages_query():
    """``messages_for``'s statement, compiled once per process (the ORM took longer to compile
    it, with its two joins and its subquery, than the database to run it)."""
    return (
        ThankYou.objects.filter(status=Status.ACCEPTED)
        .filter(
            Exists(
                Supporter.objects.filter(
                    association_id=OuterRef("association_id"), member_id=PLACEHOLDER
                )
            )
        )
        .select_related("association", "program")
        .order_by("-decided_at", "-id")
    )


def messages_for(member: User) -> list[ThankYou]:
    """« Messages de vos associations »: the accepted messages of associations it gave to,
    newest first, each with its ``association`` and ``program``: one statement."""
    db = read_connection(ThankYou)
    query = _messages_query()
    return query.instances(query.rows(member.pk, connection=db), db=db.alias)


def may_see_photo(user: User, thank_you: ThankYou) -> bool:
    """The association itself, its bank's staff, and once accepted, the members it is shown
    to (they gave)."""
    if thank_you.association.user_id == user.pk:
        return True
    if may_act_on(user, thank_you.association.caisse_regionale_id):
        return True
    return (
        thank_you.status == Status.ACCEPTED
        and Supporter.objects.filter(association_id=thank_you.association_id, member=user).exists()
    )


def stop_messages(*, member: User, association_id: int) -> None:
    """The member receives no more emails from this association (idempotent)."""
    if not Association.objects.filter(pk=association_id).exists():
        raise WorkflowError(_("Association inconnue."))
    ThankYouOptOut.objects.get_or_create(member=member, association_id=association_id)
