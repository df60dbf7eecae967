"""What a directory URL asks for, as the cache keys name it.

The directory's pages are cached under keys built from the request. Built from the raw query
string, any parameter — ``?utm_source=<random>``, ``?activite=<random>``, ``?page=<huge>``,
``?next=/<random>`` — made new keys: a member could fill the shared cache (issue 24). So
a key names only what the page reads, canonical:

* ``directory_query_key``: the filter form's valid values (a list's id, the search as the
  search rule reads it: words without case or accents, sorted), the view, the page number;
  a parameter the form does not know is not there, an invalid value only by the name of its
  field (the page says « Erreur » the same whatever the value); for a page of the list, the
  sort with what its order depends on (``DirectoryFilterForm.order_key``), never for the
  map's markers, which have no order;
* ``NEXT_PLACEHOLDER`` / ``with_next``: the URL a card's favourite form comes back to is no
  part of any key: cards are cached with a placeholder, replaced by the request's own URL on
  the way out (as ``tookets.fragments`` does for the CSRF token).
"""

from django.utils.html import conditional_escape

from associations.filters import MODE_MAP, OPTION_FILTERS, SEARCH, SORT, VIEW
from associations.selectors import search_words

# Letters and hyphens only: escaping leaves it as it is, so it is found in rendered HTML.
NEXT_PLACEHOLDER = "next-4b8e1f07c2d94a6b-placeholder"


def directory_query_key(form, *, page: int | None = None) -> tuple:
    """The canonical query of a bound ``DirectoryFilterForm``: ``(name, value)`` pairs in a
    fixed order. ``page`` (list view only): the page number asked for, already an integer."""
    form.is_valid()
    data = form.cleaned_data
    pairs = [(name, data[name]) for name in OPTION_FILTERS if data.get(name) is not None]
    words = sorted(search_words(data.get(SEARCH) or ""))
    if words:
        pairs.append((SEARCH, tuple(words)))
    if form.mode == MODE_MAP:
        pairs.append((VIEW, MODE_MAP))
    elif page is not None:
        # A page of the list: its order, the sort and what it depends on (the member's seed
        # of the day, their local bank's position) — a shuffled page is that member's own.
        # The map's markers have no order: members seeing the same markers share them.
        pairs.append((SORT, form.order_key()))
        pairs.append(("page", page))
    if form.errors:
        pairs.append(("errors", tuple(sorted(form.errors))))
    return tuple(pairs)


def with_next(html: str, next_url: str) -> str:
    """Cached HTML with this request's URL in the favourite forms' ``next`` field."""
    return html.replace(NEXT_PLACEHOLDER, str(conditional_escape(next_url)))
