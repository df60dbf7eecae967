"""Business actions on a member's account: email choices, unsubscribing, closing the account."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from importlib import import_module

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from cagnotte.models import Favourite, LedgerEntry, Wallet
from cagnotte.services import anonymise_entries_of, settle_wallet

TO_FAVOURITE = "favourite"
TO_BANK = "return"
CLOSURE_REASON = "clôture du compte"


class AccountClosed(Exception):
    """The account is closed already: nothing more can change on it."""


class NotClosable(Exception):
    """Only members close their account here (an association asks its Caisse)."""


def closed_identifier(*, caisse_regionale_id: int, account_number: str) -> str:
    """Keyed digest of the identifier of a closed account (the number itself is removed)."""
    return salted_hmac(
        "accounts.closed", f"{caisse_regionale_id}:{account_number}", algorithm="sha256"
    ).hexdigest()


def is_closed_identifier(*, caisse_regionale_id: int, account_number: str) -> bool:
    digest = closed_identifier(
        caisse_regionale_id=caisse_regionale_id, account_number=account_number
    )
    return User.objects.filter(closed_identifier=digest, closed_at__isnull=False).exists()


def set_recap_emails(*, member: User, accept: bool) -> bool:
    """Record the member's email choice; returns whether it changed."""
    with transaction.atomic():
        changed = (
            User.objects.filter(pk=member.pk, closed_at__isnull=True)
            .exclude(recap_emails=accept)
            .update(recap_emails=accept, recap_changed_at=timezone.now())
        )
    if changed:
        member.recap_emails = accept
    return bool(changed)


@dataclass(frozen=True)
class UnsubscribeResult:
    changed: bool
    closed: bool = False


def unsubscribe(*, member_id: int, signed_at: datetime.datetime) -> UnsubscribeResult | None:
    """One-click unsubscribe from a signed link. None when the link is stale: the member chose
    to receive emails again after it was signed, so replaying it changes nothing."""
    with transaction.atomic():
        member = User.objects.select_for_update().filter(pk=member_id).first()
        if member is None or member.closed_at is not None:
            return UnsubscribeResult(changed=False, closed=True)
        # Tokens carry whole seconds: one signed in the second of the change is not stale.
        if member.recap_changed_at and member.recap_changed_at.replace(microsecond=0) > signed_at:
            return None
        if not member.recap_emails:
            return UnsubscribeResult(changed=False)
        member.recap_emails = False
        member.recap_changed_at = timezone.now()
        member.save(update_fields=["recap_emails", "recap_changed_at"])
        return UnsubscribeResult(changed=True)


@dataclass(frozen=True)
class ClosureResult:
    member_id: int
    settled: list[LedgerEntry]


def close_account(
    *, member: User, choices: dict[int, str], actor: User | None = None
) -> ClosureResult:
    """Close a member's account, in one transaction.

    1. Lock the user row (two closures at once: the second finds it closed, ``AccountClosed``).
    2. Settle every wallet with a balance: ``choices[wallet_id] == "favourite"`` gives it now to
       the favourite (``cagnotte.services.NotEligible`` if it cannot receive: nothing at all is
       changed), anything else returns it to the regional bank. ``settle_wallet`` is idempotent.
    3. Anonymise the ledger rows (they stay: the bank's accounts need them) and remove personal
       data: name, email, account number (a keyed digest is kept so the login can say the account
       is closed), favourite, sessions; the login is disabled; who closed it and when is recorded.
    """
    actor = actor or member
    with transaction.atomic():
        # FOR NO KEY UPDATE: a gift racing this closure holds its wallet and then checks the
        # foreign keys to this user (FOR KEY SHARE); a plain FOR UPDATE here would deadlock
        # with it while we wait for that wallet.
        user = User.objects.select_for_update(no_key=True).filter(pk=member.pk).first()
        if user is None or user.closed_at is not None:
            raise AccountClosed
        if user.kind != User.Kind.MEMBER:
            raise NotClosable
        settled = []
        for wallet in Wallet.objects.filter(member=user).order_by("pk"):
            entry = settle_wallet(
                wallet=wallet,
                to_favourite=choices.get(wallet.pk) == TO_FAVOURITE,
                actor=actor,
                reason=CLOSURE_REASON,
            )
            if entry is not None:
                settled.append(entry)
        account_number, name = user.account_number or "", user.display_name
        anonymise_entries_of(member=user, name=name)
        Favourite.objects.filter(member=user).delete()
        _delete_sessions(user_id=user.pk)
        _forget_login_attempts(username=user.username)
        if user.caisse_regionale_id and account_number:
            user.closed_identifier = closed_identifier(
                caisse_regionale_id=user.caisse_regionale_id, account_number=account_number
            )
        user.username = f"cloture-{user.pk}"
        user.display_name = ""
        user.first_name = ""
        user.last_name = ""
        user.email = ""
        user.account_number = None
        user.caisse_locale = None
        user.recap_emails = False
        user.is_active = False
        # A new unusable password also changes the session hash: any session we could not
        # find is refused on its next request.
        user.set_unusable_password()
        user.closed_at = timezone.now()
        user.closed_by = actor
        user.save()
        return ClosureResult(member_id=user.pk, settled=settled)


def _delete_sessions(*, user_id: int) -> None:
    """Delete the member's live sessions. Sessions last two hours (SESSION_COOKIE_AGE), so the
    unexpired ones are few; each is deleted through its store so the cache copy goes too."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user_id):
            store(session_key=session.session_key).delete()


def _forget_login_attempts(*, username: str) -> None:
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model.objects.filter(username=username).delete()
