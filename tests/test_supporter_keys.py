"""The supporters' two keys (``cagnotte.set_keys``): every supporter names a member and an
association that exist, whatever writes.

PostgreSQL checks them per statement (triggers: a write is refused at once); SQLite keeps its
declared keys, deferred to the commit, which ``refused`` reaches with ``check_constraints``
(``PRAGMA foreign_key_check``: it reports a row only where a declared key exists). The rows
used here are referenced by nothing else, so only the supporters' keys can refuse a write.
"""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from cagnotte import set_keys
from cagnotte.models import Supporter, Wallet
from tests import factories as f
from tests.cagnotte.helpers import credit
from tests.services import wait_for

MISSING = 9_000_000_000


def refused(sql, params):
    """The raw statement is refused: at once on PostgreSQL, at commit on SQLite."""
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        if connection.vendor == "sqlite":
            connection.check_constraints()


@pytest.fixture
def supporter(db):
    member = f.MemberFactory()
    association = f.AssociationFactory()
    return Supporter.objects.create(member=member, association=association)


def insert(association_id, member_id):
    return (
        "INSERT INTO cagnotte_supporter (association_id, member_id, first_gift_at) "
        "VALUES (%s, %s, CURRENT_TIMESTAMP)",
        [association_id, member_id],
    )


def test_a_supporter_of_a_missing_member_is_refused(supporter):
    refused(*insert(supporter.association_id, MISSING))
    assert Supporter.objects.count() == 1


def test_a_supporter_of_a_missing_association_is_refused(supporter):
    refused(*insert(MISSING, supporter.member_id))
    assert Supporter.objects.count() == 1


def test_a_set_of_supporters_with_one_missing_member_is_refused_whole(supporter):
    others = [f.MemberFactory().pk for _ in range(3)]
    values = ", ".join(["(%s, %s, CURRENT_TIMESTAMP)"] * 4)
    params = []
    for member_id in [*others, MISSING]:
        params += [supporter.association_id, member_id]
    refused(
        f"INSERT INTO cagnotte_supporter (association_id, member_id, first_gift_at) "
        f"VALUES {values}",
        params,
    )
    assert Supporter.objects.count() == 1


@pytest.mark.parametrize("column", ["member_id", "association_id"])
def test_an_update_to_a_missing_id_is_refused(supporter, column):
    refused(f"UPDATE cagnotte_supporter SET {column} = %s WHERE id = %s", [MISSING, supporter.pk])
    supporter.refresh_from_db()
    assert supporter.member_id != MISSING and supporter.association_id != MISSING


@pytest.mark.parametrize("table", ["accounts_user", "associations_association"])
def test_a_raw_delete_of_a_referenced_row_is_refused(supporter, table):
    row_id = supporter.member_id if table == "accounts_user" else supporter.association_id
    refused(f"DELETE FROM {table} WHERE id = %s", [row_id])
    assert Supporter.objects.filter(pk=supporter.pk).exists()


@pytest.mark.parametrize("table", ["accounts_user", "associations_association"])
def test_a_change_of_a_referenced_id_is_refused(supporter, table):
    row_id = supporter.member_id if table == "accounts_user" else supporter.association_id
    refused(f"UPDATE {table} SET id = %s WHERE id = %s", [MISSING, row_id])


def test_deleting_an_unreferenced_row_goes_through(supporter):
    # The same raw delete as above, of a member nobody supports through: not refused.
    other = f.MemberFactory()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_user WHERE id = %s", [other.pk])
        connection.check_constraints()


def test_deleting_a_member_through_django_deletes_their_supporter_rows(supporter):
    other = Supporter.objects.create(
        member=f.MemberFactory(), association_id=supporter.association_id
    )
    supporter.member.delete()
    assert list(Supporter.objects.values_list("pk", flat=True)) == [other.pk]
    connection.check_constraints()


def test_deleting_an_association_through_django_deletes_its_supporter_rows(supporter):
    other = Supporter.objects.create(member=supporter.member, association=f.AssociationFactory())
    supporter.association.delete()
    assert list(Supporter.objects.values_list("pk", flat=True)) == [other.pk]
    connection.check_constraints()


def test_truncating_an_association_table_with_supporters_is_refused(require_postgres, supporter):
    # CASCADE follows the declared keys only: the supporters would stay, pointing nowhere.
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            # The test's rows' deferred key checks first: TRUNCATE refuses pending ones.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE associations_association CASCADE")
    assert Supporter.objects.filter(pk=supporter.pk).exists()


# --- Concurrent transactions (PostgreSQL) ----------------------------------------------------

