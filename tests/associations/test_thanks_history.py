"""The thank-you messages' history (``ThankYouEvent``): each step recorded in its own
transaction, append-only, shown to staff as « Historique », and written for the messages
decided before it existed."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from associations import thanks
from associations.models import ThankYou, ThankYouEvent
from associations.services import InvalidTransition
from tests import factories as f
from tookets.append_only import ImmutableRecord

pytestmark = pytest.mark.django_db

Event = ThankYouEvent.Event


@pytest.fixture
def account(association, pg_caisse):
    user = f.UserFactory(kind="association", caisse_regionale=pg_caisse, email="asso@example.org")
    association.user = user
    association.save()
    return user


def write(association, account, program, text="Merci à vous !"):
    return thanks.write_thank_you(
        association=association, actor=account, program=program, kind="campaign", text=text
    )


def story(thank_you):
    return list(
        thank_you.history.order_by("created_at", "id").values_list(
            "event", "from_status", "to_status", "actor", "message"
        )
    )


def test_each_step_is_an_event_who_when_what_why(
    association, account, program, staff_pg, django_capture_on_commit_callbacks
):
    thank_you = write(association, account, program, text="Merci")
    thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason="Un peu court.")
    write(association, account, program, text="Merci à vous tous !")
    with django_capture_on_commit_callbacks():
        thanks.accept_thank_you(thank_you=thank_you, staff=staff_pg, message=" Parfait. ")

    assert story(thank_you) == [
        (Event.SUBMITTED, "", "submitted", account.pk, ""),
        (Event.REFUSED, "submitted", "refused", staff_pg.pk, "Un peu court."),
        (Event.RESUBMITTED, "refused", "submitted", account.pk, ""),
        (Event.ACCEPTED, "submitted", "accepted", staff_pg.pk, "Parfait."),
    ]
    decided = thank_you.history.get(event=Event.ACCEPTED)
    thank_you.refresh_from_db()
    assert decided.created_at <= timezone.now() and thank_you.decided_at is not None


def test_a_decision_refused_writes_no_event(association, account, program, staff_pg):
    thank_you = write(association, account, program)
    thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason="Non.")
    with pytest.raises(InvalidTransition):
        thanks.accept_thank_you(thank_you=thank_you, staff=staff_pg)
    assert [e[0] for e in story(thank_you)] == [Event.SUBMITTED, Event.REFUSED]


def test_the_history_is_append_only(association, account, program, staff_pg):
    thank_you = write(association, account, program)
    event = thank_you.history.get()
    event.message = "réécrit"
    with pytest.raises(ImmutableRecord):
        event.save()
    with pytest.raises(ImmutableRecord):
        ThankYouEvent.objects.filter(pk=event.pk).update(event=Event.ACCEPTED)
    with pytest.raises(ImmutableRecord):
        ThankYouEvent.objects.filter(pk=event.pk).delete()
    # The one way through: closing the author's account forgets them, keeps the event.
    assert ThankYouEvent.objects.filter(pk=event.pk).anonymise() == 1


@pytest.mark.postgres
def test_postgresql_refuses_raw_updates_and_deletes(
    require_postgres, association, account, program, staff_pg
):
    thank_you = write(association, account, program)
    thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason="Trop court.")
    event = thank_you.history.get(event=Event.REFUSED)
    for sql, params in [
        ("UPDATE associations_thankyouevent SET message = 'x' WHERE id = %s", [event.pk]),
        ("UPDATE associations_thankyouevent SET event = 'accepted' WHERE id = %s", [event.pk]),
        (
            "UPDATE associations_thankyouevent SET actor_id = %s WHERE id = %s",
            [account.pk, event.pk],
        ),
        ("DELETE FROM associations_thankyouevent WHERE id = %s", [event.pk]),
    ]:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE associations_thankyouevent SET actor_id = NULL WHERE id = %s", [event.pk]
        )
    event.refresh_from_db()
    assert (event.actor_id, event.message) == (None, "Trop court.")


def test_staff_see_the_history_on_the_message_and_decision_pages(
    client, association, account, program, staff_pg
):
    thank_you = write(association, account, program)
    thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason="Sans la photo, svp.")
    write(association, account, program, text="Merci, sans photo.")
    client.force_login(staff_pg)

    change = client.get(reverse("admin:associations_thankyou_change", args=[thank_you.pk]))
    decision = client.get(
        reverse("admin:associations_thankyou_decide", args=["validation"]),
        {"ids": thank_you.pk},
    )
    for page in (change, decision):
        assert page.status_code == 200
        html = page.content.decode()
        assert "Historique" in html
        for event in ("submitted", "refused", "resubmitted"):
            assert f'data-event="{event}"' in html
        assert "Sans la photo, svp." in html
        assert "Message réécrit" in html


def test_the_decision_page_reads_the_histories_with_the_rows(
    client, association, account, program, staff_pg, django_assert_max_num_queries
):
    other = f.AssociationFactory(caisse_regionale=association.caisse_regionale)
    other.user = f.UserFactory(kind="association", caisse_regionale=association.caisse_regionale)
    other.save()
    f.EnrollmentFactory(association=other, program=program)
    ids = [
        write(association, account, program).pk,
        write(other, other.user, program).pk,
    ]
    client.force_login(staff_pg)
    url = reverse("admin:associations_thankyou_decide", args=["validation"])
    client.get(url, {"ids": ids[0]})
    with django_assert_max_num_queries(10) as one:
        client.get(url, {"ids": ids[0]})
    with django_assert_max_num_queries(len(one)):
        assert client.get(url, {"ids": ",".join(map(str, ids))}).status_code == 200


# --- The messages decided before the history existed ----------------------------------------


# serialized_rollback: the flush after this test leaves the tables as the other transactional
# tests expect them (content types and permissions are reloaded, not recreated).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_writes_the_history_of_existing_messages(
    association, account, program, staff_pg
):
    before = [("associations", "0015_thank_you")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    decided_at = timezone.now() - datetime.timedelta(days=3)
    try:
        pending = ThankYou.objects.create(
            association=association, program=program, kind="campaign", text="En attente"
        )
        accepted = ThankYou.objects.create(
            association=association,
            program=program,
            kind="payout",
            text="Merci",
            status="accepted",
            decided_at=decided_at,
            decided_by=staff_pg,
            decision_message="Très bien.",
        )
        other = f.AssociationFactory(caisse_regionale=association.caisse_regionale)
        rewritten = ThankYou.objects.create(
            association=other,
            program=program,
            kind="campaign",
            text="Merci, réécrit",
            status="submitted",
            decided_at=decided_at,
            decided_by=staff_pg,
            decision_message="Trop court.",
        )
        # As they were: written before their decision, the rewritten one after its refusal.
        day = datetime.timedelta(days=1)
        ThankYou.objects.filter(pk__in=[pending.pk, accepted.pk]).update(
            written_at=decided_at - day
        )
        ThankYou.objects.filter(pk=rewritten.pk).update(written_at=decided_at + day)
        for row in (pending, accepted, rewritten):
            row.refresh_from_db()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert story(pending) == [(Event.SUBMITTED, "", "submitted", account.pk, "")]
    assert story(accepted) == [
        (Event.SUBMITTED, "", "submitted", account.pk, ""),
        (Event.ACCEPTED, "submitted", "accepted", staff_pg.pk, "Très bien."),
    ]
    assert story(rewritten) == [
        (Event.REFUSED, "submitted", "refused", staff_pg.pk, "Trop court."),
        (Event.RESUBMITTED, "refused", "submitted", other.user_id, ""),
    ]
    assert accepted.history.get(event=Event.ACCEPTED).created_at == decided_at
    assert pending.history.get().created_at == pending.written_at
