"""One step of a workflow: lock the row, re-check its status, change it, record the event.

The staff's decisions on an association's file (``associations.services``), on its projects
and their outcome (``associations.projects``) and on its thank-you messages
(``associations.thanks``) all take this one step, here: in one transaction, the row is locked
(``SELECT … FOR UPDATE``), its status read again under the lock, the new status and the
decision's other fields written, and the event recorded by the caller's ``record`` (an
append-only row, and the email queued through the outbox, in the same transaction). Two staff
members deciding at once, or the association's edit racing a decision, see the status the
other left: one of them is refused with ``InvalidTransition``.

The domain errors of the associations' workflows live here too (``associations.services``
re-exports them): ``str()`` is a French message for the person who acted.
"""

from collections.abc import Callable, Mapping

from django.db import models, transaction


class WorkflowError(Exception):
    """Base of the associations' domain errors; ``str()`` is a French message for the user."""


class InvalidTransition(WorkflowError):
    pass


def transition(
    queryset: models.QuerySet,
    pk: int,
    *,
    events: Mapping[str, str],
    to: str,
    record: Callable[[models.Model, str, str], object],
    refusal: str,
    field: str = "status",
    set_fields: Mapping[str, object] | None = None,
    touch: tuple[str, ...] = (),
) -> models.Model:
    """Move row ``pk`` of ``queryset`` to status ``to`` and record it; returns the locked row.

    ``events``: the statuses this step leaves from, and the event each one makes; a row in any
    other status raises ``InvalidTransition(refusal % {"status": <its status, in French>})``.
    ``field``: the status column (a project's outcome has its own). ``set_fields``: the other
    columns the decision writes (when, by whom). ``touch``: ``auto_now`` columns to bump.
    ``record(row, event, from_status)`` writes the event, under the same lock and transaction.
    """
    with transaction.atomic():
        locked = queryset.select_for_update().get(pk=pk)
        from_status = getattr(locked, field)
        if from_status not in events:
            shown = getattr(locked, f"get_{field}_display")()
            raise InvalidTransition(refusal % {"status": shown})
        setattr(locked, field, to)
        for name, value in (set_fields or {}).items():
            setattr(locked, name, value)
        locked.save(update_fields=[field, *(set_fields or {}), *touch])
        record(locked, events[from_status], from_status)
    return locked
