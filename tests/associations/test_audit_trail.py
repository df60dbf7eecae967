"""The audit trail of an association's file: one explicit event per decision, rows that are
never rewritten, one readable history for the association's bank only."""

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts.models import User
from associations import services
from associations.emails import email_kind
from associations.models import Association, Enrollment, StatusChange
from tests import factories as f
from tookets.append_only import ImmutableRecord

Status = Association.Status
Event = StatusChange.Event

pytestmark = pytest.mark.django_db


def decide_url(kind):
    return reverse("admin:associations_association_decide", args=[kind])


def draft(caisse):
    user = f.UserFactory(kind="association", caisse_regionale=caisse)
    return f.AssociationFactory(
        caisse_regionale=caisse,
        status=Status.DRAFT,
        user=user,
        account_number=user.account_number,
        email="asso@example.test",
        president_name="Marie Curie",
        address="1 place de la Mairie",
        postal_code="32000",
        city="Auch",
    )


def events_of(association):
    return list(association.history.order_by("id").values_list("event", flat=True))


def test_every_step_of_a_file_records_its_own_event_and_sends_the_email_it_names(
    pg_caisse, staff_pg, program, django_capture_on_commit_callbacks
):
    asso = draft(pg_caisse)
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_registration(association=asso, actor=asso.user)
        services.request_correction(association=asso, staff=staff_pg, message="Le logo.")
        services.submit_registration(association=asso, actor=asso.user)
        services.validate_association(association=asso, staff=staff_pg)
        services.enroll_association(association=asso, programs=[program], staff=staff_pg)
        services.unenroll_association(
            association=asso, programs=[program], staff=staff_pg, reason="Dossier à revoir."
        )
    assert events_of(asso) == [
        Event.SUBMITTED,
        Event.CORRECTION_REQUESTED,
        Event.RESUBMITTED,
        Event.VALIDATED,
        Event.ENROLLED,
        Event.UNENROLLED,
    ]
    enrolled, unenrolled = asso.history.order_by("id")[4:]
    # An enrolment and a withdrawal leave the status as it was: only the event tells them apart.
    assert (enrolled.from_status, enrolled.to_status) == (Status.VALIDATED, Status.VALIDATED)
    assert (unenrolled.from_status, unenrolled.to_status) == (Status.VALIDATED, Status.VALIDATED)
    assert unenrolled.actor == staff_pg and "Dossier à revoir." in unenrolled.message
    assert not Enrollment.objects.filter(association=asso).exists()
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"Tookets — nous avons bien reçu l’inscription de {asso.name}",
        f"Tookets — une correction est demandée pour {asso.name}",
        f"Tookets — nous avons bien reçu les corrections de {asso.name}",
        f"Tookets — l’inscription de {asso.name} est validée",
        f"Tookets — {asso.name} peut recevoir des Tookets",
    ]  # a withdrawal sends none


def test_a_rejection_is_recorded_as_one(pg_caisse, staff_pg):
    asso = draft(pg_caisse)
    services.submit_registration(association=asso, actor=asso.user)
    services.reject_association(association=asso, staff=staff_pg, reason="Hors critères.")
    assert events_of(asso) == [Event.SUBMITTED, Event.REJECTED]


def test_the_email_reads_the_event_not_the_statuses(pg_caisse):
    asso = f.AssociationFactory(caisse_regionale=pg_caisse)
    # The same statuses (validated → validated) for two events with different emails.
    enrolled = StatusChange(association=asso, event=Event.ENROLLED, from_status="validated")
    unenrolled = StatusChange(association=asso, event=Event.UNENROLLED, from_status="validated")
    enrolled.to_status = unenrolled.to_status = "validated"
    assert (email_kind(enrolled), email_kind(unenrolled)) == ("enrolled", None)


