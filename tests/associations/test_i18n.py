"""The French catalog is compiled, loaded and applies the French plural rule (0 and 1 singular)."""

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import ngettext

CATALOG = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"
SUPPORTERS = "%(counter)s personne nous a soutenu, merci à vous !"
SUPPORTERS_PLURAL = "%(counter)s personnes nous ont soutenu, merci à vous !"


def _supporters(n: int) -> str:
    return ngettext(SUPPORTERS, SUPPORTERS_PLURAL, n) % {"counter": n}


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 personne nous a soutenu, merci à vous !"),
        (1, "1 personne nous a soutenu, merci à vous !"),
        (2, "2 personnes nous ont soutenu, merci à vous !"),
        (17, "17 personnes nous ont soutenu, merci à vous !"),
    ],
)
def test_french_plural_rule_from_our_catalog(n, expected):
    # Without our catalog gettext falls back to the English rule (n != 1) and says
    # « 0 personnes nous ont soutenu ».
    with translation.override("fr"):
        assert _supporters(n) == expected


def test_blocktranslate_count_on_the_card_uses_the_catalog():
    template = Template(
        "{% load i18n %}{% blocktranslate count counter=n %}{{ counter }} personne nous a "
        "soutenu, merci à vous !{% plural %}{{ counter }} personnes nous ont soutenu, "
        "merci à vous !{% endblocktranslate %}"
    )
    with translation.override("fr"):
        rendered = [template.render(Context({"n": n})) for n in (0, 1, 2)]
    assert rendered == [
        "0 personne nous a soutenu, merci à vous !",
        "1 personne nous a soutenu, merci à vous !",
        "2 personnes nous ont soutenu, merci à vous !",
    ]


def _plural_entries(po_text: str):
    """(msgid, msgid_plural, msgstr[0], msgstr[1]) of every plural entry of a .po file."""

    def joined(block: str, key: str) -> str:
        match = re.search(rf'^{re.escape(key)} ((?:".*"\n?)+)', block, re.MULTILINE)
        if not match:
            return ""
        return "".join(re.findall(r'"(.*)"', match.group(1))).replace('\\"', '"')

    for block in po_text.split("\n\n"):
        if "\nmsgid_plural " in f"\n{block}" and not block.lstrip().startswith("#~"):
            yield tuple(
                joined(block, key) for key in ("msgid", "msgid_plural", "msgstr[0]", "msgstr[1]")
            )


def test_every_plural_entry_is_filled_and_compiled():
    # An empty msgstr falls back to the English plural rule: `make messages` adds new plural
    # entries empty, and this test asks to fill them and compile the .mo again.
    po_text = (CATALOG / "django.po").read_text(encoding="utf-8")
    assert '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"' in po_text
    with (CATALOG / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    entries = list(_plural_entries(po_text))
    assert entries
    for msgid, msgid_plural, singular, plural in entries:
        assert (singular, plural) != ("", ""), f"msgstr missing for « {msgid} »"
        assert compiled.ngettext(msgid, msgid_plural, 0) == singular, f"recompile for « {msgid} »"
        assert compiled.ngettext(msgid, msgid_plural, 2) == plural
