from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Program and Enrollment live with the campaign rules; importable from here as any model.
from cagnotte.campaigns import Enrollment, Program, open_condition  # noqa: F401
from tookets.append_only import AppendOnlyModel, AppendOnlyQuerySet


class WalletQuerySet(models.QuerySet):
    def with_collected(self, period: str) -> "WalletQuerySet":
        """« Récolté ce mois-ci »: each wallet's credits of ``period`` (YYYY-MM), as
        ``collected`` (0 without any), in the same query."""
        return self.annotate(
            collected=Coalesce(
                Sum(
                    "entries__amount",
                    filter=Q(entries__kind=LedgerEntry.Kind.CREDIT, entries__period=period),
                ),
                0,
            )
        )


class Wallet(models.Model):
    """A member's wallet in one program. ``balance`` caches the sum of its ledger entries.

    On PostgreSQL the table keeps half of each page free (fillfactor 50, migration 0004) so
    that balance updates stay HOT: no new index entries when an import touches every wallet.
    """

    # No single-column index on member: the (member, program) unique index serves it.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sociétaire"),
        on_delete=models.PROTECT,
        related_name="wallets",
        db_index=False,
    )
    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.PROTECT, related_name="wallets"
    )
    balance = models.BigIntegerField(_("solde"), default=0)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    # The member's favourite, joined on the wallet's own member column (no column, no
    # constraint: a join path for queries only, neither serialized nor in forms). Through
    # ``member__favourite`` every wallet would also read its member's row; the year-end sweep
    # reads a batch's favourites this way.
    member_favourite = models.ForeignObject(
        "Favourite",
        verbose_name=_("association favorite du sociétaire"),
        on_delete=models.DO_NOTHING,
        from_fields=["member"],
        to_fields=["member"],
        null=True,
        related_name="+",
        editable=False,
        serialize=False,
    )

    objects = WalletQuerySet.as_manager()

    class Meta:
        verbose_name = _("cagnotte")
        verbose_name_plural = _("cagnottes")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "program"], name="wallet_one_per_member_program"
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative"),
        ]

    def __str__(self):
        return f"{self.member} — {self.program}"


