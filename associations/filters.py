"""The directory's filters: a GET form, so a filtered view is a URL (shareable, back button).

Option lists come from the cache (``directory.directory_options``) and values are checked
against them in memory, so the number of queries does not depend on which filters are set.
"""

import functools

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from associations.directory import directory_options
from associations.selectors import (
    SORT_NAME,
    SORT_NEAREST,
    SORT_RANDOM,
    SORT_SUPPORTED,
    directory_filter,
    directory_order,
    search_words,
    shuffle_seed,
)

MODE_MAP = "carte"
MODE_LIST = "liste"
VIEW = "vue"  # the field choosing list or map: both show the same associations
SORT = "tri"  # the list's order: it filters nothing


class OptionFilter(forms.TypedChoiceField):
    """A filter chosen from one of the cached option lists (``directory_options``)."""

    def __init__(self, *, options: str, all_label, **kwargs):
        super().__init__(required=False, empty_value=None, **kwargs)
        self.option_list = options  # its key in ``directory_options``
        self.all_label = all_label  # the empty choice
        self.rows = tuple  # its option list's rows, read when needed (``set_options``)

    def set_options(self, rows) -> None:
        """``rows()``: the ``(pk, code, label)`` rows of its option list, called only when a
        value is checked or the field is rendered — a URL without this filter, whose page
        comes from the cache, reads no option list at all. A value is checked against the
        codes in one dict lookup, and the choices are built only if the field is rendered:
        normalising a few hundred choices on every request cost more than the rest of the
        form."""
        self.rows = rows
        all_label = self.all_label
        self.choices = lambda: [("", all_label)] + [(code, label) for _pk, code, label in rows()]
        self.coerce = lambda code: self.codes[code]

    @cached_property
    def codes(self) -> dict[str, int]:
        return {code: pk for pk, code, _label in self.rows()}

    def valid_value(self, value) -> bool:
        return value in self.codes


class DirectoryFilterForm(forms.Form):
    # The fields' names are the directory's query string: ``FILTERS`` (below) lists them once.
    activite = OptionFilter(
        label=_("Filter par activités"), options="activities", all_label=_("Toutes les activités")
    )
    domaine = OptionFilter(
        label=_("Filter par domaines"), options="domains", all_label=_("Tous les domaines")
    )
    caisse = OptionFilter(
        label=_("Filter par caisse locale"),
        options="caisses",
        all_label=_("Toutes les caisses locales"),
    )
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
    tri = forms.ChoiceField(
        label=_("Trier"),
        choices=[
            (SORT_RANDOM, _("Au hasard")),
            (SORT_NEAREST, _("Les plus proches")),
            (SORT_SUPPORTED, _("Les plus soutenues")),
            (SORT_NAME, _("Nom")),
        ],
        required=False,
    )

    def __init__(self, data=None, *, member, version: int | None = None, **kwargs):
        super().__init__(data, **kwargs)
        self.member = member
        self.version = version
        for name in OPTION_FILTERS:
            field = self.fields[name]
            field.set_options(functools.partial(lambda key: self.options[key], field.option_list))

    @cached_property
    def options(self) -> dict:
        """The option lists (``directory_options``: one cache round trip), read only when a
        filter is set, a page is rendered or « Les plus proches » measures."""
        return directory_options(self.member.caisse_regionale_id, version=self.version)

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
    def sort(self) -> str:
        return self._valid_data().get(SORT) or SORT_RANDOM

    def _origin(self) -> tuple[float, float] | None:
        """Where « Les plus proches » measures from: the member's local bank, else the middle
        of their regional bank's local banks (the cached option lists: no query)."""
        positions = self.options["positions"]
        if self.member.caisse_locale_id in positions:
            return positions[self.member.caisse_locale_id]
        if not positions:
            return None
        lats, lngs = zip(*positions.values(), strict=True)
        return sum(lats) / len(lats), sum(lngs) / len(lngs)

    def _order(self) -> tuple[str, object]:
        """(sort, what its order depends on): the seed of the member's day, or the origin."""
        sort = self.sort
        if sort == SORT_RANDOM:
            return sort, shuffle_seed(self.member.pk, timezone.localdate())
        if sort == SORT_NEAREST:
            return sort, self._origin()
        return sort, None

    def order_by(self) -> list:
        """The list's order (``selectors.directory_order``)."""
        sort, basis = self._order()
        return directory_order(
            sort,
            seed=basis if sort == SORT_RANDOM else (1, 0),
            origin=basis if sort == SORT_NEAREST else None,
        )

    def order_key(self) -> tuple:
        """What the order depends on, for the cache keys (``directory_query_key``): two
        members of one scope share a page only when they share its order."""
        return self._order()

    @property
    def mode(self) -> str:
        return MODE_MAP if self._valid_data().get(VIEW) == MODE_MAP else MODE_LIST

    @property
    def is_filtered(self) -> bool:
        data = self._valid_data()
        return any(data.get(k) for k in FILTERS)

    @property
    def active_filter_count(self) -> int:
        """How many of the three lists (activity, domain, local bank) are set."""
        data = self._valid_data()
        return sum(1 for k in OPTION_FILTERS if data.get(k) is not None)

    def _shown_values(self) -> dict[str, str]:
        # The valid values only, as a URL writes them (a list's code, the search as cleaned):
        # the cached page shows what its key names (associations.directory_query).
        if not self.is_bound:
            return {}
        data = self._valid_data()
        values = {key: self.data[key] for key in OPTION_FILTERS if data.get(key)}
        values.update((key, data[key]) for key in (SEARCH, SORT, VIEW) if data.get(key))
        return values

    def kept_filters(self) -> list[tuple[str, str]]:
        """The filters set and the sort, as (name, value) pairs, for the map/list switch's
        hidden fields."""
        data = self._shown_values()
        return [(key, data[key]) for key in (*FILTERS, SORT) if data.get(key)]

    def query_string(self, **overrides) -> str:
        """The current filters as a query string (for pagination and the map/list switch)."""
        params = QueryDict(mutable=True)
        data = self._shown_values()
        for key in (*FILTERS, SORT, VIEW):
            value = overrides.get(key, data.get(key))
            if value:
                params[key] = value
        return params.urlencode()


# The directory's filters as its URLs name them: the form's fields but the view and the sort, in their
# order. The form, the links that keep the filters and the map data's key read this list.
FILTERS = tuple(name for name in DirectoryFilterForm.base_fields if name not in (VIEW, SORT))
# Those chosen from an option list; the other one is the name search.
OPTION_FILTERS = tuple(
    name for name in FILTERS if isinstance(DirectoryFilterForm.base_fields[name], OptionFilter)
)
(SEARCH,) = (name for name in FILTERS if name not in OPTION_FILTERS)
