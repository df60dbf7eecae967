"""What each association received per month (``AssociationMonthTotals``): written with each
entry in the site's time zone, read by the staff dashboard's chart instead of the ledger,
held to the ledger by ``check_ledger``, and filled from the ledger by its migration."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from associations.charts import tookets_given_per_month
from associations.models import Association
from cagnotte.figures import month_of
from cagnotte.ledger import written_at
from cagnotte.ledger_checks import check_ledger
from cagnotte.models import AssociationMonthTotals, LedgerEntry
from cagnotte.services import give_tookets
from tests.cagnotte.helpers import assert_ledger_consistent, credit

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def give(member, program, association, amount, token):
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=amount, token=token
    )


def months(association):
    return dict(
        AssociationMonthTotals.objects.filter(association=association).values_list(
            "month", "received"
        )
    )


def test_a_gift_counts_in_the_month_of_its_date_in_paris(member, program, association):
    credit(member, program, 100)
    # 23:30 on 31 January in UTC is 00:30 on 1 February in Paris.
    with written_at(datetime.datetime(2026, 1, 31, 23, 30, tzinfo=UTC)):
        give(member, program, association, 30, "late")
    with written_at(datetime.datetime(2026, 1, 31, 22, 30, tzinfo=UTC)):
        give(member, program, association, 5, "early")
    assert months(association) == {datetime.date(2026, 2, 1): 30, datetime.date(2026, 1, 1): 5}
    # Whatever time zone a request activated.
    with timezone.override("America/Los_Angeles"):
        assert month_of(datetime.datetime(2026, 1, 31, 23, 30, tzinfo=UTC)).month == 2
        assert_ledger_consistent()


def test_the_chart_reads_the_month_totals_and_leaves_the_banks_matching_out(
    member, program, association
):
    credit(member, program, 100)
    give(member, program, association, 40, "c1")
    this_month = month_of(timezone.now())
    # A matching entry adds to received and to matched: not given by members.
    AssociationMonthTotals.objects.filter(association=association, month=this_month).update(
        received=70, matched=30
    )
    with CaptureQueriesContext(connection) as queries:
        rows = tookets_given_per_month(associations=Association.objects.all(), months=3)
    assert rows[-1][1] == 40 and [value for _label, value in rows[:2]] == [0, 0]
    assert len(queries) == 1
    assert "ledgerentry" not in queries[0]["sql"].lower()


def test_the_chart_counts_only_the_associations_it_is_given(
    member, program, association, other_member, other_caisse
):
    credit(member, program, 100)
    give(member, program, association, 40, "c1")
    mine = Association.objects.filter(caisse_regionale=other_caisse)
    assert tookets_given_per_month(associations=mine, months=2)[-1][1] == 0


def test_check_ledger_names_a_month_total_that_drifted(member, program, association):
    credit(member, program, 100)
    give(member, program, association, 30, "d")
    assert check_ledger().ok
    this_month = month_of(timezone.now())
    AssociationMonthTotals.objects.filter(association=association).update(received=31)
    problems = check_ledger().associations
    assert problems == [
        f"association {association.pk}, mois {this_month:%Y-%m} : (reçu, dont abondement) "
        "(30, 0) selon les mouvements, (31, 0) au résumé"
    ]
    # A month the ledger does not know is named too.
    AssociationMonthTotals.objects.filter(association=association).update(
        received=30, month=datetime.date(2020, 5, 1)
    )
    assert len(check_ledger().associations) == 2


def test_the_database_refuses_a_month_that_is_not_a_first_day(association):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        AssociationMonthTotals.objects.create(
            association=association, month=datetime.date(2026, 3, 2), received=1
        )


# serialized_rollback: the flush after this test leaves the tables as the other transactional
# tests expect them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_fills_the_month_totals_from_the_ledger(
    member, program, association, other_member
):
    credit(member, program, 100)
    with written_at(datetime.datetime(2026, 1, 31, 23, 30, tzinfo=UTC)):
        give(member, program, association, 30, "a")
    give(member, program, association, 12, "b")
    written = sorted(
        AssociationMonthTotals.objects.values_list("association_id", "month", "received", "matched")
    )
    assert len(written) == 2 and LedgerEntry.objects.filter(kind="gift").count() == 2
    executor = MigrationExecutor(connection)
    executor.migrate([("cagnotte", "0018_totals_bank_key")])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    filled = sorted(
        AssociationMonthTotals.objects.values_list("association_id", "month", "received", "matched")
    )
    assert filled == written
    assert check_ledger().ok
