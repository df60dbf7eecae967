"""The directory's filters: a GET form, so a filtered view is a URL (shareable, back button).

Option lists come from the cache (``selectors.directory_options``) and values are checked
against them in memory, so the number of queries does not depend on which filters are set.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from associations.selectors import directory_filter, directory_options, search_words

MODE_MAP = "carte"
MODE_LIST = "liste"


class DirectoryFilterForm(forms.Form):
    activite = forms.TypedChoiceField(label=_("Filter par activités"), required=False)
    domaine = forms.TypedChoiceField(label=_("Filter par domaines"), required=False)
    caisse = forms.TypedChoiceField(label=_("Filter par caisse locale"), required=False)
    q = forms.CharField(
        label=_("Taper le nom de l'association"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Taper le nom de l'association"),
                "autocomplete": "off",
            }
        ),
    )
    vue = forms.ChoiceField(
        choices=[(MODE_LIST, _("Liste")), (MODE_MAP, _("Carte"))],
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, data=None, *, member, version: int | None = None, **kwargs):
        super().__init__(data, **kwargs)
        options = self.options = directory_options(member.caisse_regionale_id, version=version)
        for name, rows, empty in [
            ("activite", options["activities"], _("Toutes les activités")),
            ("domaine", options["domains"], _("Tous les domaines")),
            ("caisse", options["caisses"], _("Toutes les caisses locales")),
        ]:
            field = self.fields[name]
            ids_by_code = {code: pk for pk, code, _label in rows}
            field.choices = [("", empty)] + [(code, label) for _pk, code, label in rows]
            field.coerce = ids_by_code.__getitem__
            field.empty_value = None

    def _valid_data(self) -> dict:
        # A stale or hand-made link with one bad value keeps its other, valid filters.
        self.is_valid()
        return self.cleaned_data

    def condition(self):
        """The valid filters as a Q (see ``selectors.directory_filter``)."""
        data = self._valid_data()
        return directory_filter(
            activity_id=data.get("activite"),
            domain_id=data.get("domaine"),
            caisse_locale_id=data.get("caisse"),
            # Its words in one order: the same search typed in another order is the same
            # condition (and the same cached counts).
            name=" ".join(sorted(search_words(data.get("q") or ""))),
        )

    @property
    def mode(self) -> str:
        return MODE_MAP if self._valid_data().get("vue") == MODE_MAP else MODE_LIST

    @property
    def is_filtered(self) -> bool:
        data = self._valid_data()
        return any(data.get(k) for k in ("activite", "domaine", "caisse", "q"))

    @property
    def active_filter_count(self) -> int:
        """How many of the three lists (activity, domain, local bank) are set."""
        data = self._valid_data()
        return sum(1 for k in ("activite", "domaine", "caisse") if data.get(k) is not None)

    def _shown_values(self) -> dict[str, str]:
        # The valid values only, as a URL writes them (a list's code, the search as cleaned):
        # the cached page shows what its key names (associations.directory_query).
        if not self.is_bound:
            return {}
        data = self._valid_data()
        values = {key: self.data[key] for key in ("activite", "domaine", "caisse") if data.get(key)}
        values.update((key, data[key]) for key in ("q", "vue") if data.get(key))
        return values

    def kept_filters(self) -> list[tuple[str, str]]:
        """The filters set, as (name, value) pairs, for the map/list switch's hidden fields."""
        data = self._shown_values()
        return [(key, data[key]) for key in ("activite", "domaine", "caisse", "q") if data.get(key)]

    def query_string(self, **overrides) -> str:
        """The current filters as a query string (for pagination and the map/list switch)."""
        from django.http import QueryDict

        params = QueryDict(mutable=True)
        data = self._shown_values()
        for key in ("activite", "domaine", "caisse", "q", "vue"):
            value = overrides.get(key, data.get(key))
            if value:
                params[key] = value
        return params.urlencode()
