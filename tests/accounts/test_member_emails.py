"""Member emails: the monthly recap, the year-end reminder, the gift receipt; opt-out; no
duplicate when a run is repeated or resumed."""

import datetime
import smtplib

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts import emails
from accounts.models import MemberEmail
from cagnotte.models import Favourite
from tests import factories as f
from tests.cagnotte.helpers import credit
from tookets import send_once
from tookets.periods import previous_period

PERIOD = "2026-03"


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://tookets.example"
    mail.outbox = []
    return mail.outbox


def recap(period=PERIOD, **kw):
    return emails.send_recap_emails(period=period, **kw)


# --- Monthly recap ----------------------------------------------------------------------------


def test_recap_content_and_rfc8058_headers(mailbox, member, program, association):
    credit(member, program, 300, period="2026-02")
    credit(member, program, 410, period=PERIOD)
    Favourite.objects.create(member=member, association=association)

    report = recap()

    assert report.sent == 1 and len(mailbox) == 1
    message = mailbox[0]
    assert message.to == [member.email]
    assert message.subject == "Tookets — votre récapitulatif de mars 2026"
    text = message.body
    assert "Bonjour Jeanne Dupont," in text
    assert "Carte Sociétaire - GERS" in text
    assert (
        "Vous avez récolté 410\u00a0K ce mois-ci ; il vous reste 710\u00a0K à distribuer." in text
    )
    assert "Votre association favorite : Les Amis du Gers." in text
    assert "https://tookets.example" + reverse("associations:directory") in text
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert (
        "Vous avez récolté 410\u00a0K ce mois-ci ; il vous reste 710\u00a0K à distribuer." in html
    )
    assert "TOOKETS" in html and "#007461" in html  # the site's look

    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://tookets.example/desabonnement/")
    assert unsubscribe.endswith("/>")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = unsubscribe[1:-1]
    assert url in text and url in html
    # The token in the header is the member's.
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert emails.read_unsubscribe_token(token).member_id == member.pk
    # The headers survive into the message as sent.
    raw = message.message().as_string()
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_recap_without_favourite_says_so(mailbox, member, program):
    credit(member, program, 50, period=PERIOD)
    recap()
    assert "Vous n’avez pas encore d’association favorite." in mailbox[0].body


def test_recap_respects_opt_out_closed_accounts_and_missing_addresses(
    mailbox, member, program, pg_caisse
):
    credit(member, program, 10, period=PERIOD)
    refusing = f.MemberFactory(caisse_regionale=pg_caisse, recap_emails=False)
    no_address = f.MemberFactory(caisse_regionale=pg_caisse, email="")
    closed = f.MemberFactory(caisse_regionale=pg_caisse, closed_at=timezone.now())
    association_user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    for other in (refusing, no_address, closed, association_user):
        f.WalletFactory(member=other, program=program)

    report = recap()

    assert [m.to for m in mailbox] == [[member.email]]
    assert report.sent == 1
    assert not MemberEmail.objects.exclude(member=member).exists()


def test_second_run_sends_nothing(mailbox, member, program, pg_caisse):
    others = [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(4)]
    for m in [member, *others]:
        credit(m, program, 20, period=PERIOD)

    first = recap(batch_size=2)
    second = recap(batch_size=2)

    assert (first.sent, second.sent) == (5, 0)
    assert len(mailbox) == 5
    assert sorted(m.to[0] for m in mailbox) == sorted(m.email for m in [member, *others])
    assert MemberEmail.objects.filter(kind="recap", period=PERIOD, status="sent").count() == 5
    # Another month is another email.
    assert recap(period="2026-04").sent == 5


class FailingAfter:
    """An email backend that delivers ``n`` messages, then the mail server refuses."""

    def __init__(self, n):
        self.n = n

    def __call__(self, *args, **kwargs):
        from django.core.mail.backends.locmem import EmailBackend

        outer = self

        class Backend(EmailBackend):
            def send_messages(self, messages):
                if outer.n <= 0:
                    raise smtplib.SMTPServerDisconnected("gone")
                outer.n -= len(messages)
                return super().send_messages(messages)

        return Backend(*args, **kwargs)


def test_run_that_failed_midway_resumes_without_duplicate(
    mailbox, member, program, pg_caisse, monkeypatch
):
    members = [member, *(f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(5))]
    for m in members:
        credit(m, program, 20, period=PERIOD)
    monkeypatch.setattr(send_once, "get_connection", FailingAfter(4))

    with pytest.raises(smtplib.SMTPServerDisconnected):
        recap(batch_size=3)
    assert len(mailbox) == 4
    # The four that left are confirmed; the refused ones were released for the next run.
    assert MemberEmail.objects.filter(status="sent").count() == 4
    assert MemberEmail.objects.filter(status="claimed").count() == 0

    monkeypatch.undo()
    resumed = recap(batch_size=3)
    assert resumed.sent == 2
    assert sorted(m.to[0] for m in mailbox) == sorted(m.email for m in members)