def test_withdrawing_needs_a_reason_and_an_enrolment(pg_caisse, staff_pg, staff_other, program):
    asso = f.AssociationFactory(caisse_regionale=pg_caisse)
    with pytest.raises(services.WorkflowError, match="motif"):
        services.unenroll_association(
            association=asso, programs=[program], staff=staff_pg, reason=" "
        )
    with pytest.raises(services.WorkflowError, match="aucun"):
        services.unenroll_association(
            association=asso, programs=[program], staff=staff_pg, reason="x"
        )
    f.EnrollmentFactory(association=asso, program=program)
    with pytest.raises(services.PermissionDenied):
        services.unenroll_association(
            association=asso, programs=[program], staff=staff_other, reason="x"
        )
    assert Enrollment.objects.filter(association=asso).exists()
    assert not asso.history.exists()


# --- Decisions in the admin: one table, every decision an event ---------------------------


@pytest.mark.parametrize(
    "kind, status, data, event",
    [
        ("validation", Status.SUBMITTED, {"message": ""}, Event.VALIDATED),
        ("correction", Status.SUBMITTED, {"message": "Le logo."}, Event.CORRECTION_REQUESTED),
        ("refus", Status.SUBMITTED, {"reason": "Hors critères."}, Event.REJECTED),
        ("enrolement", Status.VALIDATED, {}, Event.ENROLLED),
        ("retrait", Status.VALIDATED, {"reason": "Fin du partenariat."}, Event.UNENROLLED),
    ],
)
def test_each_admin_decision_records_its_event(
    client, staff_pg, pg_caisse, program, kind, status, data, event
):
    asso = f.AssociationFactory(caisse_regionale=pg_caisse, status=status)
    if kind == "retrait":
        f.EnrollmentFactory(association=asso, program=program)
    if kind in ("enrolement", "retrait"):
        data = {**data, "programs": [program.pk]}
    client.force_login(staff_pg)
    response = client.post(decide_url(kind), {"ids": str(asso.pk), **data})
    assert response.status_code == 302
    (change,) = asso.history.all()
    assert (change.event, change.actor) == (event, staff_pg)


def test_the_admin_withdraws_only_from_programs_the_association_is_in(
    client, staff_pg, pg_caisse, program
):
    asso = f.AssociationFactory(caisse_regionale=pg_caisse)
    other = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme")
    client.force_login(staff_pg)
    response = client.post(
        decide_url("retrait"), {"ids": str(asso.pk), "programs": [other.pk], "reason": "x"}
    )
    assert response.status_code == 400
    assert "programs" in response.context["form"].errors
    assert not asso.history.exists()


# --- One readable history, for the association's bank only --------------------------------


def test_staff_read_the_files_history_with_who_when_and_why(
    client, pg_caisse, staff_pg, program, django_assert_max_num_queries
):
    staff_pg.display_name = "Claire Martin"
    staff_pg.save()
    asso = draft(pg_caisse)
    services.submit_registration(association=asso, actor=asso.user)
    services.request_correction(association=asso, staff=staff_pg, message="Le numéro RNA.")
    services.submit_registration(association=asso, actor=asso.user)
    services.validate_association(association=asso, staff=staff_pg, message="Parfait.")
    services.enroll_association(association=asso, programs=[program], staff=staff_pg)
    client.force_login(staff_pg)
    url = reverse("admin:associations_association_change", args=[asso.pk])
    with django_assert_max_num_queries(25):
        page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    history = html[html.index('class="association-history"') :]
    history = history[: history.index("</table>")]
    for text in (
        "Dossier envoyé",
        "Correction demandée",
        "Le numéro RNA.",
        "Corrections envoyées",
        "Parfait.",
        "Enrôlée dans un programme",
        str(program),
        "Claire Martin",
    ):
        assert text in history, text
    # Oldest first: the story reads from top to bottom.
    assert history.index("Dossier envoyé") < history.index("Enrôlée dans un programme")


def test_staff_of_another_bank_see_none_of_it(client, pg_caisse, staff_pg, staff_other):
    asso = draft(pg_caisse)
    services.submit_registration(association=asso, actor=asso.user)
    services.request_correction(association=asso, staff=staff_pg, message="Secret du Gers.")
    client.force_login(staff_other)
    response = client.get(reverse("admin:associations_association_change", args=[asso.pk]))
    assert response.status_code == 302
    assert "Secret du Gers." not in client.get(response["Location"]).content.decode()
    listing = client.get(reverse("admin:associations_statuschange_changelist"))
    assert listing.status_code == 200
    assert "Secret du Gers." not in listing.content.decode()
    change = asso.history.last()
    response = client.get(reverse("admin:associations_statuschange_change", args=[change.pk]))
    assert response.status_code == 302


