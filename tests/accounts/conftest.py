import pytest

from tests import factories as f


@pytest.fixture
def jeanne(pg_caisse):
    """The demo member in the bank's directory: Pyrénées Gascogne, 98652706859, code 123456."""
    return f.BankCustomerFactory(
        caisse_regionale=pg_caisse, account_number="98652706859", name="Jeanne Dupont"
    )


@pytest.fixture
def jeanne_member(jeanne, pg_caisse):
    """The member behind the bank customer « Jeanne Dupont » (code 123456)."""
    return f.MemberFactory(
        caisse_regionale=pg_caisse,
        account_number="98652706859",
        username="pyrenees-gascogne:98652706859",
        display_name="Jeanne Dupont",
        email="jeanne.dupont@example.test",
    )


@pytest.fixture
def jeanne_client(client, jeanne_member):
    client.force_login(jeanne_member)
    return client
