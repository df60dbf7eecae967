"""The one "send once" mechanism (tookets.send_once): claim committed, send, confirm; a refused
send frees its claim, a claim left by a crash is never sent again."""

import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from associations.models import Association, StatusChange
from associations.tasks import send_decision_email
from tests import factories as f
from tookets import send_once
from tookets.models import EmailClaim

pytestmark = pytest.mark.django_db


def message(to="a@example.test"):
    return lambda: EmailMultiAlternatives(subject="s", body="b", to=[to])


def deliver(key, build=None):
    return send_once.deliver(EmailClaim, fixed={}, field="key", messages={key: build or message()})


def refused():
    raise smtplib.SMTPServerDisconnected("the SMTP server hung up")


def test_sends_once_and_again_after_a_refused_send():
    # (It was outbox.once; the same promises, now with the claim committed before the send.)
    assert deliver("job:1").sent == 1
    again = deliver("job:1")
    assert (again.sent, again.skipped) == (0, 1)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        deliver("job:2", refused)
    assert not EmailClaim.objects.filter(key="job:2").exists()  # freed for the retry
    assert deliver("job:2").sent == 1
    assert EmailClaim.objects.count() == 2
    assert set(EmailClaim.objects.values_list("status", flat=True)) == {"sent"}
    assert len(mail.outbox) == 2


def test_a_claim_left_by_a_crash_is_never_sent_again():
    """Killed between the claim and its confirmation: the message may have left (at most once)."""
    EmailClaim.objects.create(key="job:crashed")  # status « claimed », never confirmed
    delivery = deliver("job:crashed")
    assert (delivery.sent, delivery.skipped) == (0, 1)
    assert mail.outbox == []
    assert send_once.stale(EmailClaim, key="job:crashed") == 1


def test_a_batch_refused_half_way_keeps_what_left_and_frees_the_rest():
    def build(n):
        return refused if n == 3 else message(f"m{n}@example.test")

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_once.deliver(
            EmailClaim,
            fixed={},
            field="key",
            messages={f"k{n}": build(n) for n in range(1, 6)},
        )
    assert dict(EmailClaim.objects.values_list("key", "status")) == {"k1": "sent", "k2": "sent"}
    assert [m.to for m in mail.outbox] == [["m1@example.test"], ["m2@example.test"]]


def test_a_decision_email_whose_run_died_mid_send_is_not_sent_again(caplog):
    association = f.AssociationFactory(status=Association.Status.SUBMITTED, email="a@example.test")
    change = association.history.create(
        from_status=Association.Status.DRAFT,
        to_status=Association.Status.SUBMITTED,
        event=StatusChange.Event.SUBMITTED,
    )
    EmailClaim.objects.create(key=f"associations.decision-email:{change.pk}")
    assert send_decision_email(change.pk) is False
    assert mail.outbox == []
    assert "not sent again" in caplog.text
    # A claim that was confirmed is simply done: nothing sent, nothing to report.
    EmailClaim.objects.update(status=EmailClaim.Status.SENT)
    caplog.clear()
    assert send_decision_email(change.pk) is False
    assert "not sent again" not in caplog.text
