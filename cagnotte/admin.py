"""Admin: programs are edited by their regional bank's staff; wallets and the ledger are
read-only (money moves only through the services, which keep balances and totals in step)."""

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from associations import services as association_services
from associations.models import Association
from associations.selectors import renewal_candidates
from cagnotte import matching, payouts
from cagnotte.models import (
    CreditImportBatch,
    LedgerEntry,
    MatchingOffer,
    MatchingOfferEvent,
    PayoutLine,
    PayoutStatement,
    Program,
    SweepRun,
    Wallet,
)
from caisses.admin import CaisseScopedAdmin
from caisses.staff import ALL_BANKS, is_bank_staff, may_act_on, staff_caisse
from tookets.periods import is_period
from tookets.staff_home import CAMPAIGN_STATE_PARAM, CLOSED_WAITING


class ProgramAdminForm(forms.ModelForm):
    """A campaign as its bank's staff open it: dates in order, one campaign of a name per
    year in a bank, and dates that change under members' Tookets only when confirmed."""

    confirm_dates = forms.BooleanField(
        label=_("Je confirme le changement de dates"),
        required=False,
        help_text=_(
            "Des sociétaires détiennent des Tookets dans cette campagne : ses dates décident "
            "jusqu’à quand ils peuvent les donner et quand le solde part au soldage."
        ),
    )

    class Meta:
        model = Program
        fields = [
            "caisse_regionale",
            "name",
            "code",
            "year",
            "opens_on",
            "closes_on",
            "reminder_days_before",
        ]

    # The admin sets it: the staff member's bank, or the one a national staff member chose.
    caisse_regionale_id = None

    def clean(self):
        data = super().clean()
        opens_on, closes_on = data.get("opens_on"), data.get("closes_on")
        if opens_on and closes_on and closes_on < opens_on:
            self.add_error("closes_on", _("La clôture doit suivre l’ouverture."))
        caisse_id = self.caisse_regionale_id or getattr(data.get("caisse_regionale"), "pk", None)
        name, year = data.get("name"), data.get("year")
        if caisse_id and name and year:
            twins = Program.objects.filter(caisse_regionale_id=caisse_id, name=name, year=year)
            if twins.exclude(pk=self.instance.pk).exists():
                self.add_error(
                    "name",
                    _("Cette Caisse régionale a déjà une campagne de ce nom cette année-là."),
                )
        if (
            self.instance.pk
            and "year" in self.changed_data
            and Wallet.objects.filter(program=self.instance).exists()
        ):
            # The ledger is partitioned by it (the database refuses the change too).
            self.add_error(
                "year",
                _(
                    "Des cagnottes existent dans cette campagne : son année ne change plus "
                    "(leurs mouvements sont rangés par année)."
                ),
            )
        if self.instance.pk and {"opens_on", "closes_on"} & set(self.changed_data):
            if self.instance.is_swept:
                self.add_error(None, _("La campagne est soldée : ses dates ne changent plus."))
            holders = Wallet.objects.filter(program=self.instance, balance__gt=0).count()
            if holders and not data.get("confirm_dates"):
                self.add_error(
                    "confirm_dates",
                    ngettext(
                        "%(n)s sociétaire détient des Tookets dans cette campagne : ses dates "
                        "décident jusqu’à quand il peut les donner et quand son solde part au "
                        "soldage. Cochez la confirmation pour changer les dates.",
                        "%(n)s sociétaires détiennent des Tookets dans cette campagne : ses dates "
                        "décident jusqu’à quand ils peuvent les donner et quand leur solde part "
                        "au soldage. Cochez la confirmation pour changer les dates.",
                        holders,
                    )
                    % {"n": holders},
                )
        return data