ORPHANS = """
SELECT COUNT(*) FROM cagnotte_supporter s
 WHERE NOT EXISTS (SELECT 1 FROM accounts_user u WHERE u.id = s.member_id)
"""


class Holder:
    """Runs ``sql`` in its own connection's transaction and holds it until ``release()``;
    ``outcome`` is then None (committed) or the exception."""

    def __init__(self, sql, params):
        self.sql, self.params = sql, params
        self.ran = threading.Event()
        self.go = threading.Event()
        self.outcome = "not run"
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(self.sql, self.params)
                self.ran.set()
                self.go.wait(timeout=60)
            self.outcome = None
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            self.outcome = exc
        finally:
            self.ran.set()
            connections.close_all()

    def start(self):
        self.thread.start()
        return self

    def release(self):
        self.go.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


def waiting_on_a_lock(statement_start: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            [statement_start + "%"],
        )
        return cursor.fetchone()[0] > 0


def orphans() -> int:
    with connection.cursor() as cursor:
        cursor.execute(ORPHANS)
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_member_being_supported_cannot_be_deleted_under_the_insert(require_postgres):
    member, association = f.MemberFactory(), f.AssociationFactory()
    inserting = Holder(*insert(association.pk, member.pk)).start()
    assert inserting.ran.wait(timeout=30) and inserting.outcome == "not run"
    deleting = Holder("DELETE FROM accounts_user WHERE id = %s", [member.pk]).start()
    try:
        # The delete waits for the insert's lock on the member (FOR KEY SHARE).
        wait_for(lambda: waiting_on_a_lock("DELETE FROM accounts_user"), timeout=30, what="wait")
        assert not deleting.ran.is_set()
    finally:
        inserting.release()
        deleting.release()
    assert inserting.outcome is None
    assert isinstance(deleting.outcome, IntegrityError)
    assert Supporter.objects.filter(member_id=member.pk).count() == 1
    assert orphans() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_supporter_of_a_member_deleted_meanwhile_is_refused(require_postgres):
    member, association = f.MemberFactory(), f.AssociationFactory()
    deleting = Holder("DELETE FROM accounts_user WHERE id = %s", [member.pk]).start()
    assert deleting.ran.wait(timeout=30) and deleting.outcome == "not run"
    inserting = Holder(*insert(association.pk, member.pk)).start()
    try:
        # The insert's lock waits for the delete, which then commits: the member is gone.
        wait_for(
            lambda: waiting_on_a_lock("INSERT INTO cagnotte_supporter"), timeout=30, what="wait"
        )
    finally:
        deleting.release()
        inserting.release()
    assert deleting.outcome is None
    assert isinstance(inserting.outcome, IntegrityError)
    assert not Supporter.objects.exists()
    assert orphans() == 0


# --- A transaction vouching for its supporters' members (the year-end sweep) -----------------


def vouching(sql, params):
    """Run the raw statement in a transaction that vouches for its supporters' members."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {set_keys.vouch_for_members_sql()}")
        cursor.execute(sql, params)


def test_a_vouching_transaction_skips_the_member_check_only(require_postgres, supporter):
    # What vouching means (the sweep must never vouch for a member it does not hold): the
    # member check is left out, inside this transaction only, rolled back here.
    with transaction.atomic():
        sid = transaction.savepoint()
        vouching(*insert(supporter.association_id, MISSING))
        assert Supporter.objects.filter(member_id=MISSING).count() == 1
        transaction.savepoint_rollback(sid)
    with pytest.raises(IntegrityError), transaction.atomic():
        vouching(*insert(MISSING, supporter.member_id))
    assert Supporter.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_vouch_ends_with_its_transaction(require_postgres):
    association = f.AssociationFactory()
    with transaction.atomic():  # a transaction of its own (this test runs outside one)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {set_keys.vouch_for_members_sql()}")
    refused(*insert(association.pk, MISSING))
    assert not Supporter.objects.exists()


def test_a_member_whose_wallet_has_entries_cannot_be_deleted(db, pg_caisse):
    # What the sweep's vouch rests on: the member of a wallet it emptied into the ledger
    # cannot disappear, even by raw SQL, the supporters' own key aside.

    member = f.MemberFactory(caisse_regionale=pg_caisse)
    credit(member, f.ProgramFactory(caisse_regionale=pg_caisse), 100, period="2026-01")
    wallet = Wallet.objects.get(member=member)
    for sql, params in [
        ("DELETE FROM accounts_user WHERE id = %s", [member.pk]),
        ("DELETE FROM cagnotte_wallet WHERE id = %s", [wallet.pk]),
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":  # their keys are checked at commit
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(sql, params)
            connection.check_constraints()
    assert Wallet.objects.filter(pk=wallet.pk, member=member).exists()
