from django.contrib import admin
from django.contrib.admin import helpers
from django.utils.html import format_html
from django.utils.translation import gettext as _

from caisses.models import CaisseLocale, CaisseRegionale
from caisses.staff import ALL_BANKS, caisse_path_of, is_bank_staff, scope_to_staff, staff_caisse


def _is_national(request) -> bool:
    return is_bank_staff(request.user) and staff_caisse(request.user) is ALL_BANKS


class CaisseScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A list filter on a related model whose choices are the staff member's bank's rows.

    Django's ``RelatedFieldListFilter`` lists every row of the related model (every bank's
    programs); ``RelatedOnlyFieldListFilter`` reads them from the listed table, a DISTINCT
    over millions of wallets. This one reads the related table, scoped like the admin is.
    """

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        related = field.related_model
        rows = scope_to_staff(
            related._default_manager.all(), request.user, caisse_path=caisse_path_of(related)
        )
        if ordering:
            rows = rows.order_by(*ordering)
        return [(row.pk, str(row)) for row in rows]


class CaisseScopedAdmin(admin.ModelAdmin):
    """Admin whose rows belong to a regional bank: staff of a bank see and edit only theirs.

    ``caisse_path`` is the lookup from the model to its regional bank. Scoping the queryset
    scopes everything the admin derives from it: lists, change pages, deletes, actions,
    autocompletes of other admins pointing here (an object outside the queryset is « not
    found », even through an edited URL). The rule itself is ``caisses.staff``.
    """

    caisse_path = "caisse_regionale"
    # The staff's lists: 50 rows a page (Django's 100 made the list the slowest staff page,
    # every cell of a row being rendered through the admin's display machinery), and no
    # second count of the whole table under a filter.
    list_per_page = 50
    show_full_result_count = False

    def action_checkbox(self, obj):
        """Django's row checkbox, written directly: the same HTML as its widget (a test
        compares them), without rendering a widget template for each row of the page."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

    def get_queryset(self, request):
        return scope_to_staff(
            super().get_queryset(request), request.user, caisse_path=self.caisse_path
        )

    # For the staff of one bank the bank column and filter say the same thing on every row;
    # dropping them leaves room for the other columns at 1280 px.
    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if _is_national(request):
            return columns
        return [column for column in columns if column != "caisse_regionale"]

    def get_list_filter(self, request):
        filters = []
        for entry in super().get_list_filter(request):
            if entry == "caisse_regionale" and not _is_national(request):
                continue
            filters.append(self._scoped_filter(entry))
        return filters

    def _scoped_filter(self, entry):
        """A plain related-field filter whose related rows belong to a bank gets scoped."""
        if not isinstance(entry, str) or "__" in entry:
            return entry
        field = self.model._meta.get_field(entry)
        if field.is_relation and caisse_path_of(field.related_model) is not None:
            return (entry, CaisseScopedRelatedFilter)
        return entry

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Without this, a many-to-many widget (e.g. an association's managers) would list,
        # and accept, rows of every regional bank.
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(self, db_field, request, kwargs):
        model = db_field.related_model
        path = caisse_path_of(model)
        if path is not None and not _is_national(request):
            kwargs["queryset"] = scope_to_staff(
                model._default_manager.all(), request.user, caisse_path=path
            )


@admin.register(CaisseRegionale)
class CaisseRegionaleAdmin(CaisseScopedAdmin):
    # Scoped like every other bank row: staff of one bank open their bank's record only, and
    # the autocompletes pointing at regional banks list theirs only.
    caisse_path = "pk"
    list_display = ["name", "code", "program_label", "bank_code", "bic"]
    search_fields = ["name", "code"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaisseLocale)
class CaisseLocaleAdmin(CaisseScopedAdmin):
    list_display = ["name", "code", "departement", "caisse_regionale"]
    list_filter = ["caisse_regionale"]
    search_fields = ["name", "code"]
