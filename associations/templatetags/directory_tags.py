from django import template
from django.template.defaultfilters import linebreaks
from django.urls import reverse
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext

from tookets.money import tookets

register = template.Library()

# The shared money format (tookets/money.py), also usable as {{ x|tookets }} after
# {% load directory_tags %}.
register.filter("tookets", tookets)


@register.simple_tag
def filter_select(bound_field):
    """A filter's <select>, built in Python: Django's per-option widget templates cost more
    than all the page's queries together (about 50 options on every directory page)."""
    current = bound_field.value() or ""
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, mark_safe(" selected") if str(value) == str(current) else "", label)
            for value, label in bound_field.field.choices
        ),
    )
    return format_html(
        '<select name="{}" id="{}">{}</select>',
        bound_field.html_name,
        bound_field.id_for_label,
        options,
    )


def _t(message: str) -> str:
    """``{% translate %}`` of a literal: a template's literals are safe, so is their
    translation (``gettext`` keeps a SafeString safe): not escaped."""
    return gettext(mark_safe(message))


CARD_TAG = '<li><span class="visually-hidden">{} </span>{}</li>'


def _card_words(context) -> dict:
    """What every card of a page writes alike (translations, a URL, the year), once per
    template render rather than once per card."""
    words = context.render_context.get("association_card")
    if words is None:
        words = context.render_context["association_card"] = {
            "activity": _t("Activité :"),
            "domain": _t("Domaine :"),
            "caisse_locale": _t("Caisse locale :"),
            "favourite": _t("Mon Asso Favorite"),
            "since": _t("Depuis"),
            "first": _t("Soyez le premier à soutenir cette association !"),
            "this_year": _t("Cette année"),
            "give": _t("J'AIDE L'ASSOCIATION"),
            "set_favourite": _t("Mettre en favoris"),
            "reached": _t("Objectif atteint"),
            "set_favourite_url": conditional_escape(reverse("associations:set_favourite")),
        }
    return words


def _card_projects(association, words) -> str:
    """The card's live projects, each with its progress bar named by its title and its
    figures in words (the association's page lists them with more: not on its full card)."""
    esc = conditional_escape
    items = []
    for project in association.figures.projects:
        progress = project.progress
        title = esc(project.title)
        url = esc(reverse("associations:project", args=[association.pk, project.pk]))
        figures = gettext("%(raised)s sur %(goal)s — %(percent)s\xa0%%") % {
            "raised": esc(tookets(progress.raised)),
            "goal": esc(tookets(progress.goal)),
            "percent": progress.percent,
        }
        reached = (
            f' <strong class="project-reached">{words["reached"]}</strong>'
            if progress.reached
            else ""
        )
        items.append(
            f'    <li class="card-project"><a href="{url}">{title}</a>'
            f' <progress max="{progress.goal}" value="{progress.bar_value}"'
            f' aria-label="{title}">{progress.percent}\xa0%</progress>'
            f' <span class="project-figures">{figures}</span>{reached}</li>\n'
        )
    return f'\n  <ul class="card-projects">\n{"".join(items)}  </ul>' if items else ""


def card_slot_marker(pk, anchor=True) -> str:
    return f"<!--card:{int(pk)}:{int(bool(anchor))}-->"


@register.simple_tag
def card_slot(pk, anchor=True):
    """Where a directory page's cached content takes association ``pk``'s card: each card is
    cached on its own, under its figures (``associations.views._fill_cards``), so a gift to one
    association re-renders one card, not the page."""
    return mark_safe(card_slot_marker(pk, anchor))


