from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.iban import validate_iban
from tookets.models import SentOnce
from tookets.user_reads import with_extras

account_number_validator = RegexValidator(
    r"^\d{11}$", _("L’identifiant doit comporter exactement 11 chiffres.")
)


class Users(UserManager):
    """Django's, plus what a ``tookets.user_reads.users_with`` block asks for."""

    def get_queryset(self):
        return with_extras(super().get_queryset())


class User(AbstractUser):
    """Anyone who logs in: a member (sociétaire), an association's account, or bank staff.

    Members and associations are identified by their regional bank and 11-digit account
    number and never have a usable password: the bank's identity provider checks their code.
    Staff log in to the admin with a username and password; ``caisse_regionale`` scopes what
    they see (empty for national staff).
    """

    class Kind(models.TextChoices):
        MEMBER = "member", _("Sociétaire")
        ASSOCIATION = "association", _("Association")
        STAFF = "staff", _("Personnel de la banque")

    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.MEMBER)
    caisse_regionale = models.ForeignKey(
        "caisses.CaisseRegionale",
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    caisse_locale = models.ForeignKey(
        "caisses.CaisseLocale",
        verbose_name=_("caisse locale"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="users",
    )
    account_number = models.CharField(
        _("numéro de compte"),
        max_length=11,
        null=True,
        blank=True,
        validators=[account_number_validator],
    )
    display_name = models.CharField(_("nom affiché"), max_length=150, blank=True)
    is_societaire = models.BooleanField(_("sociétaire"), default=False)
    recap_emails = models.BooleanField(
        _("J'accepte de recevoir les e-mails récapitulatifs"), default=True
    )
    # When the member last changed the recap choice: an unsubscribe link signed before a
    # re-subscription is stale (a replayed old link cannot unsubscribe again).
    recap_changed_at = models.DateTimeField(
        _("choix des e-mails modifié le"), null=True, blank=True
    )
    closed_at = models.DateTimeField(_("clôturé le"), null=True, blank=True)
    closed_by = models.ForeignKey(
        "self",
        verbose_name=_("clôturé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # A closed account keeps neither its name nor its account number; a keyed hash of
    # « regional bank + account number » lets the login say « ce compte est clôturé » without
    # keeping the number itself (accounts.services.closed_identifier).
    closed_identifier = models.CharField(
        _("identifiant clôturé (empreinte)"), max_length=64, blank=True, db_index=True
    )

    objects = Users()

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        constraints = [
            models.UniqueConstraint(
                fields=["caisse_regionale", "account_number"],
                name="user_account_unique_per_cr",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "caisse_regionale"]),
            # The closed accounts alone (a few rows): the year-end sweep reads them once per
            # batch, as a set, instead of each wallet's member row (cagnotte.sweep).
            models.Index(fields=["id"], condition=Q(closed_at__isnull=False), name="user_closed"),
        ]

    def __str__(self):
        return self.display_name or self.username

    @property
    def is_member(self) -> bool:
        return self.kind == self.Kind.MEMBER

    @property
    def is_association(self) -> bool:
        return self.kind == self.Kind.ASSOCIATION


class BankCustomer(models.Model):
    """The local directory behind the default identity provider.

    Loaded from the bank's customer feed: one row per account holder (a person or an
    association). Personal codes are stored hashed with Django's hashers, never in clear;
    an association has no code of its own: the people in ``managers`` log in for it.
    """

    class Kind(models.TextChoices):
        PERSON = "person", _("Personne")
        ASSOCIATION = "association", _("Association")

    caisse_regionale = models.ForeignKey(
        "caisses.CaisseRegionale",
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        related_name="customers",
    )
    caisse_locale = models.ForeignKey(
        "caisses.CaisseLocale",
        verbose_name=_("caisse locale"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    account_number = models.CharField(
        _("numéro de compte"), max_length=11, validators=[account_number_validator]
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("nom"), max_length=150)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=20, blank=True)
    address = models.CharField(_("adresse"), max_length=200, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=10, blank=True)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    # The account's IBAN as the bank's feed gives it (payouts to associations); checked with
    # schwifty where it enters, and again when a payout statement reads it.
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, validators=[validate_iban])
    is_societaire = models.BooleanField(_("sociétaire"), default=False)
    is_online_banking = models.BooleanField(_("utilisateur de la banque en ligne"), default=False)
    personal_code = models.CharField(_("code personnel (haché)"), max_length=128, blank=True)
    managers = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="managed_accounts",
        verbose_name=_("personnes habilitées"),
        help_text=_("Pour une association : les personnes habilitées à gérer ses comptes."),
    )

    class Meta:
        verbose_name = _("client de la banque")
        verbose_name_plural = _("clients de la banque")
        constraints = [
            models.UniqueConstraint(
                fields=["caisse_regionale", "account_number"],
                name="bank_customer_account_unique_per_cr",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.account_number})"


class MemberEmail(SentOnce):
    """One email to a member, claimed before it is sent: the idempotency key of every send.

    The unique (member, kind, period) row is its claim in ``tookets.send_once``, the one
    "send once" mechanism, whose docstring says what a crash does: at most once.
    """

    class Kind(models.TextChoices):
        RECAP = "recap", _("Récapitulatif mensuel")
        REMINDER = "reminder", _("Rappel de fin de campagne")
        GIFT = "gift", _("Reçu de don")
        THANKS = "thanks", _("Message d’une association")

    member = models.ForeignKey(
        User, verbose_name=_("sociétaire"), on_delete=models.CASCADE, related_name="emails"
    )
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    # recap: YYYY-MM; reminder: the program code; gift: the ledger entry id; thanks: the
    # association's message id.
    period = models.CharField(_("période"), max_length=64)

    class Meta:
        verbose_name = _("e-mail envoyé à un sociétaire")
        verbose_name_plural = _("e-mails envoyés aux sociétaires")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "period"], name="member_email_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["kind", "period", "status"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.period} → {self.member_id}"
