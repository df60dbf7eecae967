"""Drive the two-step login with Django's test client, as the browser's keypad does."""

import re

from django.urls import reverse

from accounts.keypad import _SESSION_PREFIX

LOGIN_URL = reverse("accounts:login")


def show_keypad(client, *, caisse="pyrenees-gascogne", account="98652706859", **extra):
    """Post step 1; return the response showing the keypad."""
    return client.post(
        LOGIN_URL, {"caisse": caisse, "account_number": account, "step": "identify", **extra}
    )


def layout_shown(response) -> str:
    """The digits as displayed on the keypad, position by position."""
    html = response.content.decode()
    keys = re.findall(r'data-position="(\d)" aria-label="[^"]*">(\d)</button>', html)
    assert len(keys) == 10, html
    return "".join(digit for _pos, digit in sorted(keys))


def positions_for(code: str, layout: str) -> str:
    return "".join(str(layout.index(d)) for d in code)


def post_code(client, positions, *, caisse="pyrenees-gascogne", account="98652706859", **extra):
    return client.post(
        LOGIN_URL,
        {
            "caisse": caisse,
            "account_number": account,
            "step": "code",
            "positions": positions,
            **extra,
        },
    )


def login_with_code(client, code="123456", **kw):
    """The whole login as a user does it: identifier, then the code on the keypad shown."""
    shown = show_keypad(client, **{k: v for k, v in kw.items() if k in ("caisse", "account")})
    layout = layout_shown(shown)
    assert client.session[_SESSION_PREFIX + "login"] == layout
    return post_code(client, positions_for(code, layout), **kw)


def post_typed(client, code, *, caisse="pyrenees-gascogne", account="98652706859", **extra):
    """Post the code as a password manager fills it (or a person pastes it): the field `code`."""
    return client.post(
        LOGIN_URL,
        {"caisse": caisse, "account_number": account, "step": "code", "code": code, **extra},
    )


def login_by_field(client, code="123456", **kw):
    """The whole login through the code field beside the keypad."""
    show_keypad(client, **{k: v for k, v in kw.items() if k in ("caisse", "account")})
    return post_typed(client, code, **kw)
