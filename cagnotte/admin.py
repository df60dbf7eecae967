"""Admin: programs are edited by their regional bank's staff; wallets and the ledger are
read-only (money moves only through the services, which keep balances and totals in step)."""

from django.contrib import admin

from cagnotte.models import CreditImportBatch, LedgerEntry, Program, Wallet
from caisses.admin import CaisseScopedAdmin


@admin.register(Program)
class ProgramAdmin(CaisseScopedAdmin):
    list_display = ["name", "code", "year", "caisse_regionale", "opens_on", "closes_on", "swept_at"]
    list_filter = ["year", "caisse_regionale"]
    search_fields = ["name", "code"]
    readonly_fields = ["swept_at"]

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


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyScopedAdmin):
    caisse_path = "wallet__program__caisse_regionale"
    list_display = ["created_at", "kind", "amount", "wallet", "association", "reference", "period"]
    list_filter = ["kind", "period"]
    list_select_related = ["wallet__member", "wallet__program", "association"]
    search_fields = ["reference", "wallet__member__account_number", "association__name"]
    date_hierarchy = "created_at"
    raw_id_fields = ["wallet", "association", "created_by"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page


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
