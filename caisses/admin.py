from django.contrib import admin
from django.contrib.admin import helpers
from django.utils.html import format_html
from django.utils.translation import gettext as _

from caisses.models import CaisseLocale, CaisseRegionale


def staff_caisse(request):
    """The regional bank a staff user is confined to; None for national staff and superusers."""
    user = request.user
    if user.is_superuser:
        return None
    return user.caisse_regionale_id


class CaisseScopedAdmin(admin.ModelAdmin):
    """Admin whose rows belong to a regional bank: staff of a bank see and edit only theirs.

    ``caisse_path`` is the lookup from the model to its regional bank. Scoping the queryset
    scopes everything the admin derives from it: lists, change pages, deletes, actions (an
    object outside the queryset is « not found », even through an edited URL).
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
        qs = super().get_queryset(request)
        caisse_id = staff_caisse(request)
        if caisse_id is None:
            if request.user.is_superuser or request.user.kind == "staff":
                return qs
            return qs.none()
        return qs.filter(**{f"{self.caisse_path}_id": caisse_id})

    # For the staff of one bank the bank column and filter say the same thing on every row;
    # dropping them leaves room for the other columns at 1280 px.
    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if staff_caisse(request) is None:
            return columns
        return [column for column in columns if column != "caisse_regionale"]

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if staff_caisse(request) is None:
            return filters
        return [f for f in filters if f != "caisse_regionale"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        caisse_id = staff_caisse(request)
        if caisse_id is not None:
            model = db_field.related_model
            if model is CaisseRegionale:
                kwargs["queryset"] = CaisseRegionale.objects.filter(pk=caisse_id)
            elif hasattr(model, "caisse_regionale"):
                kwargs["queryset"] = model._default_manager.filter(caisse_regionale_id=caisse_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Without this, a many-to-many widget (e.g. an association's managers) would list,
        # and accept, rows of every regional bank.
        caisse_id = staff_caisse(request)
        model = db_field.related_model
        if caisse_id is not None and hasattr(model, "caisse_regionale"):
            kwargs["queryset"] = model._default_manager.filter(caisse_regionale_id=caisse_id)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(CaisseRegionale)
class CaisseRegionaleAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "program_label"]
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
