"""One-click unsubscribe (RFC 8058): signed, expiring token; POST without login nor CSRF."""

import datetime
import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import emails


def url_for(token):
    return reverse("accounts:unsubscribe", args=[token])


@pytest.fixture
def mail_client():
    """A mail client: no session, and CSRF checks enforced as for a browser."""
    return Client(enforce_csrf_checks=True)


def test_get_shows_a_confirmation_page_and_changes_nothing(mail_client, member):
    token = emails.unsubscribe_token(member)
    response = mail_client.get(url_for(token))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Me désabonner" in html
    assert f'action="{url_for(token)}"' in html
    member.refresh_from_db()
    assert member.recap_emails is True


def test_one_click_post_unsubscribes_without_login_or_csrf(mail_client, member):
    token = emails.unsubscribe_token(member)
    response = mail_client.post(
        url_for(token),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "vous ne recevrez plus les e-mails récapitulatifs" in response.content.decode()
    member.refresh_from_db()
    assert member.recap_emails is False
    assert member.recap_changed_at is not None


def test_replayed_post_changes_nothing_more(mail_client, member):
    token = emails.unsubscribe_token(member)
    mail_client.post(url_for(token))
    member.refresh_from_db()
    changed_at = member.recap_changed_at
    again = mail_client.post(url_for(token))
    assert again.status_code == 200
    member.refresh_from_db()
    assert (member.recap_emails, member.recap_changed_at) == (False, changed_at)


def test_old_link_replayed_after_resubscribing_is_refused(mail_client, client, member):
    token = emails.unsubscribe_token(member)
    mail_client.post(url_for(token))
    # The member ticks the box again in « Paramètres »…
    client.force_login(member)
    time.sleep(1.01)  # the token's timestamp has one-second resolution
    client.post(reverse("accounts:settings"), {"recap_emails": "on"})
    member.refresh_from_db()
    assert member.recap_emails is True
    # …and the old link, replayed, no longer unsubscribes.
    response = mail_client.post(url_for(token))
    assert response.status_code == 400
    assert "n’est plus valable" in response.content.decode()
    member.refresh_from_db()
    assert member.recap_emails is True
    # A link from a newer email still works.
    assert mail_client.post(url_for(emails.unsubscribe_token(member))).status_code == 200
    member.refresh_from_db()
    assert member.recap_emails is False


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature
        lambda t: "eyJtIjo5OTl9" + t[t.index(":") :],  # another member's id, same signature
        lambda t: t.split(":")[0],  # no signature
        lambda t: "n'importe-quoi",
    ],
)
def test_tampered_token_gets_a_clear_page_and_changes_nothing(mail_client, member, tamper):
    token = tamper(emails.unsubscribe_token(member))
    for method in (mail_client.get, mail_client.post):
        response = method(url_for(token))
        assert response.status_code == 400
        assert "Ce lien de désabonnement n’est pas valable : rien n’a été modifié." in (
            response.content.decode()
        )
    member.refresh_from_db()
    assert member.recap_emails is True


def test_expired_token_gets_a_clear_page_and_changes_nothing(mail_client, member, monkeypatch):
    long_ago = time.time() - emails.UNSUBSCRIBE_MAX_AGE.total_seconds() - 60
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    token = emails.unsubscribe_token(member)
    monkeypatch.undo()
    response = mail_client.post(url_for(token))
    assert response.status_code == 400
    assert "Ce lien de désabonnement a expiré : rien n’a été modifié." in response.content.decode()
    member.refresh_from_db()
    assert member.recap_emails is True


def test_token_of_another_salt_is_refused(mail_client, member):
    forged = signing.TimestampSigner(salt="cagnotte.give").sign_object({"m": member.pk})
    assert mail_client.post(url_for(forged)).status_code == 400
    member.refresh_from_db()
    assert member.recap_emails is True


def test_closed_account_link_says_so(mail_client, member):
    token = emails.unsubscribe_token(member)
    member.closed_at = timezone.now() - datetime.timedelta(days=1)
    member.save()
    response = mail_client.post(url_for(token))
    assert "Ce compte Tookets est clôturé" in response.content.decode()