class CampaignStateFilter(admin.SimpleListFilter):
    """Where a campaign stands today, by the campaign rules (the staff home links here)."""

    title = _("état")
    parameter_name = CAMPAIGN_STATE_PARAM

    def lookups(self, request, model_admin):
        return [
            ("ouverte", _("ouverte")),
            (CLOSED_WAITING, _("close, en attente du soldage")),
            ("soldee", _("soldée")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "ouverte":
            return queryset & Program.objects.open_on()
        if self.value() == CLOSED_WAITING:
            return queryset & Program.objects.sweepable_on()
        if self.value() == "soldee":
            return queryset.filter(swept_at__isnull=False)
        return queryset


@admin.register(Program)
class ProgramAdmin(CaisseScopedAdmin):
    """A bank's Tookets service opens its next campaign here and renews last campaign's list
    into it (« Reconduire les associations »), scoped to its bank (``caisses.staff``)."""

    form = ProgramAdminForm
    list_display = ["name", "code", "year", "caisse_regionale", "opens_on", "closes_on", "swept_at"]
    list_filter = [CampaignStateFilter, "year", "caisse_regionale"]
    search_fields = ["name", "code"]
    readonly_fields = ["swept_at"]
    actions = ["payout_statement_action", "renew_eligibility_action"]

    # Staff manage campaigns by role (``caisses.staff``), scoped by ``get_queryset``.
    def has_module_permission(self, request):
        return is_bank_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_bank_staff(request.user)

    def has_add_permission(self, request):
        return is_bank_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_bank_staff(request.user) and (
            obj is None or may_act_on(request.user, obj.caisse_regionale_id)
        )

    def get_fields(self, request, obj=None):
        fields = [*ProgramAdminForm.Meta.fields, "confirm_dates", "swept_at"]
        if staff_caisse(request.user) is not ALL_BANKS:
            fields.remove("caisse_regionale")  # their own bank, set on save
        if obj is None:
            fields.remove("confirm_dates")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        caisse_id = staff_caisse(request.user)
        if caisse_id is not ALL_BANKS:
            form = type(form.__name__, (form,), {"caisse_regionale_id": caisse_id})
        return form

    def save_model(self, request, obj, form, change):
        caisse_id = staff_caisse(request.user)
        if caisse_id is not ALL_BANKS:
            obj.caisse_regionale_id = caisse_id
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "<int:program_id>/reconduire/",
                self.admin_site.admin_view(self.renew_view),
                name="cagnotte_program_renew",
            ),
            *super().get_urls(),
        ]

    @admin.action(description=_("Reconduire les associations de la campagne précédente"))
    def renew_eligibility_action(self, request, queryset):
        programs = list(queryset[:2])
        if len(programs) != 1:
            self.message_user(request, _("Choisissez une seule campagne."), messages.ERROR)
            return None
        return redirect("admin:cagnotte_program_renew", program_id=programs[0].pk)

    def renew_view(self, request, program_id):
        """Last campaign's associations still validated, all preselected; one decision
        retains the ticked ones for this campaign (``associations.services.renew_eligibility``)."""
        program = self.get_queryset(request).filter(pk=program_id).first()
        if program is None or not self.has_change_permission(request, program):
            raise Http404
        candidates = list(renewal_candidates(program))
        previous = program.previous()
        if request.method == "POST":
            chosen = [
                int(v) for v in request.POST.getlist("association") if v.isascii() and v.isdigit()
            ]
            try:
                created = association_services.renew_eligibility(
                    program=program, association_ids=chosen, staff=request.user
                )
            except association_services.WorkflowError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(n)s association retenue pour %(label)s.",
                        "%(n)s associations retenues pour %(label)s.",
                        len(created),
                    )
                    % {"n": len(created), "label": program.label},
                    messages.SUCCESS,
                )
                return redirect("admin:cagnotte_program_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Reconduire les associations dans %s") % program.label,
            "program": program,
            "previous": previous,
            "candidates": candidates,
        }
        return TemplateResponse(request, "admin/cagnotte/program/renew.html", context)

    @admin.action(description=_("Établir l’état des versements (programmes soldés)"))
    def payout_statement_action(self, request, queryset):
        for program in queryset:
            try:
                payouts.compute_payout_statement(program=program, actor=request.user)
            except payouts.PayoutError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request, _("État des versements établi : %s") % program, messages.SUCCESS
                )

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyScopedAdmin(CaisseScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Wallet)
class WalletAdmin(ReadOnlyScopedAdmin):
    caisse_path = "program__caisse_regionale"
    list_display = ["member", "program", "balance", "created_at"]
    list_filter = ["program__year", "program"]
    list_select_related = ["member", "program"]
    search_fields = ["member__account_number", "member__display_name", "member__username"]
    raw_id_fields = ["member"]


