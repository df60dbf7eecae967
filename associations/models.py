import secrets
import unicodedata

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import account_number_validator
from tookets.append_only import AppendOnlyModel, AppendOnlyQuerySet
from tookets.db_router import read_connection

rna_validator = RegexValidator(
    r"^W\d{9}$", _("Le numéro RNA commence par W suivi de 9 chiffres (ex. : W123456789).")
)


# Typographic apostrophes (« d’Auch », as phones and the demo data write them) and the one a PC
# keyboard types (« d'Auch ») must match each other.
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def normalize_search(text: str) -> str:
    """Lower-case, accent-free form of a text, so « pyrenees » finds « Pyrénées » on any DB."""
    decomposed = unicodedata.normalize("NFKD", text or "").translate(APOSTROPHES)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


class Activity(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("libellé"), max_length=80)

    class Meta:
        ordering = ["label"]
        verbose_name = _("activité")
        verbose_name_plural = _("activités")

    def __str__(self):
        return self.label


class Domain(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("libellé"), max_length=80)

    class Meta:
        ordering = ["label"]
        verbose_name = _("domaine")
        verbose_name_plural = _("domaines")

    def __str__(self):
        return self.label


class Association(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        SUBMITTED = "submitted", _("En cours de vérification")
        CORRECTION_REQUESTED = "correction_requested", _("Correction demandée")
        VALIDATED = "validated", _("Validée")
        REJECTED = "rejected", _("Refusée")

    caisse_regionale = models.ForeignKey(
        "caisses.CaisseRegionale",
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        related_name="associations",
    )
    caisse_locale = models.ForeignKey(
        "caisses.CaisseLocale",
        verbose_name=_("caisse locale"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="associations",
    )
    account_number = models.CharField(
        _("numéro de compte de l’association"),
        max_length=11,
        validators=[account_number_validator],
    )
    # The association's own login (kind=association); the president logs in through it.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("compte de connexion"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="association",
    )
    name = models.CharField(_("nom"), max_length=200)
    search_name = models.CharField(
        _("nom pour la recherche"), max_length=200, editable=False, db_index=True
    )
    rna_number = models.CharField(
        _("numéro RNA"), max_length=10, null=True, blank=True, validators=[rna_validator]
    )
    jo_publication_date = models.DateField(
        _("date de parution au Journal Officiel"), null=True, blank=True
    )
    presentation = models.TextField(_("présentation"), blank=True)
    activity = models.ForeignKey(
        Activity, verbose_name=_("activité"), on_delete=models.PROTECT, null=True, blank=True
    )
    domain = models.ForeignKey(
        Domain, verbose_name=_("domaine"), on_delete=models.PROTECT, null=True, blank=True
    )
    address = models.CharField(_("adresse"), max_length=200, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=10, blank=True)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    website = models.URLField(_("site internet"), blank=True)
    email = models.EmailField(_("e-mail de contact"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=20, blank=True)
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    president_name = models.CharField(
        _("président(e) / représentant(e) légal(e)"), max_length=150, blank=True
    )
    president_email = models.EmailField(_("e-mail du représentant légal"), blank=True)
    status = models.CharField(
        _("statut"), max_length=24, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)
    submitted_at = models.DateTimeField(_("soumise le"), null=True, blank=True)
    validated_at = models.DateTimeField(_("validée le"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("association")
        verbose_name_plural = _("associations")
        constraints = [
            models.UniqueConstraint(fields=["rna_number"], name="association_rna_unique"),
            models.UniqueConstraint(
                fields=["caisse_regionale", "account_number"],
                name="association_account_unique_per_cr",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "draft",
                        "submitted",
                        "correction_requested",
                        "validated",
                        "rejected",
                    ]
                ),
                name="association_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["caisse_regionale", "status"])]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.search_name = normalize_search(self.name)
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_name"}
        super().save(*args, **kwargs)


# The parts of an association's file that its president fills in, one list each: the
# registration wizard's steps (``associations.forms``), what the wizard may write
# (``services.WIZARD_FIELDS``) and the staff's change page (``associations.admin``) read them.
IDENTITY_FIELDS = (
    "name",
    "rna_number",
    "jo_publication_date",
    "president_name",
    "president_email",
    "email",
    "phone",
)
PRESENTATION_FIELDS = ("presentation", "website")
ACTIVITY_FIELDS = ("activity", "domain", "caisse_locale")
ADDRESS_FIELDS = ("address", "postal_code", "city", "latitude", "longitude")
FILE_FIELDS = (*IDENTITY_FIELDS, *PRESENTATION_FIELDS, *ACTIVITY_FIELDS, *ADDRESS_FIELDS)


class StatusChange(AppendOnlyModel):
    """One event in an association's file: who, when, what (``event``) and why (``message``).

    Append-only (``tookets.append_only``; a trigger on PostgreSQL): the file's history is
    never rewritten. ``event`` says what happened in a field of its own; the statuses before
    and after are kept as well (an enrolment leaves the status as it was).
    """

    class Event(models.TextChoices):
        STARTED = "started", _("Inscription commencée")
        SUBMITTED = "submitted", _("Dossier envoyé")
        RESUBMITTED = "resubmitted", _("Corrections envoyées")
        CORRECTION_REQUESTED = "correction_requested", _("Correction demandée")
        VALIDATED = "validated", _("Validée")
        REJECTED = "rejected", _("Refusée")
        ENROLLED = "enrolled", _("Enrôlée dans un programme")
        UNENROLLED = "unenrolled", _("Retirée d’un programme")

    # Closing the account of whoever acted keeps the event and forgets the person.
    ANONYMISED = {"actor": None}

    association = models.ForeignKey(
        Association,
        verbose_name=_("association"),
        # An association with a history is never deleted (the history is not either).
        on_delete=models.PROTECT,
        related_name="history",
    )
    event = models.CharField(_("évènement"), max_length=24, choices=Event.choices)
    from_status = models.CharField(
        _("statut précédent"), max_length=24, choices=Association.Status.choices, blank=True
    )
    to_status = models.CharField(
        _("nouveau statut"), max_length=24, choices=Association.Status.choices
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("décision")
        verbose_name_plural = _("historique des décisions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    event__in=[
                        "started",
                        "submitted",
                        "resubmitted",
                        "correction_requested",
                        "validated",
                        "rejected",
                        "enrolled",
                        "unenrolled",
                    ]
                ),
                name="status_change_event_valid",
            )
        ]

    def __str__(self):
        return f"{self.association} : {self.get_event_display()}"


class DirectoryVersion(models.Model):
    """One row whose ``version`` changes with every write that can change what a member's
    directory shows: a validated association inserted, changed or deleted (a validation, a
    rename, a move, a withdrawal), any enrolment, any program (opening and closing dates, a
    sweep), any activity, domain or local bank (the filters' codes), any regional bank (the
    map's centre and bounds).

    Maintained by database triggers (migrations ``0010_directory_version`` and ``0011``), not by Django
    signals: a bulk update, an import, a raw SQL edit or the admin all bump it, in the writer's
    own transaction, so a reader that sees the change sees the new version too. The map data's
    ETag and its cached body are keyed by it (with the day, since programs open and close by
    date), so answering a revalidation with 304 costs one primary-key read instead of hashing
    every marker.
    """

    id = models.PositiveSmallIntegerField(_("identifiant"), primary_key=True, default=1)
    version = models.BigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("version de l’annuaire")
        verbose_name_plural = _("versions de l’annuaire")

    @classmethod
    def current(cls) -> int:
        """The directory's version, one primary-key read: two reads returning the same number
        saw the same directory, for a given day. If the row is gone (a TRUNCATE), it is made
        again from a random start."""
        table = cls._meta.db_table
        # From the database the page reads (a replica on the pages that may use one): the
        # version and the content it keys must come from the same one (tookets.db_router).
        with read_connection(cls).cursor() as cursor:
            cursor.execute(f"SELECT version FROM {table} WHERE id = 1")
            row = cursor.fetchone()
        if row is None:  # made again on the primary, and read there
            cls.objects.db_manager(DEFAULT_DB_ALIAS).get_or_create(
                pk=1, defaults={"version": secrets.randbelow(10**15)}
            )
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute(f"SELECT version FROM {table} WHERE id = 1")
                row = cursor.fetchone()
        return row[0]


class BankAssociationsVersion(models.Model):
    """One row per regional bank whose ``version`` changes with every write to any of that
    bank's associations, whatever their status: a registration, a draft saved, a decision, a
    rename, a move to another local bank, a deletion.

    ``DirectoryVersion`` changes only with validated associations (members see no others);
    the staff's list and dashboard show every status, so they are keyed by this one (with the
    directory's version for the names of local banks, activities and domains). Maintained by
    row triggers (migration ``0012_bank_associations_version``) in the writer's transaction,
    as the directory's version is. The cost: writes to one bank's associations queue on its
    row until they commit (they are short; other banks' writes do not wait).
    """

    caisse_regionale_id = models.BigIntegerField(_("caisse régionale"), primary_key=True)
    version = models.BigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("version des associations d’une caisse régionale")
        verbose_name_plural = _("versions des associations des caisses régionales")


class ProjectQuerySet(models.QuerySet):
    def live_on(self, day):
        """Projects members see and give to on ``day``: accepted, not past their end. The one
        rule: the gift (``cagnotte.services.give_tookets``) and the pages ask it here."""
        return self.filter(status=Project.Status.ACCEPTED, ends_on__gte=day)

    def shown(self):
        """Projects members see: accepted ones, live or ended (with their final figure)."""
        return self.filter(status=Project.Status.ACCEPTED)


class Project(models.Model):
    """A project with a goal that an association describes for one of its programs.

    Shown to members only once the bank's staff accepted it (``ProjectEvent`` keeps the
    decisions, as ``StatusChange`` does for the file). Gifts that count for it are ordinary
    gifts to the association linked to it (``cagnotte.models.ProjectGift``). After the payout
    the association may tell what was done with it (``outcome_*``), also accepted by staff.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("En cours de vérification")
        CORRECTION_REQUESTED = "correction_requested", _("Correction demandée")
        ACCEPTED = "accepted", _("Accepté")
        REFUSED = "refused", _("Refusé")

    class OutcomeStatus(models.TextChoices):
        NONE = "", _("Pas encore écrit")
        SUBMITTED = "submitted", _("En cours de vérification")
        ACCEPTED = "accepted", _("Accepté")
        REFUSED = "refused", _("Refusé")

    association = models.ForeignKey(
        Association,
        verbose_name=_("association"),
        on_delete=models.PROTECT,
        related_name="projects",
    )
    # A string: the campaign rules (cagnotte) already point at associations.
    program = models.ForeignKey(
        "cagnotte.Program",
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="projects",
    )
    title = models.CharField(_("titre"), max_length=120)
    text = models.TextField(_("description"), max_length=4000)
    photo = models.ImageField(_("photo"), upload_to="projects/", blank=True)
    goal = models.PositiveIntegerField(_("objectif (K)"))
    ends_on = models.DateField(_("date de fin"))
    status = models.CharField(
        _("statut"), max_length=24, choices=Status.choices, default=Status.SUBMITTED
    )
    outcome_text = models.TextField(_("ce que nous en avons fait"), max_length=4000, blank=True)
    outcome_photo = models.ImageField(
        _("photo de ce que nous en avons fait"), upload_to="projects/", blank=True
    )
    outcome_status = models.CharField(
        _("statut du compte rendu"),
        max_length=24,
        choices=OutcomeStatus.choices,
        default=OutcomeStatus.NONE,
        blank=True,
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    accepted_at = models.DateTimeField(_("accepté le"), null=True, blank=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["ends_on", "id"]
        verbose_name = _("projet")
        verbose_name_plural = _("projets")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["submitted", "correction_requested", "accepted", "refused"]
                ),
                name="project_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome_status__in=["", "submitted", "accepted", "refused"]),
                name="project_outcome_status_valid",
            ),
            models.CheckConstraint(condition=models.Q(goal__gt=0), name="project_goal_positive"),
        ]
        indexes = [models.Index(fields=["association", "status"])]

    def __str__(self):
        return self.title

    def is_live(self, on) -> bool:
        return self.status == self.Status.ACCEPTED and self.ends_on >= on


class ProjectEvent(AppendOnlyModel):
    """One event in a project's story: who, when, what (``event``) and why (``message``).

    Append-only, like ``StatusChange``: the decisions on a project are never rewritten.
    """

    class Event(models.TextChoices):
        SUBMITTED = "submitted", _("Projet envoyé")
        RESUBMITTED = "resubmitted", _("Corrections envoyées")
        CORRECTION_REQUESTED = "correction_requested", _("Correction demandée")
        ACCEPTED = "accepted", _("Accepté")
        REFUSED = "refused", _("Refusé")
        OUTCOME_SUBMITTED = "outcome_submitted", _("Compte rendu envoyé")
        OUTCOME_ACCEPTED = "outcome_accepted", _("Compte rendu accepté")
        OUTCOME_REFUSED = "outcome_refused", _("Compte rendu refusé")

    ANONYMISED = {"actor": None}

    project = models.ForeignKey(
        Project, verbose_name=_("projet"), on_delete=models.PROTECT, related_name="history"
    )
    event = models.CharField(_("évènement"), max_length=24, choices=Event.choices)
    from_status = models.CharField(_("statut précédent"), max_length=24, blank=True)
    to_status = models.CharField(_("nouveau statut"), max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("décision sur un projet")
        verbose_name_plural = _("historique des projets")

    def __str__(self):
        return f"{self.project} : {self.get_event_display()}"


class SupportCertificate(models.Model):
    """An « attestation de soutien »: one per association and closed campaign, issued on its
    first download. Its ``code`` (unguessable: 80 random bits) opens the public verification
    page; the figures are read from the ledger each time (``cagnotte.figures.campaign_figures``):
    a closed campaign's gifts no longer change, so the page and the PDF say the same."""

    association = models.ForeignKey(
        Association,
        verbose_name=_("association"),
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    program = models.ForeignKey(
        "cagnotte.Program", verbose_name=_("programme"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("code de vérification"), max_length=16, unique=True)
    issued_at = models.DateTimeField(_("établie le"), auto_now_add=True)

    class Meta:
        verbose_name = _("attestation de soutien")
        verbose_name_plural = _("attestations de soutien")
        constraints = [
            models.UniqueConstraint(
                fields=["association", "program"], name="certificate_one_per_campaign"
            )
        ]

    def __str__(self):
        return self.code

    @property
    def code_display(self) -> str:
        return "-".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))


class ThankYou(models.Model):
    """An association's message to its supporters: one per campaign, one more after the
    payout. Delivered once staff accepted it (``accounts.emails.send_thank_you``) to the
    members who gave to it or chose it as favourite and accept emails; the association learns
    only how many it reached (``reached``), never who."""

    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", _("Pendant la campagne")
        PAYOUT = "payout", _("Après le versement")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("En cours de vérification")
        ACCEPTED = "accepted", _("Accepté")
        REFUSED = "refused", _("Refusé")

    association = models.ForeignKey(
        Association,
        verbose_name=_("association"),
        on_delete=models.PROTECT,
        related_name="thank_yous",
    )
    program = models.ForeignKey(
        "cagnotte.Program", verbose_name=_("programme"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("moment"), max_length=10, choices=Kind.choices)
    text = models.TextField(_("message"), max_length=3000)
    photo = models.ImageField(_("photo"), upload_to="thanks/", blank=True)
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.SUBMITTED
    )
    written_at = models.DateTimeField(_("écrit le"), auto_now=True)
    decided_at = models.DateTimeField(_("décidé le"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("décidé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_message = models.TextField(_("message du service Tookets"), blank=True)
    reached = models.PositiveIntegerField(_("sociétaires atteints par e-mail"), default=0)

    class Meta:
        ordering = ["-written_at", "-id"]
        verbose_name = _("message aux soutiens")
        verbose_name_plural = _("messages aux soutiens")
        constraints = [
            models.UniqueConstraint(
                fields=["association", "program", "kind"], name="thank_you_once_per_moment"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["submitted", "accepted", "refused"]),
                name="thank_you_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.association} — {self.get_kind_display()}"


class ThankYouEvent(AppendOnlyModel):
    """One event in a thank-you message's story: written, written again, accepted (and so
    sent) or refused; who, when and why. Append-only, like ``StatusChange`` and
    ``ProjectEvent``: written in the transaction of the step it records
    (``associations.thanks``), never rewritten. The message's row keeps only where it stands
    now (``status``, ``decided_at``…) for the pages that list it."""

    class Event(models.TextChoices):
        SUBMITTED = "submitted", _("Message envoyé")
        RESUBMITTED = "resubmitted", _("Message réécrit")
        ACCEPTED = "accepted", _("Accepté et envoyé aux soutiens")
        REFUSED = "refused", _("Refusé")

    ANONYMISED = {"actor": None}

    thank_you = models.ForeignKey(
        ThankYou, verbose_name=_("message"), on_delete=models.PROTECT, related_name="history"
    )
    event = models.CharField(_("évènement"), max_length=24, choices=Event.choices)
    from_status = models.CharField(
        _("statut précédent"), max_length=10, choices=ThankYou.Status.choices, blank=True
    )
    to_status = models.CharField(
        _("nouveau statut"), max_length=10, choices=ThankYou.Status.choices
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    message = models.TextField(_("message"), blank=True)
    # A default rather than ``auto_now_add``: the migration that wrote the history of the
    # messages decided before it existed dates each event when it happened.
    created_at = models.DateTimeField(_("le"), default=timezone.now, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("décision sur un message")
        verbose_name_plural = _("historique des messages")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(event__in=["submitted", "resubmitted", "accepted", "refused"]),
                name="thank_you_event_valid",
            )
        ]

    def __str__(self):
        return f"{self.thank_you} : {self.get_event_display()}"


class ThankYouOptOut(models.Model):
    """A member who stopped one association's messages (the others still come)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sociétaire"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    association = models.ForeignKey(
        Association, verbose_name=_("association"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("messages refusés")
        verbose_name_plural = _("messages refusés")
        constraints = [
            models.UniqueConstraint(fields=["member", "association"], name="thank_you_opt_out_once")
        ]
