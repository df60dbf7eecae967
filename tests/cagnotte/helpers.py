"""Small helpers shared by the cagnotte tests."""

from cagnotte.ledger_checks import check_ledger
from cagnotte.services import credit_wallet

_counter = iter(range(10**9))


def credit(member, program, amount, *, period="2026-01", reference=None):
    reference = reference or f"test-credit-{next(_counter)}"
    return credit_wallet(
        member=member, program=program, amount=amount, reference=reference, period=period
    )


def assert_ledger_consistent():
    result = check_ledger()
    assert result.ok, (
        result.wallets,
        result.conservation,
        result.associations,
        result.statements,
        result.matching,
        result.years,
    )