# --- Never rewritten ------------------------------------------------------------------------


@pytest.fixture
def change(pg_caisse, staff_pg):
    asso = draft(pg_caisse)
    services.submit_registration(association=asso, actor=asso.user)
    services.request_correction(association=asso, staff=staff_pg, message="Le logo.")
    return asso.history.get(event=Event.CORRECTION_REQUESTED)


def test_the_model_refuses_to_change_or_delete_a_status_change(change):
    change.message = "Autre chose."
    with pytest.raises(ImmutableRecord):
        change.save()
    with pytest.raises(ImmutableRecord):
        change.delete()
    with pytest.raises(ImmutableRecord):
        StatusChange.objects.filter(pk=change.pk).update(message="Autre chose.")
    with pytest.raises(ImmutableRecord):
        StatusChange.objects.filter(pk=change.pk).delete()
    with pytest.raises(ImmutableRecord):
        StatusChange.objects.filter(pk=change.pk).update(actor=None, message="")
    change.refresh_from_db()
    assert change.message == "Le logo."


def test_an_association_with_a_history_is_not_deleted(change):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        change.association.delete()


def test_anonymising_forgets_the_actor_only(change, staff_pg):
    assert StatusChange.objects.filter(actor=staff_pg).anonymise() == 1
    change.refresh_from_db()
    assert (change.actor, change.message, change.event) == (
        None,
        "Le logo.",
        "correction_requested",
    )


@pytest.mark.postgres
def test_postgresql_refuses_raw_updates_and_deletes(require_postgres, change, staff_other):
    for sql, params in [
        ("UPDATE associations_statuschange SET message = 'x' WHERE id = %s", [change.pk]),
        ("UPDATE associations_statuschange SET event = 'validated' WHERE id = %s", [change.pk]),
        (
            "UPDATE associations_statuschange SET actor_id = %s WHERE id = %s",
            [staff_other.pk, change.pk],
        ),
        ("DELETE FROM associations_statuschange WHERE id = %s", [change.pk]),
    ]:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    # The one way through: the author forgotten (closing their account).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE associations_statuschange SET actor_id = NULL WHERE id = %s", [change.pk]
        )
    change.refresh_from_db()
    assert (change.actor_id, change.message) == (None, "Le logo.")


@pytest.mark.postgres
def test_deleting_a_staff_user_keeps_their_decisions(require_postgres, change, staff_pg):
    # Django's on_delete=SET_NULL goes through the anonymisation hatch, trigger included.
    User.objects.filter(pk=staff_pg.pk).delete()
    change.refresh_from_db()
    assert (change.actor_id, change.event) == (None, "correction_requested")


# --- Existing rows get their event -----------------------------------------------------------


# serialized_rollback: the flush after this test leaves the tables as the other transactional
# tests expect them (content types and permissions are reloaded, not recreated).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_names_the_event_of_every_existing_row(pg_caisse):
    before = [("associations", "0006_search_name_apostrophes")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldAssociation = old.get_model("associations", "Association")
        OldChange = old.get_model("associations", "StatusChange")
        asso = OldAssociation.objects.create(
            caisse_regionale_id=pg_caisse.pk, account_number="30000000999", name="Ancienne"
        )
        steps = [
            ("", "draft"),
            ("draft", "submitted"),
            ("submitted", "correction_requested"),
            ("correction_requested", "submitted"),
            ("submitted", "validated"),
            ("validated", "validated"),
            ("submitted", "rejected"),
        ]
        for from_status, to_status in steps:
            OldChange.objects.create(association=asso, from_status=from_status, to_status=to_status)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    events = list(
        StatusChange.objects.filter(association_id=asso.pk)
        .order_by("id")
        .values_list("event", flat=True)
    )
    assert events == [
        "started",
        "submitted",
        "correction_requested",
        "resubmitted",
        "validated",
        "enrolled",
        "rejected",
    ]
