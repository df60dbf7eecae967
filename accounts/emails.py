"""Emails to members: the monthly recap, the year-end reminder and the gift receipt.

French, HTML and text, in the site's look. Every send is claimed first in ``MemberEmail``
(unique per member, kind and period) through ``tookets.send_once``, the one "send once"
mechanism (its docstring says what a crash does): two runs at once send once, a run resumed
after a crash sends nothing twice (at most once). Recipients are members who accept emails
(« J'accepte de recevoir les e-mails récapitulatifs »), have an address and an open account.
Recaps and reminders carry a one-click unsubscribe link and the RFC 8058 headers, with a
signed token that expires.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db.models import Exists, OuterRef, Subquery, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import MemberEmail, User
from associations.models import ThankYou
from associations.thanks import supporters_of
from cagnotte.campaigns import not_swept_condition
from cagnotte.matching import match_of
from cagnotte.models import Favourite, LedgerEntry, Program, Wallet
from cagnotte.selectors import balance_after, favourite_can_receive
from tookets import send_once
from tookets.money import format_tookets
from tookets.periods import parse_period, period_label

logger = logging.getLogger(__name__)

Kind = MemberEmail.Kind
BATCH_SIZE = 500
UNSUBSCRIBE_SALT = "accounts.unsubscribe"
# A link in a monthly email stays good for a few months of unread mail, then expires.
UNSUBSCRIBE_MAX_AGE = datetime.timedelta(days=120)


class CampaignClosed(Exception):
    """The program is closed (or swept): its reminder would come too late."""


# --- Unsubscribe tokens ---------------------------------------------------------------------


def unsubscribe_token(member: User) -> str:
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign_object({"m": member.pk})


@dataclass(frozen=True)
class UnsubscribeClaim:
    member_id: int
    signed_at: datetime.datetime


def read_unsubscribe_token(token: str) -> UnsubscribeClaim:
    """The member a token was signed for; ``signing.BadSignature`` (or its subclass
    ``SignatureExpired``) when it was tampered with or is too old."""
    signer = signing.TimestampSigner(salt=UNSUBSCRIBE_SALT)
    payload = signer.unsign_object(token, max_age=UNSUBSCRIBE_MAX_AGE)
    # The signature is good: the timestamp under it (« value:timestamp ») is the one we wrote.
    _value, _sep, stamp = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token).rpartition(":")
    signed_at = datetime.datetime.fromtimestamp(signing.b62_decode(stamp), tz=datetime.UTC)
    member_id = payload.get("m") if isinstance(payload, dict) else None
    if not isinstance(member_id, int):
        raise signing.BadSignature("no member in token")
    return UnsubscribeClaim(member_id=member_id, signed_at=signed_at)


def unsubscribe_url(member: User) -> str:
    return _site() + reverse("accounts:unsubscribe", args=[unsubscribe_token(member)])


# --- Who receives what ----------------------------------------------------------------------


def accepting_members():
    """Members who may receive an email: open account, an address, emails accepted."""
    return User.objects.filter(
        kind=User.Kind.MEMBER,
        is_active=True,
        closed_at__isnull=True,
        recap_emails=True,
    ).exclude(email="")


def recap_recipients():
    """Accepting members with a wallet in a program not yet swept."""
    return accepting_members().filter(
        Exists(
            Wallet.objects.filter(not_swept_condition(prefix="program__"), member=OuterRef("pk"))
        )
    )


def reminder_recipients(program: Program):
    return accepting_members().filter(
        Exists(Wallet.objects.filter(member=OuterRef("pk"), program=program, balance__gt=0))
    )


# --- Sending --------------------------------------------------------------------------------


@dataclass
class SendReport:
    kind: str
    period: str
    sent: int = 0
    skipped: int = 0  # claimed by an earlier or concurrent run
    stale_claims: int = 0  # claimed but never confirmed sent (a run that crashed mid-send)

    def summary(self) -> str:
        return (
            f"{self.kind} {self.period} : {self.sent} envoyé(s), {self.skipped} déjà envoyé(s) "
            f"ou en cours, {self.stale_claims} interrompu(s) sans confirmation"
        )


def _deliver(
    *,
    kind: str,
    period: str,
    members: list[User],
    build: Callable[[User], EmailMultiAlternatives],
    report: SendReport,
) -> None:
    delivery = send_once.deliver(
        MemberEmail,
        fixed={"kind": kind, "period": period},
        field="member",
        messages={m.pk: partial(build, m) for m in members},
    )
    report.sent += delivery.sent
    report.skipped += delivery.skipped


def _in_batches(queryset, *, batch_size: int) -> Iterable[list[User]]:
    """Keyset pages by primary key: each page is a fresh, short query."""
    last = 0
    while True:
        page = list(queryset.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not page:
            return
        yield page
        last = page[-1].pk


def _not_yet_claimed(queryset, *, kind: str, period: str):
    return send_once.unclaimed(queryset, MemberEmail, field="member", kind=kind, period=period)


def _claimed(kind: str, period: str) -> int:
    return send_once.claimed(MemberEmail, kind=kind, period=period)


def _stale(kind: str, period: str) -> int:
    return send_once.stale(MemberEmail, kind=kind, period=period)


def send_recap_emails(*, period: str, batch_size: int = BATCH_SIZE) -> SendReport:
    """The monthly recap of ``period`` (YYYY-MM) to every accepting member, once each."""
    parse_period(period)
    report = SendReport(kind=Kind.RECAP, period=period, skipped=_claimed(Kind.RECAP, period))
    recipients = _not_yet_claimed(
        recap_recipients(), kind=Kind.RECAP, period=period
    ).select_related("caisse_regionale")
    for members in _in_batches(recipients, batch_size=batch_size):
        wallets = _recap_wallets(members, period=period)
        favourites = _favourites(members)

        def build(member, wallets=wallets, favourites=favourites):
            return build_recap(
                member=member,
                period=period,
                wallets=wallets.get(member.pk, []),
                favourite=favourites.get(member.pk),
            )

        _deliver(kind=Kind.RECAP, period=period, members=members, build=build, report=report)
    report.stale_claims = _stale(Kind.RECAP, period)
    return report


def send_reminders(
    *, program: Program, today: datetime.date | None = None, batch_size: int = BATCH_SIZE
) -> SendReport:
    """The year-end reminder of one program to its members with a balance, once each."""
    today = today or timezone.localdate()
    if not program.is_open(today):
        raise CampaignClosed
    report = SendReport(
        kind=Kind.REMINDER, period=program.code, skipped=_claimed(Kind.REMINDER, program.code)
    )
    recipients = _not_yet_claimed(
        reminder_recipients(program), kind=Kind.REMINDER, period=program.code
    ).select_related("caisse_regionale")
    for members in _in_batches(recipients, batch_size=batch_size):
        balances = dict(
            Wallet.objects.filter(program=program, member__in=members).values_list(
                "member_id", "balance"
            )
        )

        def build(member, balances=balances):
            return build_reminder(
                member=member, program=program, balance=balances.get(member.pk, 0)
            )

        _deliver(
            kind=Kind.REMINDER, period=program.code, members=members, build=build, report=report
        )
    report.stale_claims = _stale(Kind.REMINDER, program.code)
    return report


def send_due_reminders(*, today: datetime.date | None = None) -> list[SendReport]:
    today = today or timezone.localdate()
    programs = Program.objects.reminder_due_on(today).order_by("pk")
    return [send_reminders(program=p, today=today) for p in programs]


def send_gift_receipt(*, entry_id: int) -> bool:
    """Confirm one gift by email (members who accept emails), at most once."""
    entry = (
        LedgerEntry.objects.select_related("wallet__program", "wallet__member", "association")
        .filter(pk=entry_id, kind=LedgerEntry.Kind.GIFT)
        .first()
    )
    if entry is None:
        return False
    member = accepting_members().filter(pk=entry.wallet.member_id).first()
    if member is None:
        return False
    report = SendReport(kind=Kind.GIFT, period=str(entry.pk))
    _deliver(
        kind=Kind.GIFT,
        period=str(entry.pk),
        members=[member],
        build=lambda m: build_gift_receipt(member=m, entry=entry),
        report=report,
    )
    return report.sent == 1


def send_thank_you(*, thank_you_id: int, batch_size: int = BATCH_SIZE) -> SendReport:
    """Deliver an accepted association's message, once, to its supporters who accept emails
    (``associations.thanks.supporters_of``: gave to it or chose it, and did not stop its
    messages). Claimed per member under (thanks, message id): two runs at once or a rerun
    send nothing twice. Then ``reached`` says how many it reached, the one thing the
    association sees of them."""
    report = SendReport(kind=Kind.THANKS, period=str(thank_you_id))
    thank_you = (
        ThankYou.objects.select_related("association", "program")
        .filter(pk=thank_you_id, status=ThankYou.Status.ACCEPTED)
        .first()
    )
    if thank_you is None:
        return report
    period = str(thank_you.pk)
    recipients = _not_yet_claimed(
        accepting_members().filter(pk__in=supporters_of(thank_you.association_id).values("pk")),
        kind=Kind.THANKS,
        period=period,
    ).select_related("caisse_regionale")
    for members in _in_batches(recipients, batch_size=batch_size):
        _deliver(
            kind=Kind.THANKS,
            period=period,
            members=members,
            build=lambda m: build_thank_you(member=m, thank_you=thank_you),
            report=report,
        )
    ThankYou.objects.filter(pk=thank_you.pk).update(reached=_claimed(Kind.THANKS, period))
    report.stale_claims = _stale(Kind.THANKS, period)
    return report


# --- Content --------------------------------------------------------------------------------


def _matched_in(period: str):
    """Per wallet (``OuterRef``), the Tookets matching offers added to its gifts of
    ``period``, in the same query as the wallets (positive, None without any)."""
    first = parse_period(period)
    after = (first + datetime.timedelta(days=32)).replace(day=1)
    start, end = (
        timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        for day in (first, after)
    )
    return Subquery(
        LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.MATCHING,
            matches__wallet_id=OuterRef("pk"),
            matches__created_at__gte=start,
            matches__created_at__lt=end,
        )
        .values("matches__wallet_id")
        .annotate(total=-Sum("amount"))
        .values("total")[:1]
    )


def _recap_wallets(members: list[User], *, period: str) -> dict[int, list[Wallet]]:
    wallets = (
        Wallet.objects.filter(not_swept_condition(prefix="program__"), member__in=members)
        .select_related("program")
        .with_collected(period)
        .annotate(matched=_matched_in(period))
        .order_by("member_id", "-program__year", "program__name")
    )
    result: dict[int, list[Wallet]] = {}
    for w in wallets:
        result.setdefault(w.member_id, []).append(w)
    return result


def _favourites(members: list[User]) -> dict[int, Favourite]:
    return {
        f.member_id: f
        for f in Favourite.objects.filter(member__in=members).select_related("association")
    }


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def _message(
    *, member: User, subject: str, template: str, context: dict, unsubscribe: bool
) -> EmailMultiAlternatives:
    site = _site()
    context = {
        "member": member,
        "greeting_name": member.display_name,
        "caisse_regionale": member.caisse_regionale,
        "site_url": site,
        "wallet_url": site + reverse("cagnotte:wallet"),
        "directory_url": site + reverse("associations:directory"),
        "favourites_url": site + reverse("associations:favourites"),
        "settings_url": site + reverse("accounts:settings"),
        **context,
    }
    headers = {}
    if unsubscribe:
        url = unsubscribe_url(member)
        context["unsubscribe_url"] = url
        # RFC 8058: the mail client POSTs « List-Unsubscribe=One-Click » to this URL.
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[member.email],
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def build_recap(
    *, member: User, period: str, wallets: list[Wallet], favourite: Favourite | None
) -> EmailMultiAlternatives:
    return _message(
        member=member,
        subject=f"Tookets — votre récapitulatif de {period_label(period)}",
        template="member_recap",
        context={
            "period_label": period_label(period),
            "wallets": wallets,
            "favourite": favourite.association if favourite else None,
        },
        unsubscribe=True,
    )


def build_reminder(*, member: User, program: Program, balance: int) -> EmailMultiAlternatives:
    receiver = favourite_can_receive(member=member, program=program)
    favourite = Favourite.objects.select_related("association").filter(member=member).first()
    closes = formats.date_format(program.closes_on, "j F Y")
    return _message(
        member=member,
        subject=f"Tookets — il vous reste {format_tookets(balance)} à distribuer avant le {closes}",
        template="member_reminder",
        context={
            "program": program,
            "balance": balance,
            "closes_on": closes,
            "receiver": receiver,
            # A favourite that cannot receive in this program (not enrolled this year).
            "favourite_elsewhere": favourite.association if favourite and not receiver else None,
        },
        unsubscribe=True,
    )


def build_gift_receipt(*, member: User, entry: LedgerEntry) -> EmailMultiAlternatives:
    wallet = entry.wallet
    return _message(
        member=member,
        subject=f"Tookets — votre don de {format_tookets(-entry.amount)} à {entry.association.name}",
        template="member_gift",
        context={
            "entry": entry,
            "amount": -entry.amount,
            "association": entry.association,
            "program": wallet.program,
            "left": balance_after(entry),
            "matching": match_of(entry),
        },
        unsubscribe=False,
    )


def build_thank_you(*, member: User, thank_you: ThankYou) -> EmailMultiAlternatives:
    return _message(
        member=member,
        subject=f"Tookets — un message de {thank_you.association.name}",
        template="member_thanks",
        context={
            "thank_you": thank_you,
            "association": thank_you.association,
            "messages_url": _site() + reverse("associations:messages"),
        },
        unsubscribe=True,
    )