def test_claim_left_by_a_crash_is_never_sent_again(mailbox, member, program, pg_caisse):
    """A worker killed between the claim and its confirmation: the message may have left, so
    the resumed run does not send it again (at most once) and reports it."""
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    for m in (member, other):
        credit(m, program, 20, period=PERIOD)
    MemberEmail.objects.create(member=member, kind="recap", period=PERIOD)

    report = recap()

    assert [m.to for m in mailbox] == [[other.email]]
    assert report.stale_claims == 1
    assert "1 interrompu(s)" in report.summary()


def test_command_sends_then_sends_none(mailbox, member, program, capsys):
    credit(member, program, 20, period=PERIOD)
    call_command("send_recap_emails", "--period", PERIOD)
    assert "1 envoyé(s)" in capsys.readouterr().out
    call_command("send_recap_emails", "--period", PERIOD)
    assert "0 envoyé(s), 1 déjà envoyé(s)" in capsys.readouterr().out
    assert len(mailbox) == 1


@pytest.mark.parametrize("period", ["2026-3", "2026/03", "mars", "2026-13"])
def test_command_refuses_a_bad_period(db, period):
    with pytest.raises(CommandError):
        call_command("send_recap_emails", "--period", period)


def test_previous_period():
    assert previous_period(datetime.date(2026, 3, 5)) == "2026-02"
    assert previous_period(datetime.date(2026, 1, 5)) == "2025-12"


def test_beat_schedules_the_recap_and_the_reminders():
    from tookets.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"accounts.tasks.send_recap_emails", "accounts.tasks.send_due_reminders"} <= tasks


# --- Year-end reminder ------------------------------------------------------------------------


@pytest.fixture
def closing_program(pg_caisse):
    today = timezone.localdate()
    return f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code="carte-societaire-gers-fin",
        opens_on=today - datetime.timedelta(days=300),
        closes_on=today + datetime.timedelta(days=10),
        reminder_days_before=21,
    )


def test_reminder_names_the_favourite(mailbox, member, closing_program):
    association = f.AssociationFactory(
        caisse_regionale=closing_program.caisse_regionale, name="Les Amis du Gers"
    )
    f.EnrollmentFactory(association=association, program=closing_program)
    Favourite.objects.create(member=member, association=association)
    credit(member, closing_program, 120)

    report = emails.send_reminders(program=closing_program)

    assert report.sent == 1
    message = mailbox[0]
    assert "Il vous reste 120\u00a0K à distribuer." in message.body
    assert "ils seront donnés à Les Amis du Gers, votre association favorite." in message.body
    assert "retourneront" not in message.body
    closes = closing_program.closes_on
    assert f"se termine le {closes.day} " in message.body and str(closes.year) in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "ils seront donnés à Les Amis du Gers" in message.alternatives[0][0]


def test_reminder_without_favourite_says_the_tookets_go_back(mailbox, member, closing_program):
    credit(member, closing_program, 40)
    emails.send_reminders(program=closing_program)
    body = mailbox[0].body
    assert (
        "Vous n'avez pas d'association favorite : vos Tookets retourneront à votre Caisse "
        "régionale." in body
    )
    assert "http://" in body or "https://" in body
    assert reverse("associations:favourites") in body


def test_reminder_with_a_favourite_not_enrolled_in_the_program(mailbox, member, closing_program):
    elsewhere = f.AssociationFactory(
        caisse_regionale=closing_program.caisse_regionale, name="Club Ailleurs"
    )
    Favourite.objects.create(member=member, association=elsewhere)
    credit(member, closing_program, 40)
    emails.send_reminders(program=closing_program)
    assert (
        "Votre association favorite, Club Ailleurs, ne participe pas à ce programme : vos "
        "Tookets retourneront à votre Caisse régionale." in mailbox[0].body
    )


def test_reminder_only_to_members_with_a_balance_and_once(
    mailbox, member, closing_program, pg_caisse
):
    credit(member, closing_program, 40)
    empty = f.MemberFactory(caisse_regionale=pg_caisse)
    f.WalletFactory(member=empty, program=closing_program)
    assert emails.send_reminders(program=closing_program).sent == 1
    assert emails.send_reminders(program=closing_program).sent == 0
    assert [m.to for m in mailbox] == [[member.email]]


def test_reminder_never_after_the_close(mailbox, member, closing_program):
    credit(member, closing_program, 40)
    after = closing_program.closes_on + datetime.timedelta(days=1)
    with pytest.raises(emails.CampaignClosed):
        emails.send_reminders(program=closing_program, today=after)
    assert emails.send_due_reminders(today=after) == []
    closing_program.swept_at = timezone.now()
    closing_program.save()
    with pytest.raises(CommandError, match="clôturé"):
        call_command("send_reminders", "--program", closing_program.code)
    assert mailbox == []