@register.simple_tag(takes_context=True)
def association_card(context, association, anchor=True):
    """One association's card, built in Python.

    A directory page shows 20 cards; as a template included 20 times, their translate, url,
    firstof and csrf_token nodes cost more than all the page's queries together. This writes
    exactly the HTML the card template wrote (``tests/associations/test_directory_card.py``
    compares them): same markup, same translations (same messages), same escaping. Reads
    ``favourite_id``, ``full``, ``next``, ``request`` and ``csrf_token`` from the context.
    """
    esc = conditional_escape
    pk = association.pk
    is_favourite = pk == context.get("favourite_id")
    figures = association.figures
    words = _card_words(context)
    tags = "".join(
        "    " + ("" if related is None else format_html(CARD_TAG, words[label], related)) + "\n"
        for label, related in (
            ("activity", association.activity),
            ("domain", association.domain),
            ("caisse_locale", association.caisse_locale),
        )
    )
    if context.get("full"):
        presentation = (
            '  \n    <div class="association-presentation">'
            f"{linebreaks(association.presentation, autoescape=True)}</div>\n  \n"
        )
    elif association.presentation:
        truncated = Truncator(association.presentation).words(30, truncate=" …")
        presentation = f'  \n    <p class="association-presentation">{esc(truncated)}</p>\n  \n'
    else:
        presentation = "  \n"
    if figures.supporters:
        supporters = ngettext(
            "%(counter)s personne nous a soutenu, merci à vous !",
            "%(counter)s personnes nous ont soutenu, merci à vous !",
            figures.supporters,
        ) % {"counter": esc(figures.supporters)}
    else:  # « 0 personne nous a soutenu, merci » thanked nobody: an invitation instead
        supporters = words["first"]
    if is_favourite:
        badge = f'<p class="favourite-badge">{words["favourite"]}</p>'
        favourite_form = "    \n"
    else:
        badge = ""
        request = context.get("request")
        next_url = context.get("next") or (request.get_full_path() if request else "")
        csrf_token = context.get("csrf_token")
        csrf = ""
        if csrf_token and csrf_token != "NOTPROVIDED":
            csrf = format_html(
                '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_token
            )
        favourite_form = (
            f'    \n    <form method="post" action="{words["set_favourite_url"]}" class="favourite-form">'
            f"{csrf}\n"
            f'      <input type="hidden" name="association" value="{pk}">\n'
            f'      <input type="hidden" name="next" value="{esc(next_url)}">\n'
            '      <button type="submit" class="button button-ghost button-small">'
            f"{words['set_favourite']}</button>\n"
            "    </form>\n    \n"
        )
    detail_url = esc(reverse("associations:detail", args=[pk]))
    give_url = esc(reverse("cagnotte:give", args=[pk]))
    # « Depuis AAAA »: the first year it received; nothing when it never has.
    since = ""
    if figures.first_year:
        since = (
            f"{words['since']} {esc(figures.first_year)}"
            f" <strong>{esc(tookets(figures.received_total))}</strong>"
            ' <span aria-hidden="true">|</span><span class="visually-hidden">,</span> '
        )
    offer = ""
    if figures.offer_name:
        # The matching offer, in words (never colour alone), until when.
        until = gettext("jusqu’au %(date)s") % {"date": esc(f"{figures.offer_ends_on:%d/%m}")}
        offer = (
            f'  <p class="association-offer" data-matching-offer>'
            f"<strong>{esc(figures.offer_name)}</strong> {until}</p>\n"
        )
    # A page showing one association twice (the favourite above the list) anchors one card.
    anchor_attr = f' id="association-{pk}"' if anchor else ""
    html = (
        "\n"
        f'<article class="association-card{" is-favourite" if is_favourite else ""}"'
        f'{anchor_attr} data-association="{pk}">\n'
        f'  <h3 class="association-name"><a href="{detail_url}">'
        f"{esc(association.name)}</a></h3>\n"
        f"  {badge}\n"
        '  <ul class="association-tags">\n'
        f"{tags}"
        "  </ul>\n"
        f"{presentation}"
        f'  <p class="association-supporters">{supporters}</p>\n'
        f'  <p class="association-figures">{since}'
        f"{words['this_year']} <strong>{esc(tookets(figures.received_this_year))}</strong></p>"
        f"{'' if context.get('full') else _card_projects(association, words)}\n"
        f"{offer}"
        '  <div class="card-actions">\n'
        f'    <a class="button" href="{give_url}">{words["give"]}</a>\n'
        f"{favourite_form}"
        "  </div>\n"
        "</article>\n"
    )
    return mark_safe(html)
