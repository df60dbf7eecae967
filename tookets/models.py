from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """A Celery task to send, written in the same transaction as the change that causes it.

    The row commits or rolls back with that change, so no task is sent for a change that did
    not happen and none is lost because the broker was away: it is published after commit,
    and drained again (``tookets.outbox.drain``) until the broker takes it.
    """

    task = models.CharField(_("tâche"), max_length=200)
    kwargs = models.JSONField(_("arguments"), default=dict)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    # Not published before this time: pushed back after each failed attempt.
    available_at = models.DateTimeField(_("prochain essai"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("essais"), default=0)
    published_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    last_error = models.TextField(_("dernière erreur"), blank=True)

    class Meta:
        verbose_name = _("tâche en attente")
        verbose_name_plural = _("tâches en attente")
        indexes = [
            # The drain reads only the pending rows, oldest due first; published rows (nearly
            # all of them) stay out of the index.
            models.Index(
                fields=["available_at", "id"],
                condition=Q(published_at__isnull=True),
                name="outbox_pending_idx",
            ),
        ]

    def __str__(self):
        return f"{self.task} #{self.pk}"


class SentOnce(models.Model):
    """The state of an email's claim, for ``tookets.send_once`` (which says what a crash does).

    A concrete claim table adds the fields of its unique key: ``accounts.MemberEmail`` (member,
    kind, period), :class:`EmailClaim` (one key).
    """

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("en cours d’envoi")
        SENT = "sent", _("envoyé")

    status = models.CharField(
        _("état"), max_length=10, choices=Status.choices, default=Status.CLAIMED
    )
    claimed_at = models.DateTimeField(_("réservé le"), default=timezone.now)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)

    class Meta:
        abstract = True


class EmailClaim(SentOnce):
    """An email that is not a member's (the association workflow's), claimed before it is
    sent: its unique key makes a task that runs twice (redelivered after a worker died,
    published twice by the outbox) send it once. See ``tookets.send_once``."""

    key = models.CharField(_("clé"), max_length=200, unique=True)

    class Meta:
        verbose_name = _("e-mail envoyé une fois")
        verbose_name_plural = _("e-mails envoyés une fois")

    def __str__(self):
        return self.key