class LedgerPaginator(Paginator):
    """Counts at most ``CAP`` + 1 of the list's rows: the staff's whole ledger is millions of
    entries a year at a large bank, and counting them was most of the page (3.8 s for the
    ledger list on a million entries). The pagination then says « plus de » (its template:
    ``admin/cagnotte/ledgerentry/pagination.html``): filters and the search narrow it."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class LedgerYearFilter(admin.SimpleListFilter):
    """The campaign year (the ledger's partition key: a year chosen reads one partition);
    the choices are the years of the programs, not read from the entries."""

    title = _("année de campagne")
    parameter_name = "annee"

    def lookups(self, request, model_admin):
        years = Program.objects.values_list("year", flat=True).distinct().order_by("-year")
        bank = staff_caisse(request.user)
        if bank is not ALL_BANKS:
            years = years.filter(caisse_regionale_id=bank)
        return [(str(year), str(year)) for year in years]

    def queryset(self, request, queryset):
        year = _year_param(self.value())
        return queryset if year is None else queryset.filter(year=year)


class LedgerPeriodFilter(admin.SimpleListFilter):
    """The month credited, among the twelve of the chosen campaign year (this year's when
    none is): not a DISTINCT over the entries."""

    title = _("période")
    parameter_name = "periode"

    def lookups(self, request, model_admin):
        year = _year_param(request.GET.get(LedgerYearFilter.parameter_name))
        year = year or timezone.localdate().year
        return [(f"{year}-{m:02d}", f"{year}-{m:02d}") for m in range(12, 0, -1)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(period=value) if value and is_period(value) else queryset


def _year_param(value) -> int | None:
    """A campaign year from a query parameter, None for anything else (a garbage value is
    ignored, never an error)."""
    if value and value.isascii() and value.isdigit() and len(value) <= 4:
        return int(value)
    return None


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyScopedAdmin):
    """The staff's ledger: built for millions of entries. The newest first by id (the
    partitions' primary keys, walked backwards until a page of the staff's bank is read: the
    creation order, ids being handed out in it), no sorting by column (each would sort the
    whole ledger), no date hierarchy (its first and last dates and its years were three reads
    of the whole ledger per view), filters whose choices are not read from the entries, a
    count capped by ``LedgerPaginator``, and a search by exact values on the entries' own
    indexed columns (``get_search_results``)."""

    # A matching entry has no wallet: it reaches its bank through its offer's program.
    caisse_path = ("wallet__program__caisse_regionale", "offer__program__caisse_regionale")
    list_display = ["created_at", "kind", "amount", "wallet", "association", "reference", "period"]
    list_filter = ["kind", LedgerYearFilter, LedgerPeriodFilter]
    list_select_related = ["wallet__member", "wallet__program", "association"]
    search_fields = ["reference"]  # the box is shown; get_search_results says what it reads
    search_help_text = _(
        "Référence exacte, numéro de compte exact du sociétaire ou partie du nom de l’association."
    )
    ordering = ["-id"]
    sortable_by = ()
    paginator = LedgerPaginator
    raw_id_fields = ["wallet", "association", "created_by"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    # The list reads the entries through its filters only: any other lookup in the address (a
    # date, an amount…) would read the whole ledger, and a bad value of one would fail in the
    # database. Django answers another one with a 400 (« requête incorrecte »).
    LOOKUPS = frozenset(
        {
            "kind",
            "kind__exact",
            "kind__isnull",
            LedgerYearFilter.parameter_name,
            LedgerPeriodFilter.parameter_name,
        }
    )
    # Associations whose name matches the search, at most (a word found in thousands of
    # names is no search): the help text asks for more of the name.
    SEARCH_ASSOCIATIONS_MAX = 500

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in self.LOOKUPS

    def get_search_results(self, request, queryset, search_term):
        """The entries whose reference is the term, of the wallets of the member whose
        account number it is, or given to an association whose name holds it: each read by
        an index of the ledger (a ``LIKE`` over millions of references and a join per row
        were a scan of the whole ledger)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        wanted = Q(reference=term)
        wallets = list(
            Wallet.objects.filter(member__account_number=term).values_list("pk", flat=True)
        )
        if wallets:
            wanted |= Q(wallet_id__in=wallets)
        associations = list(
            Association.objects.filter(name__icontains=term).values_list("pk", flat=True)[
                : self.SEARCH_ASSOCIATIONS_MAX
            ]
        )
        if associations:
            wanted |= Q(association_id__in=associations)
        return queryset.filter(wanted), False


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyScopedAdmin):
    caisse_path = "program__caisse_regionale"
    list_display = [
        "program",
        "started_at",
        "finished_at",
        "wallets",
        "to_favourites",
        "returned",
        "run_by",
        "run_by_label",
    ]
    list_filter = ["program__year"]
    list_select_related = ["program", "run_by"]


