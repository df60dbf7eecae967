import random

import pytest
from axes.models import AccessAttempt
from django.test import Client

from accounts import keypad
from tests.accounts.helpers import (
    layout_shown,
    login_with_code,
    positions_for,
    post_code,
    show_keypad,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded_shuffle(monkeypatch):
    """Replace the system random source by a seeded one: layouts become reproducible."""
    rng = random.Random(20150101)

    class SeededRandom:
        def shuffle(self, items):
            rng.shuffle(items)

    monkeypatch.setattr(keypad.secrets, "SystemRandom", SeededRandom)


def test_the_layout_changes_on_every_display(client, jeanne):
    # 30 displays of a uniform shuffle of 10 digits: all equal has probability (1/10!)^29.
    layouts = {layout_shown(show_keypad(client)) for _ in range(30)}
    assert len(layouts) > 1
    for layout in layouts:
        assert sorted(layout) == list("0123456789")


def test_positions_are_mapped_back_with_the_session_layout(client, jeanne, seeded_shuffle):
    layout = layout_shown(show_keypad(client))
    assert layout != "0123456789"
    positions = positions_for("123456", layout)
    assert positions != "123456"  # what travels is not the code
    response = post_code(client, positions)
    assert response.status_code == 302


def test_a_post_replayed_with_another_sessions_layout_fails(jeanne, seeded_shuffle):
    alice, mallory = Client(), Client()
    alice_layout = layout_shown(show_keypad(alice))
    mallory_layout = layout_shown(show_keypad(mallory))
    observed = positions_for("123456", alice_layout)
    # With this seed the two layouts place 1…6 differently, so the replay decodes to another code.
    assert "".join(mallory_layout[int(p)] for p in observed) != "123456"

    response = post_code(mallory, observed)
    assert "Identifiant ou code personnel incorrect." in response.content.decode()
    assert "_auth_user_id" not in mallory.session


def test_a_post_without_a_layout_in_the_session_is_refused_and_checks_nothing(client, jeanne):
    response = post_code(client, "012345")
    assert response.status_code == 400
    assert "Votre code n’a pas pu être lu" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AccessAttempt.objects.exists()  # no code was checked: no failure counted
    # A fresh keypad is shown with the message.
    assert client.session[keypad._SESSION_PREFIX + "login"]


def test_a_layout_is_good_for_one_post_only(client, jeanne):
    layout = layout_shown(show_keypad(client))
    positions = positions_for("123456", layout)
    response = post_code(client, positions)
    assert response.status_code == 302
    client.post("/deconnexion/")
    response = post_code(client, positions)
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("positions", ["", "12345", "1234567", "12a456", "-12345"])
def test_malformed_positions_are_refused(client, jeanne, positions):
    show_keypad(client)
    response = post_code(client, positions)
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_keypad_markup_is_accessible(client, jeanne):
    html = show_keypad(client).content.decode()
    assert html.count('class="keypad-key" data-position=') == 10
    assert 'aria-label="Chiffre ' in html
    assert 'aria-live="polite"' in html
    assert 'aria-label="Effacer le dernier chiffre"' in html
    assert "Corriger" in html
    assert "js/keypad.js" in html


def test_login_helper_drives_a_real_login(client, jeanne):
    assert login_with_code(client).status_code == 302
