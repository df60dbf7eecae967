import pytest

from tests import factories as f


@pytest.fixture
def jeanne(pg_caisse):
    """The demo member in the bank's directory: Pyrénées Gascogne, 98652706859, code 123456."""
    return f.BankCustomerFactory(
        caisse_regionale=pg_caisse, account_number="98652706859", name="Jeanne Dupont"
    )