class PayoutLineInline(admin.TabularInline):
    model = PayoutLine
    fields = [
        "association",
        "gifts_k",
        "sweeps_k",
        "matched_k",
        "total_k",
        "amount_cents",
        "iban",
        "bic",
        "iban_problem",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _download(data: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(PayoutStatement)
class PayoutStatementAdmin(ReadOnlyScopedAdmin):
    """Frozen statements: read-only; exported and marked sent then paid through actions that
    only ever see the staff member's own bank (the queryset is scoped)."""

    caisse_path = "program__caisse_regionale"
    list_display = [
        "program",
        "status",
        "total_k",
        "euros",
        "computed_at",
        "sent_at",
        "sent_by",
        "paid_at",
        "paid_by",
    ]
    list_filter = ["status", "program__year"]
    list_select_related = ["program", "sent_by", "paid_by"]
    inlines = [PayoutLineInline]
    actions = ["export_csv_action", "export_sepa_action", "mark_sent_action", "mark_paid_action"]

    @admin.display(description=_("montant (€)"))
    def euros(self, obj):
        return f"{obj.total_cents // 100},{obj.total_cents % 100:02d}"

    def _one(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choisissez un seul état des versements."), messages.ERROR)
            return None
        return queryset.select_related("program__caisse_regionale").first()

    @admin.action(description=_("Exporter en CSV"))
    def export_csv_action(self, request, queryset):
        statement = self._one(request, queryset)
        if statement is None:
            return None
        return _download(
            payouts.export_csv(statement=statement),
            filename=f"versements-{statement.program.code}.csv",
            content_type="text/csv; charset=utf-8",
        )

    @admin.action(description=_("Exporter le virement SEPA (pain.001.001.03)"))
    def export_sepa_action(self, request, queryset):
        statement = self._one(request, queryset)
        if statement is None:
            return None
        try:
            data = payouts.export_sepa(statement=statement)
        except payouts.PayoutError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        return _download(
            data, filename=f"virement-{statement.program.code}.xml", content_type="application/xml"
        )

    def _steps(self, request, queryset, step, done):
        for statement in queryset:
            try:
                step(statement=statement, actor=request.user)
            except payouts.PayoutError as exc:
                self.message_user(request, f"{statement} : {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{statement} : {done}", messages.SUCCESS)

    @admin.action(description=_("Marquer comme envoyé à la banque"))
    def mark_sent_action(self, request, queryset):
        self._steps(request, queryset, payouts.mark_statement_sent, _("envoyé"))

    @admin.action(description=_("Marquer comme payé"))
    def mark_paid_action(self, request, queryset):
        self._steps(request, queryset, payouts.mark_statement_paid, _("payé"))

    def has_change_permission(self, request, obj=None):
        # The change page is needed to read the lines; nothing on it is editable.
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in PayoutStatement._meta.fields]


@admin.register(CreditImportBatch)
class CreditImportBatchAdmin(ReadOnlyScopedAdmin):
    """Every credit import, read-only. Staff of a bank see the files that hold only their
    bank's rows; a file of several banks (or none known) only national staff see."""

    list_display = [
        "started_at",
        "file_name",
        "status",
        "caisse_regionale",
        "rows",
        "applied",
        "already_applied",
        "error_count",
        "source",
        "run_by",
    ]
    list_filter = ["status", "source", "caisse_regionale"]
    list_select_related = ["caisse_regionale"]
    search_fields = ["file_name", "sha256"]
    date_hierarchy = "started_at"
    fields = [
        "file_name",
        "sha256",
        "status",
        "duplicate_of",
        "caisse_regionale",
        "source",
        "run_by",
        "all_or_nothing",
        "forced",
        "rows",
        "applied",
        "already_applied",
        "error_count",
        "tookets_applied",
        "wallets_created",
        "started_at",
        "finished_at",
        "report",
    ]


class MatchingOfferEventInline(admin.TabularInline):
    model = MatchingOfferEvent
    fields = ["at", "event", "actor", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MatchingOffer)
class MatchingOfferAdmin(CaisseScopedAdmin):
    """A bank's matching offers (« abondement »): defined by its staff on one of its programs,
    audited; frozen once a gift is matched, then only closed early (the action)."""

    caisse_path = "program__caisse_regionale"
    list_display = [
        "name",
        "program",
        "ratio_label",
        "starts_on",
        "ends_on",
        "budget",
        "spent",
        "gifts_matched",
        "closed_at",
    ]
    list_filter = ["program__year"]
    list_select_related = ["program"]
    search_fields = ["name"]
    # Raw ids, not an autocomplete: Django's autocomplete widget fails (a 500) when a post
    # with a value that is no id is shown again; the raw-id widget shows it as it is.
    raw_id_fields = ["associations"]
    filter_horizontal = ["domains", "activities", "caisses_locales"]
    inlines = [MatchingOfferEventInline]
    actions = ["close_early"]
    LISTS = ("domains", "activities", "caisses_locales", "associations")
    fieldsets = [
        (None, {"fields": ["program", "name"]}),
        (
            _("Abondement"),
            {
                "fields": ["ratio_matched", "ratio_given", "starts_on", "ends_on"],
                "description": _(
                    "Le don est complété de « Tookets ajoutés » pour « Tookets donnés » "
                    "(1 pour 1 : doublé), arrondi au Tooket inférieur. Le soldage de fin "
                    "d’année n’est pas abondé."
                ),
            },
        ),
        (
            _("Dons concernés"),
            {
                "fields": list(LISTS),
                "description": _(
                    "Toutes les associations du programme si rien n’est choisi ; chaque "
                    "liste remplie doit retenir l’association."
                ),
            },
        ),
        (
            _("Plafonds et budget (K)"),
            {"fields": ["cap_per_gift", "cap_per_member", "cap_per_association", "budget"]},
        ),
        (
            _("Suivi"),
            {
                "fields": [
                    "spent",
                    "gifts_matched",
                    "created_at",
                    "created_by",
                    "closed_at",
                    "closed_by",
                    "close_reason",
                ]
            },
        ),
    ]
    TRACKING = [
        "spent",
        "gifts_matched",
        "created_at",
        "created_by",
        "closed_at",
        "closed_by",
        "close_reason",
    ]

    @admin.display(description=_("ratio"))
    def ratio_label(self, obj):
        return obj.ratio_label

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and (obj.gifts_matched or obj.closed_at):
            # Frozen: a gift was matched (or the offer is closed); only the close remains.
            return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]
        return self.TRACKING

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data.get(name) for name in form.changed_data}
        try:
            matching.save_offer(offer=obj, actor=request.user, changed=values)
        except (matching.OfferFrozen, matching.OfferClosed) as exc:
            # A gift matched between the page and the post (the fields are read-only after).
            self.message_user(request, exc.message, messages.ERROR)

    def save_related(self, request, form, formsets, change):
        # The qualifying lists are terms too: saved only if the offer is not frozen.
        offer = form.instance
        offer.refresh_from_db(fields=["gifts_matched"])
        if offer.gifts_matched and any(name in form.changed_data for name in self.LISTS):
            return
        super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Clore l’offre avant terme"))
    def close_early(self, request, queryset):
        for offer in queryset:
            try:
                matching.close_offer(
                    offer=offer,
                    actor=request.user,
                    reason=_("Close avant terme depuis l’administration"),
                )
            except matching.OfferClosed as exc:
                self.message_user(request, f"{offer} : {exc.message}", messages.WARNING)
            else:
                self.message_user(request, _("Offre close : %s") % offer, messages.SUCCESS)