def test_due_reminders_follow_the_program_setting(mailbox, member, closing_program):
    credit(member, closing_program, 40)
    closes = closing_program.closes_on
    too_early = closes - datetime.timedelta(days=22)
    assert not closing_program.reminder_is_due(too_early)
    assert closing_program.reminder_is_due(closes - datetime.timedelta(days=21))
    assert closing_program.reminder_is_due(closes)
    closing_program.reminder_days_before = 5
    closing_program.save()  # the rule is asked of the database
    assert not closing_program.reminder_is_due(closes - datetime.timedelta(days=6))
    closing_program.reminder_days_before = 21
    closing_program.save()
    # The beat's job, run today (10 days before the close): due.
    reports = emails.send_due_reminders()
    assert [(r.period, r.sent) for r in reports] == [(closing_program.code, 1)]


def test_reminder_command(mailbox, member, closing_program, capsys):
    credit(member, closing_program, 40)
    call_command("send_reminders", "--program", closing_program.code)
    assert "1 envoyé(s)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="inconnu"):
        call_command("send_reminders", "--program", "nope")


# --- Gift receipt -----------------------------------------------------------------------------


def give(client, association, amount):
    from tests.cagnotte.test_views import fresh_form, give_url

    data = {**fresh_form(client, association), "amount": str(amount)}
    return data, client.post(give_url(association), data, follow=True)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_gift_receipt_page_and_email(
    mailbox, member_client, member, program, association, django_capture_on_commit_callbacks
):
    credit(member, program, 110)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        data, response = give(member_client, association, 40)
    assert len(callbacks) == 1  # queued once the gift committed
    html = response.content.decode()
    assert "Merci ! Vous avez donné 40\u00a0K à Les Amis du Gers." in html
    assert (
        "Il vous reste 70\u00a0K à distribuer dans le programme "
        f"« Carte Sociétaire - GERS {program.year} »." in html
    )
    assert "Un e-mail de confirmation vous est envoyé." in html
    assert len(mailbox) == 1
    message = mailbox[0]
    assert message.subject == "Tookets — votre don de 40\u00a0K à Les Amis du Gers"
    assert "Votre don de 40\u00a0K à Les Amis du Gers est enregistré." in message.body
    assert "Il vous reste 70\u00a0K à distribuer" in message.body
    assert "List-Unsubscribe" not in message.extra_headers
    # A replayed form lands on the same receipt and sends no second email.
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("cagnotte:give", args=[association.pk]), data, follow=True)
    assert len(mailbox) == 1


def test_no_gift_email_for_a_member_who_refuses_emails(
    mailbox, member_client, member, program, association, django_capture_on_commit_callbacks
):
    member.recap_emails = False
    member.save()
    credit(member, program, 110)
    with django_capture_on_commit_callbacks(execute=True):
        _data, response = give(member_client, association, 40)
    assert "Merci ! Vous avez donné 40\u00a0K" in response.content.decode()
    assert "Un e-mail de confirmation" not in response.content.decode()
    assert mailbox == []


def test_receipt_of_someone_else_is_not_found(
    member_client, other_member, pg_caisse, association, program
):
    other = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(other, program, 50)
    from cagnotte.services import give_tookets

    entry = give_tookets(
        member=other, program=program, association_id=association.pk, amount=5, token="x"
    )
    assert member_client.get(reverse("cagnotte:gift_receipt", args=[entry.pk])).status_code == 404


def test_receipt_says_what_was_left_after_that_gift(
    mailbox, member_client, member, program, association
):
    from cagnotte.models import LedgerEntry

    credit(member, program, 110)
    _data, first = give(member_client, association, 40)
    give(member_client, association, 30)
    # The first receipt, seen again later, still says what was left right after it.
    again = member_client.get(first.redirect_chain[-1][0]).content.decode()
    assert "Il vous reste 70\u00a0K à distribuer" in again
    first_gift = LedgerEntry.objects.filter(kind="gift").order_by("pk").first()
    assert emails.send_gift_receipt(entry_id=first_gift.pk)
    assert "Il vous reste 70\u00a0K à distribuer" in mailbox[-1].body


def test_receipt_page_pins_its_queries(
    member_client, member, program, association, django_assert_max_num_queries
):
    from cagnotte.services import give_tookets

    credit(member, program, 50)
    entry = give_tookets(
        member=member, program=program, association_id=association.pk, amount=5, token="q"
    )
    with django_assert_max_num_queries(5):
        response = member_client.get(reverse("cagnotte:gift_receipt", args=[entry.pk]))
    assert response.status_code == 200