class LedgerEntry(AppendOnlyModel):
    """One movement on a wallet. Append-only; amounts are signed whole Tookets.

    Neither changed nor deleted, in Python (``tookets.append_only``) nor on PostgreSQL (a
    trigger, migration 0005); a mistake is corrected by a new ``adjustment`` entry. Closing
    an account may only blank ``created_by`` and ``memo`` (``LedgerEntry.objects.filter(…)
    .anonymise()``).
    """

    ANONYMISED = {"created_by": None, "memo": ""}

    class Kind(models.TextChoices):
        CREDIT = "credit", _("Tookets récoltés")
        GIFT = "gift", _("Don à une association")
        SWEEP = "sweep", _("Don de fin d’année à l’association favorite")
        RETURN = "return", _("Retour à la caisse régionale")
        ADJUSTMENT = "adjustment", _("Régularisation")
        # From a matching offer's budget to the association a gift went to (``offer`` and
        # ``matches`` set, no wallet): see ``MatchingOffer``.
        MATCHING = "matching", _("Abondement de la caisse régionale")

    # No single-column index on wallet: the (wallet, -created_at) index serves it. Every index
    # here is paid by each row of a million-row credit import, so each one earns its place.
    # Empty for a matching entry only (its Tookets come from an offer's budget, not from a
    # member: ``entry_source_by_kind``).
    wallet = models.ForeignKey(
        Wallet,
        verbose_name=_("cagnotte"),
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        null=True,
        blank=True,
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    amount = models.BigIntegerField(_("montant (K)"))
    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_index=False,  # partial index below: credits (most rows) have no association
    )
    # Makes the write idempotent: a credit's bank reference, a gift form's one-time token…
    # Unique through Meta.constraints rather than unique=True: on PostgreSQL a unique field
    # also gets a LIKE (varchar_pattern_ops) index, one more index per imported row for nothing.
    # On PostgreSQL, migration 0004 gives it the bytewise "C" collation (a cheaper unique
    # index); an AlterField on it would silently bring back the default collation.
    reference = models.CharField(_("référence"), max_length=100)
    period = models.CharField(_("période"), max_length=7, blank=True)  # YYYY-MM for credits
    # Not indexed: users are anonymised on closure, never deleted, so nothing looks entries up
    # by author.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("saisi par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    memo = models.CharField(_("motif"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now)
    # A matching entry's source (the offer whose budget pays it) and the gift it matches. No
    # plain index on either: every credit row would pay for it; partial ones below.
    offer = models.ForeignKey(
        "cagnotte.MatchingOffer",
        verbose_name=_("offre d’abondement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,
    )
    # No plain foreign key on PostgreSQL: a partitioned table's ``id`` alone carries no unique
    # index to point at. There the key is composite, (matches_id, year) → (id, year) (migration
    # 0012): a match is written in its gift's program, so its year is the gift's. SQLite keeps
    # the plain key of migration 0011.
    matches = models.ForeignKey(
        "self",
        verbose_name=_("don abondé"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="matched_by",
        db_index=False,
        db_constraint=False,
    )
    # The partition key on PostgreSQL (``cagnotte.ledger_partitions``): the campaign year of
    # the entry's program (its wallet's, or for a matching entry its offer's, which is its
    # gift's). Every writer sets it; ``check_ledger`` compares it with the program's year.
    year = models.PositiveSmallIntegerField(_("année de campagne"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("mouvement")
        verbose_name_plural = _("mouvements")
        constraints = [
            # With the partition key (PostgreSQL requires it of a unique constraint on a
            # partitioned table). References stay unique where it matters: a replayed write
            # lands in the same year, as every reference names something of one program —
            # a credit's bank reference its wallet's program (the year of its period), a
            # gift's one-time token the form of one wallet, a sweep ``sweep:<wallet id>``,
            # a match ``match:<gift id>`` its gift (and so the gift's year). A reference
            # reused in another campaign year names another write.
            models.UniqueConstraint(fields=["reference", "year"], name="entry_reference_unique"),
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
            models.CheckConstraint(
                condition=~Q(kind="credit") | Q(amount__gt=0), name="entry_credit_positive"
            ),
            # A matching entry is an outflow of its offer's budget, signed as a gift is on its
            # wallet: what an association received is -SUM(amount) over gift, sweep, matching.
            models.CheckConstraint(
                condition=~Q(kind__in=["gift", "sweep", "return", "matching"]) | Q(amount__lt=0),
                name="entry_outflow_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["gift", "sweep", "matching"]) | Q(association__isnull=False),
                name="entry_gift_has_association",
            ),
            # Every entry has one source: a wallet, or (matching only) an offer's budget, and a
            # matching entry always points at the gift it matches.
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="matching",
                        wallet__isnull=True,
                        offer__isnull=False,
                        matches__isnull=False,
                    )
                    | (
                        ~Q(kind="matching")
                        & Q(wallet__isnull=False, offer__isnull=True, matches__isnull=True)
                    )
                ),
                name="entry_source_by_kind",
            ),
            # A gift is matched once, whatever replays or races (with the reference).
            models.UniqueConstraint(
                fields=["matches", "year"],
                condition=Q(matches__isnull=False),
                name="entry_one_match_per_gift",
            ),
        ]
        # (wallet, -created_at) serves the history and « récolté ce mois-ci » (a wallet holds a
        # few dozen entries a year); no (wallet, kind, period) index: it cost the import ~15 %.
        indexes = [
            models.Index(fields=["wallet", "-created_at"]),
            models.Index(
                fields=["association", "kind"],
                condition=Q(association__isnull=False),
                name="entry_association_partial",
            ),
            # The caps per member and per association read an offer's entries under its lock.
            models.Index(
                fields=["offer", "association"],
                condition=Q(offer__isnull=False),
                name="entry_offer_partial",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d} K ({self.reference})"

    @property
    def kind_label(self) -> str:
        """``get_kind_display()`` without its cost: Django's makes a dict of every choice and
        hashes each lazy label (one translation each), twenty times on a wallet page."""
        return self.Kind(self.kind).label


class Favourite(models.Model):
    """A member's one favourite association (« Mon Asso Favorite »)."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sociétaire"),
        on_delete=models.CASCADE,
        related_name="favourite",
    )
    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.CASCADE,
        related_name="favourited_by",
    )
    updated_at = models.DateTimeField(_("choisie le"), auto_now=True)

    class Meta:
        verbose_name = _("association favorite")
        verbose_name_plural = _("associations favorites")


class Supporter(models.Model):
    """A member who gave to an association at least once: counts « N personnes nous ont soutenu ».

    Three indexes, no more (the year-end sweep writes up to one row per member): the key,
    ``supporter_unique`` (association, member), which also serves every lookup by association
    alone (its leading column: the thank-you pages, the cascade from an association), and
    member. No index on association alone (dropped by migration 0013: it only duplicated the
    unique one's leading column, at one index entry per row written).

    Its two keys are not declared on PostgreSQL: triggers check each statement's rows as a set
    (``cagnotte.set_keys``, migration 0014), which spares the sweep a key-check query per new
    supporter. ``on_delete=CASCADE`` works as before (Django's collector)."""

    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.CASCADE,
        related_name="supporters",
        db_index=False,  # served by supporter_unique (association, member)
        db_constraint=False,  # checked per statement (cagnotte.set_keys)
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sociétaire"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,  # checked per statement (cagnotte.set_keys)
    )
    first_gift_at = models.DateTimeField(_("premier don le"), default=timezone.now)

    class Meta:
        verbose_name = _("soutien")
        verbose_name_plural = _("soutiens")
        constraints = [
            models.UniqueConstraint(fields=["association", "member"], name="supporter_unique")
        ]


class AssociationTotals(models.Model):
    """Summary of what an association received, kept in step with the ledger in the same
    transaction as each gift, so a page of cards reads its figures in one query.

    ``caisse_regionale`` is the association's regional bank, copied when the row is made, and
    a rule of the database (migration ``0018``: on PostgreSQL a foreign key to the
    association's id and bank, ``ON UPDATE CASCADE``; triggers on SQLite) refuses another and
    moves the row with an association that moves: the
    staff dashboard's state sums what a bank's associations received by one index range
    (``associations.staff_state``) instead of joining every association of the bank."""

    association = models.OneToOneField(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="totals",
    )
    supporters = models.PositiveIntegerField(_("soutiens"), default=0)
    received_total = models.BigIntegerField(_("total reçu (K)"), default=0)
    # Of which from matching offers (« dont X K d'abondement »).
    matched_total = models.BigIntegerField(_("dont abondement (K)"), default=0)
    first_year = models.PositiveSmallIntegerField(_("premier don en"), null=True, blank=True)
    caisse_regionale = models.ForeignKey(
        "caisses.CaisseRegionale",
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # the index below, with what it sums
    )

    class Meta:
        verbose_name = _("totaux d’une association")
        verbose_name_plural = _("totaux des associations")
        indexes = [
            # PostgreSQL sums a bank's column from the index alone (INCLUDE is PostgreSQL's).
            models.Index(
                fields=["caisse_regionale"], include=["received_total"], name="totals_by_bank"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(received_total__gte=0), name="totals_received_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(matched_total__gte=0, matched_total__lte=models.F("received_total")),
                name="totals_matched_within_received",
            ),
        ]


class AssociationYearTotals(models.Model):
    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.CASCADE,
        related_name="year_totals",
    )
    year = models.PositiveSmallIntegerField(_("année"))
    received = models.BigIntegerField(_("reçu (K)"), default=0)
    matched = models.BigIntegerField(_("dont abondement (K)"), default=0)

    class Meta:
        verbose_name = _("total annuel d’une association")
        verbose_name_plural = _("totaux annuels des associations")
        constraints = [
            models.UniqueConstraint(fields=["association", "year"], name="year_totals_unique"),
            models.CheckConstraint(condition=Q(received__gte=0), name="year_totals_not_negative"),
            models.CheckConstraint(
                condition=Q(matched__gte=0, matched__lte=models.F("received")),
                name="year_totals_matched_within_received",
            ),
        ]


class AssociationMonthTotals(models.Model):
    """Received per calendar month, the month of the entries' date in the site's time zone
    (``cagnotte.figures.month_of``): the staff dashboard's chart of the last twelve months
    reads twelve rows per association instead of a year of gifts and sweeps (a national
    bank's sweep alone writes a million and a half entries)."""

    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.CASCADE,
        related_name="month_totals",
    )
    month = models.DateField(_("mois"))  # its first day
    received = models.BigIntegerField(_("reçu (K)"), default=0)
    matched = models.BigIntegerField(_("dont abondement (K)"), default=0)

    class Meta:
        verbose_name = _("total mensuel d’une association")
        verbose_name_plural = _("totaux mensuels des associations")
        constraints = [
            models.UniqueConstraint(fields=["association", "month"], name="month_totals_unique"),
            models.CheckConstraint(condition=Q(month__day=1), name="month_totals_first_day"),
            models.CheckConstraint(condition=Q(received__gte=0), name="month_totals_not_negative"),
            models.CheckConstraint(
                condition=Q(matched__gte=0, matched__lte=models.F("received")),
                name="month_totals_matched_within_received",
            ),
        ]


class CreditImportBatch(models.Model):
    """One run of the credit import: which file (name and SHA-256), who or what ran it, what
    it did and its full report. A file whose hash a finished batch already imported is not
    read again (unless forced): the new batch says so and points at the earlier one."""

    class Source(models.TextChoices):
        COMMAND = "command", _("commande import_credits")
        TASK = "task", _("tâche planifiée (dépôt de fichiers)")
        OTHER = "other", _("appel direct")

    class Status(models.TextChoices):
        RUNNING = "running", _("en cours")
        DONE = "done", _("terminé")
        REJECTED = "rejected", _("rien appliqué (tout ou rien)")
        DUPLICATE = "duplicate", _("déjà importé, non relu")
        REFUSED = "refused", _("fichier refusé")
        FAILED = "failed", _("échec")

    file_name = models.CharField(_("fichier"), max_length=255)
    # Looked up on every run (« already imported? »): indexed.
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64, db_index=True)
    source = models.CharField(_("lancé par"), max_length=10, choices=Source.choices)
    run_by = models.CharField(_("opérateur"), max_length=150, blank=True)
    # The bank whose rows the file holds; empty when it holds several banks' rows (or none
    # known): then only national staff see it, as its report names other banks' lines.
    caisse_regionale = models.ForeignKey(
        "caisses.CaisseRegionale",
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(
        _("état"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    all_or_nothing = models.BooleanField(_("tout ou rien"), default=False)
    forced = models.BooleanField(_("forcé (--force)"), default=False)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("déjà importé par le lot"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rows = models.PositiveIntegerField(_("lignes lues"), default=0)
    applied = models.PositiveIntegerField(_("crédits appliqués"), default=0)
    already_applied = models.PositiveIntegerField(_("déjà appliqués (ignorés)"), default=0)
    error_count = models.PositiveIntegerField(_("lignes en erreur"), default=0)
    tookets_applied = models.DecimalField(
        _("Tookets appliqués (K)"), max_digits=30, decimal_places=0, default=0
    )
    wallets_created = models.PositiveIntegerField(_("cagnottes créées"), default=0)
    report = models.TextField(_("rapport"), blank=True)
    started_at = models.DateTimeField(_("commencé le"), default=timezone.now)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("import de crédits")
        verbose_name_plural = _("imports de crédits")

    def __str__(self):
        return f"{self.file_name} ({self.started_at:%d/%m/%Y %H:%M})"


class SweepRun(models.Model):
    """What one run of the year-end sweep did to one program (shown to staff in the admin).

    A run killed half-way keeps ``finished_at`` empty; the next run finishes the job and has its
    own row. The figures count only what that run moved.
    """

    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.PROTECT, related_name="sweep_runs"
    )
    started_at = models.DateTimeField(_("commencé le"), default=timezone.now)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    wallets = models.PositiveIntegerField(_("cagnottes soldées"), default=0)
    to_favourites = models.BigIntegerField(_("Tookets aux associations favorites"), default=0)
    returned = models.BigIntegerField(_("Tookets rendus à la caisse régionale"), default=0)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("lancé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    run_by_label = models.CharField(_("lancé depuis"), max_length=80, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("soldage de fin de campagne")
        verbose_name_plural = _("soldages de fin de campagne")
        constraints = [
            models.CheckConstraint(
                condition=Q(to_favourites__gte=0, returned__gte=0), name="sweep_run_not_negative"
            )
        ]

    def __str__(self):
        return f"{self.program} — {self.started_at:%Y-%m-%d %H:%M}"


class PayoutStatement(models.Model):
    """What the bank pays each association for one program: computed once after the sweep,
    then frozen (its lines are never recomputed; ``check_ledger`` compares them with the
    ledger). Sent, then paid: each step keeps who and when."""

    class Status(models.TextChoices):
        COMPUTED = "computed", _("Établi")
        SENT = "sent", _("Envoyé à la banque")
        PAID = "paid", _("Payé")

    program = models.OneToOneField(
        Program,
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="payout_statement",
    )
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.COMPUTED
    )
    total_k = models.BigIntegerField(_("total (K)"), default=0)
    total_cents = models.BigIntegerField(_("total (centimes)"), default=0)
    computed_at = models.DateTimeField(_("établi le"), default=timezone.now)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("établi par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("envoyé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    paid_at = models.DateTimeField(_("payé le"), null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("payé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-program__year", "program__name"]
        verbose_name = _("état des versements")
        verbose_name_plural = _("états des versements")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["computed", "sent", "paid"]),
                name="payout_statement_status_valid",
            ),
            # 100 K = 1 €: one Tooket is one euro cent.
            models.CheckConstraint(
                condition=Q(total_cents=models.F("total_k")), name="payout_statement_cents"
            ),
            models.CheckConstraint(
                condition=Q(status="computed") | Q(sent_at__isnull=False),
                name="payout_statement_sent_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="payout_statement_paid_has_date",
            ),
        ]

    def __str__(self):
        return str(self.program)


class PayoutLine(models.Model):
    """One association's row of a payout statement. ``iban_problem`` set: listed apart, not
    in the transfer file, never silently dropped."""

    statement = models.ForeignKey(
        PayoutStatement,
        verbose_name=_("état des versements"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    association = models.ForeignKey(
        "associations.Association",
        verbose_name=_("association"),
        on_delete=models.PROTECT,
        related_name="payout_lines",
    )
    gifts_k = models.BigIntegerField(_("dons (K)"))
    sweeps_k = models.BigIntegerField(_("soldes de fin d’année (K)"))
    matched_k = models.BigIntegerField(_("abondement (K)"), default=0)
    total_k = models.BigIntegerField(_("total (K)"))
    amount_cents = models.BigIntegerField(_("montant (centimes)"))
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    iban_problem = models.CharField(_("problème d’IBAN"), max_length=80, blank=True)

    class Meta:
        ordering = ["association__name", "association_id"]
        verbose_name = _("ligne de versement")
        verbose_name_plural = _("lignes de versement")
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "association"], name="payout_line_one_per_association"
            ),
            models.CheckConstraint(
                condition=Q(gifts_k__gte=0, sweeps_k__gte=0, total_k__gt=0),
                name="payout_line_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(matched_k__gte=0), name="payout_line_matched_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(
                    total_k=models.F("gifts_k") + models.F("sweeps_k") + models.F("matched_k")
                ),
                name="payout_line_total_with_matching",
            ),
            models.CheckConstraint(
                condition=Q(amount_cents=models.F("total_k")), name="payout_line_cents"
            ),
        ]

    def __str__(self):
        return f"{self.association} : {self.amount_cents / 100:.2f} €"

    @property
    def payable(self) -> bool:
        return not self.iban_problem

    @property
    def euros(self) -> str:
        """« 1 234,56 » from integer cents, without floats."""
        euros, cents = divmod(self.amount_cents, 100)
        return f"{euros:,}".replace(",", "\u202f") + f",{cents:02d}"


class MatchingOfferQuerySet(models.QuerySet):
    def running_on(self, day=None) -> "MatchingOfferQuerySet":
        """Offers running on ``day``: inside their window, not closed early, their program
        open (the one open rule) — their budget may be spent."""
        day = day or timezone.localdate()
        return self.filter(
            open_condition(day, prefix="program__"),
            starts_on__lte=day,
            ends_on__gte=day,
            closed_at__isnull=True,
        )

    def in_effect_on(self, day=None) -> "MatchingOfferQuerySet":
        """Offers that match a gift made on ``day``: running, and budget not spent (what the
        cards and the gift form announce)."""
        return self.running_on(day).filter(spent__lt=models.F("budget"))

    def qualifying(self, *, association_id, domain_id, activity_id, caisse_locale_id):
        """Offers whose qualifying rules take this association (enrolment in the offer's
        program is the gift's own rule). Each list left empty takes every association; the
        lists filled must all take it (« sport » and « caisse locale de Mirande »: both)."""
        conditions = Q()
        for through, column, value in (
            (MatchingOffer.domains.through, "domain_id", domain_id),
            (MatchingOffer.activities.through, "activity_id", activity_id),
            (MatchingOffer.caisses_locales.through, "caisselocale_id", caisse_locale_id),
            (MatchingOffer.associations.through, "association_id", association_id),
        ):
            rows = through.objects.filter(matchingoffer_id=models.OuterRef("pk"))
            conditions &= ~models.Exists(rows) | models.Exists(rows.filter(**{column: value}))
        return self.filter(conditions)


class MatchingOffer(models.Model):
    """A regional bank tops up its members' gifts (« abondement ») in one program.

    The matched amount of a gift is ``gift × ratio_matched ÷ ratio_given`` (whole Tookets,
    rounded down), cut by each cap and by what is left of the budget. ``spent`` moves with
    each matching entry (``cagnotte.ledger.post_entry``), in the gift's transaction, under the
    offer's row lock; the database refuses ``spent`` above ``budget`` (a CHECK, as a wallet's
    balance may not go below zero), so racing gifts cannot overrun it. Once a gift has been
    matched (``spent > 0``) the terms are frozen: the offer can only be closed early.
    The year-end sweep is not matched.
    """

    program = models.ForeignKey(
        Program,
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="matching_offers",
    )
    name = models.CharField(
        _("nom affiché aux sociétaires"),
        max_length=120,
        help_text=_("Par exemple « Dons aux associations sportives doublés »."),
    )
    ratio_matched = models.PositiveSmallIntegerField(_("Tookets ajoutés"), default=1)
    ratio_given = models.PositiveSmallIntegerField(_("pour Tookets donnés"), default=1)
    domains = models.ManyToManyField(
        "associations.Domain", verbose_name=_("domaines"), blank=True, related_name="+"
    )
    activities = models.ManyToManyField(
        "associations.Activity", verbose_name=_("activités"), blank=True, related_name="+"
    )
    caisses_locales = models.ManyToManyField(
        "caisses.CaisseLocale", verbose_name=_("caisses locales"), blank=True, related_name="+"
    )
    associations = models.ManyToManyField(
        "associations.Association",
        verbose_name=_("associations choisies"),
        blank=True,
        related_name="+",
    )
    starts_on = models.DateField(_("du"))
    ends_on = models.DateField(_("au"))
    cap_per_gift = models.BigIntegerField(_("plafond par don (K)"), null=True, blank=True)
    cap_per_member = models.BigIntegerField(
        _("plafond par sociétaire sur l’offre (K)"), null=True, blank=True
    )
    cap_per_association = models.BigIntegerField(
        _("plafond par association sur l’offre (K)"), null=True, blank=True
    )
    budget = models.BigIntegerField(_("budget (K)"))
    spent = models.BigIntegerField(_("budget utilisé (K)"), default=0, editable=False)
    gifts_matched = models.PositiveIntegerField(_("dons abondés"), default=0, editable=False)
    # Bumped by every write (a match, a staff change or close): the pages that announce the
    # offer name their cached fragments with the sum of their offers' versions.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("créée par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    closed_at = models.DateTimeField(_("close le"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("close par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    close_reason = models.CharField(_("motif de clôture"), max_length=200, blank=True)

    objects = MatchingOfferQuerySet.as_manager()

    class Meta:
        ordering = ["-program__year", "name"]
        verbose_name = _("offre d’abondement")
        verbose_name_plural = _("offres d’abondement")
        constraints = [
            # The budget is a balance: what is left never goes below zero.
            models.CheckConstraint(
                condition=Q(spent__gte=0, spent__lte=models.F("budget")),
                name="matching_offer_budget_not_overrun",
            ),
            models.CheckConstraint(
                condition=Q(ratio_matched__gte=1, ratio_given__gte=1),
                name="matching_offer_ratio_whole",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")),
                name="matching_offer_dates_ordered",
            ),
            models.CheckConstraint(
                condition=(
                    (Q(cap_per_gift__isnull=True) | Q(cap_per_gift__gt=0))
                    & (Q(cap_per_member__isnull=True) | Q(cap_per_member__gt=0))
                    & (Q(cap_per_association__isnull=True) | Q(cap_per_association__gt=0))
                ),
                name="matching_offer_caps_positive",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.program})"

    def clean(self):
        program = self.program if self.program_id else None
        if program and self.starts_on and self.ends_on:
            if self.starts_on < program.opens_on or self.ends_on > program.closes_on:
                raise ValidationError(
                    _(
                        "Les dates de l’offre doivent être comprises dans la campagne "
                        "(du %(o)s au %(c)s)."
                    )
                    % {
                        "o": program.opens_on.strftime("%d/%m/%Y"),
                        "c": program.closes_on.strftime("%d/%m/%Y"),
                    }
                )
            if self.ends_on < self.starts_on:
                raise ValidationError(_("La date de fin précède la date de début."))

    @property
    def remaining(self) -> int:
        return self.budget - self.spent

    @property
    def ratio_label(self) -> str:
        return _("%(matched)s pour %(given)s") % {
            "matched": self.ratio_matched,
            "given": self.ratio_given,
        }

    def full_match(self, amount: int) -> int:
        """The ratio applied to a gift, before caps and budget (whole Tookets, rounded down)."""
        return amount * self.ratio_matched // self.ratio_given


class MatchingOfferEvent(models.Model):
    """Audit of an offer: who created, changed or closed it, when, and what."""

    class Event(models.TextChoices):
        CREATED = "created", _("Créée")
        CHANGED = "changed", _("Modifiée")
        CLOSED = "closed", _("Close avant terme")

    offer = models.ForeignKey(
        MatchingOffer,
        verbose_name=_("offre d’abondement"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    event = models.CharField(_("événement"), max_length=10, choices=Event.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(_("le"), default=timezone.now)
    data = models.JSONField(_("détail"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("historique d’une offre d’abondement")
        verbose_name_plural = _("historique des offres d’abondement")


class ProjectGift(models.Model):
    """A gift that counts for one of the association's projects: the gift itself is an
    ordinary ``gift`` entry to the association (the ledger, the figures and the payout see
    nothing else); this row, written by ``give_tookets`` in the gift's transaction, says
    which project it was for. Its amount is the entry's, positive, so a project's progress
    is one sum over this small table (``cagnotte.figures.project_progress``)."""

    # On PostgreSQL the key to the partitioned ledger is composite, (entry_id, entry_year) →
    # (id, year) (migration 0012); SQLite keeps the plain key of migration 0010.
    entry = models.OneToOneField(
        LedgerEntry,
        verbose_name=_("mouvement"),
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="project_gift",
        db_constraint=False,
    )
    entry_year = models.PositiveSmallIntegerField(_("année du mouvement"))
    project = models.ForeignKey(
        "associations.Project",
        verbose_name=_("projet"),
        on_delete=models.PROTECT,
        related_name="gifts",
    )
    amount = models.BigIntegerField(_("montant (K)"))

    class Meta:
        verbose_name = _("don à un projet")
        verbose_name_plural = _("dons aux projets")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="project_gift_positive")
        ]
