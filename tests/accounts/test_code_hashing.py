"""Personal codes are hashed with Argon2id (accounts/hashers.py); older hashes upgrade at the
next successful login, on PostgreSQL as in production."""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher, make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.hashers import MEMORY_KIB, PARALLELISM, TIME_COST
from accounts.identity import _rehash
from accounts.models import BankCustomer
from tests import factories as f
from tests.accounts.helpers import login_with_code

pytestmark = pytest.mark.django_db

PREFIX = f"argon2$argon2id$v=19$m={MEMORY_KIB},t={TIME_COST},p={PARALLELISM}$"


def test_a_new_code_is_argon2id_with_the_chosen_parameters():
    encoded = make_password("123456")
    assert encoded.startswith(PREFIX)
    assert (MEMORY_KIB, TIME_COST, PARALLELISM) == (19 * 1024, 2, 1)  # OWASP's minimum row
    assert len(encoded) <= BankCustomer._meta.get_field("personal_code").max_length


def _customer(pg_caisse, encoded, account="98652706859"):
    return f.BankCustomerFactory(
        caisse_regionale=pg_caisse, account_number=account, personal_code=encoded
    )


@pytest.mark.parametrize(
    "old",
    [
        pytest.param(lambda: make_password("123456", hasher="pbkdf2_sha256"), id="pbkdf2"),
        # Django's own Argon2 parameters (m=100 MiB, p=8): same algorithm, out of date.
        pytest.param(
            lambda: Argon2PasswordHasher().encode("123456", Argon2PasswordHasher().salt()),
            id="argon2-other-parameters",
        ),
    ],
)
def test_an_older_hash_is_upgraded_at_the_next_successful_login(
    client, pg_caisse, require_postgres, old
):
    encoded = old()
    customer = _customer(pg_caisse, encoded)
    assert not encoded.startswith(PREFIX)

    response = login_with_code(client)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.personal_code.startswith(PREFIX)
    assert identify_hasher(customer.personal_code).algorithm == "argon2"
    # The upgraded hash checks the same code at the next login.
    client.logout()
    assert login_with_code(client).status_code == 302


def test_a_wrong_code_leaves_the_old_hash_alone(client, pg_caisse, require_postgres):
    encoded = make_password("123456", hasher="pbkdf2_sha256")
    customer = _customer(pg_caisse, encoded)
    response = login_with_code(client, code="654321")
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.personal_code == encoded


def test_a_current_hash_is_not_written_again(client, pg_caisse, require_postgres):
    customer = _customer(pg_caisse, make_password("123456"))
    before = customer.personal_code
    with CaptureQueriesContext(connection) as queries:
        login_with_code(client)
    customer.refresh_from_db()
    assert customer.personal_code == before
    assert not [q for q in queries if 'UPDATE "accounts_bankcustomer"' in q["sql"]]


def test_an_association_managers_code_upgrades_on_the_managers_row(
    client, pg_caisse, require_postgres
):
    manager = _customer(pg_caisse, make_password("123456", hasher="pbkdf2_sha256"))
    association = f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number="98652790001",
        kind="association",
        personal_code="",
    )
    association.managers.add(manager)
    assert login_with_code(client, account="98652790001").status_code == 302
    manager.refresh_from_db()
    association.refresh_from_db()
    assert manager.personal_code.startswith(PREFIX)
    assert association.personal_code == ""


def test_an_upgrade_never_overwrites_a_code_the_feed_changed_meanwhile(pg_caisse):
    old = make_password("123456", hasher="pbkdf2_sha256")
    customer = _customer(pg_caisse, old)
    changed = make_password("999999")
    BankCustomer.objects.filter(pk=customer.pk).update(personal_code=changed)
    _rehash(customer.pk, old)("123456")
    customer.refresh_from_db()
    assert customer.personal_code == changed
