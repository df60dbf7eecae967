"""Send an email once: the one mechanism for every email the platform sends.

Every email has a claim: a row whose unique key names it (member, kind and period for the
members' emails in ``accounts.MemberEmail``; a key such as ``associations.decision-email:<id>``
for the others in ``tookets.EmailClaim``). :func:`deliver` claims, sends, confirms:

1. **claim** — ``INSERT … ON CONFLICT DO NOTHING RETURNING``, committed before any message
   leaves; the run that inserted a row owns that email, any other run (concurrent, resumed,
   the same task delivered twice) finds the row and sends nothing;
2. **send** — over one SMTP connection for the whole batch;
3. **confirm** — the sent rows become ``sent`` with their time.

What happens when the process dies, or the mail server says no:

* **before the claim commits** — nothing was claimed, nothing sent: the next run sends it;
* **the mail server refuses** (the send raises) — the claims of the messages that did not
  leave are deleted before the error goes up, so the task's retry sends them; those that
  left are confirmed;
* **during the send** (killed between the claim and the confirmation) — the row stays
  ``claimed`` and the email is **never sent again**: it may have left. The run's report counts
  it « interrompu » (:func:`stale`) for someone to look at;
* **after the send, before the confirmation** — the same: the email left once, the row stays
  ``claimed``, nothing is sent again.

At most once, then: a crash can cost an email, never send one twice (as the design card
asks: « a crashed or doubled run sends nothing twice »). A new email claims through
:func:`deliver` too; it does not need a mechanism of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, models, transaction
from django.utils import timezone

from tookets.models import SentOnce

Status = SentOnce.Status


@dataclass
class Delivery:
    sent: int = 0
    skipped: int = 0  # claimed by an earlier or concurrent run


def claim(
    model: type[SentOnce], *, fixed: Mapping[str, object], field: str, values: list[Hashable]
) -> set:
    """Insert the claims ``fixed`` + ``field = value`` that do not exist yet and commit them;
    return the values whose claims are ours.

    A concurrent run inserting the same rows waits on the unique index, then finds them
    taken. Rows go in sorted order in every run, so two runs never wait on each other in a
    cycle. ``fixed`` + ``field`` must be the columns of the model's unique constraint.
    """
    if not values:
        return set()
    opts = model._meta
    qn = connection.ops.quote_name
    key = [opts.get_field(name).column for name in (*fixed, field)]
    columns = [*key, opts.get_field("status").column, opts.get_field("claimed_at").column]
    now = timezone.now()
    params: list = []
    for value in sorted(values):
        params += [*fixed.values(), value, Status.CLAIMED, now]
    rows = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(values))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(c) for c in columns)}) "
            f"VALUES {rows} ON CONFLICT ({', '.join(qn(c) for c in key)}) DO NOTHING "
            f"RETURNING {qn(key[-1])}",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def deliver(
    model: type[SentOnce],
    *,
    fixed: Mapping[str, object],
    field: str,
    messages: Mapping[Hashable, Callable[[], EmailMultiAlternatives]],
) -> Delivery:
    """Claim, send over one connection, confirm (see the module docstring).

    ``messages`` maps each claim's ``field`` value (a member's id, a key) to what builds its
    message; only the messages whose claims are ours are built.
    """
    ours = claim(model, fixed=fixed, field=field, values=list(messages))
    delivery = Delivery(skipped=len(messages) - len(ours))
    todo = [value for value in messages if value in ours]
    if not todo:
        return delivery
    sent: list = []
    mail = get_connection()
    try:
        mail.open()
        for value in todo:
            message = messages[value]()
            message.connection = mail
            message.send()
            sent.append(value)
    except Exception:
        # Refused for sure: free the claims of what did not leave, so that a retry sends it.
        unsent = [value for value in todo if value not in set(sent)]
        _claims(model, fixed, field, unsent).delete()
        raise
    finally:
        if sent:
            _claims(model, fixed, field, sent).update(status=Status.SENT, sent_at=timezone.now())
        delivery.sent = len(sent)
        mail.close()
    return delivery


def claimed(model: type[SentOnce], **fixed) -> int:
    """How many emails of this kind are claimed (sent, being sent, or interrupted)."""
    return model.objects.filter(**fixed).count()


def stale(model: type[SentOnce], **fixed) -> int:
    """Claims never confirmed sent: a run died in the middle of sending them (« interrompu »)."""
    return model.objects.filter(status=Status.CLAIMED, **fixed).count()


def unclaimed(queryset: models.QuerySet, model: type[SentOnce], *, field: str, **fixed):
    """``queryset`` (of recipients) without those already claimed for this email."""
    return queryset.exclude(pk__in=model.objects.filter(**fixed).values(field))


def _claims(model, fixed, field, values) -> models.QuerySet:
    return model.objects.filter(**fixed, **{f"{field}__in": values})
