import datetime

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from accounts.identity import Identity
from associations import services
from associations.models import Activity, Association, Domain, StatusChange
from associations.selectors import associations_visible_to
from cagnotte.campaigns import Enrollment
from tests import factories as f

Status = Association.Status


@pytest.fixture(autouse=True)
def _clear_email_claims():
    cache.clear()


def submitted(caisse, **kw):
    user = f.UserFactory(kind="association", caisse_regionale=caisse)
    values = dict(
        email="asso@example.test",
        status=Status.SUBMITTED,
        user=user,
        account_number=user.account_number,
        president_name="Marie Curie",
        address="1 place de la Mairie",
        postal_code="32000",
        city="Auch",
    )
    values.update(kw)
    return f.AssociationFactory(caisse_regionale=caisse, **values)


def association_identity(caisse, account="98652790001", **kw):
    values = dict(
        kind="association",
        caisse_regionale_id=caisse.pk,
        account_number=account,
        name="Association Sportive Gersoise",
        email="asg@example.test",
        is_societaire=True,
        is_online_banking=True,
        prefill={"address": "2 rue du Stade", "postal_code": "32000", "city": "Auch"},
    )
    values.update(kw)
    return Identity(**values)


def test_start_registration_creates_one_prefilled_draft_and_finds_it_again(pg_caisse):
    user = f.UserFactory(
        kind="association", caisse_regionale=pg_caisse, account_number="98652790001"
    )
    identity = association_identity(pg_caisse)
    first = services.start_registration(caisse=pg_caisse, identity=identity, user=user)
    again = services.start_registration(caisse=pg_caisse, identity=identity, user=user)
    assert first.pk == again.pk
    assert first.status == Status.DRAFT
    assert (first.name, first.address, first.city, first.email) == (
        "Association Sportive Gersoise",
        "2 rue du Stade",
        "Auch",
        "asg@example.test",
    )
    assert first.user == user


def test_start_registration_refuses_person_and_non_societaire(pg_caisse):
    user = f.UserFactory(caisse_regionale=pg_caisse)
    with pytest.raises(services.NotEligible, match="pas un compte d’association"):
        services.start_registration(
            caisse=pg_caisse, identity=association_identity(pg_caisse, kind="person"), user=user
        )
    with pytest.raises(services.NotEligible, match="pas sociétaire"):
        services.start_registration(
            caisse=pg_caisse,
            identity=association_identity(pg_caisse, is_societaire=False),
            user=user,
        )
    assert not Association.objects.exists()


def test_submit_refuses_an_incomplete_file(pg_caisse):
    asso = submitted(pg_caisse, status=Status.DRAFT, rna_number=None)
    with pytest.raises(services.IncompleteRegistration, match="numéro RNA"):
        services.submit_registration(association=asso, actor=asso.user)
    asso.refresh_from_db()
    assert asso.status == Status.DRAFT


def test_submit_refuses_someone_else(pg_caisse, member):
    asso = submitted(pg_caisse, status=Status.DRAFT)
    with pytest.raises(PermissionDenied):
        services.submit_registration(association=asso, actor=member)


@pytest.mark.parametrize(
    "status, action",
    [
        (Status.DRAFT, "validate"),
        (Status.DRAFT, "correction"),
        (Status.VALIDATED, "correction"),
        (Status.VALIDATED, "validate"),
        (Status.REJECTED, "validate"),
        (Status.REJECTED, "reject"),
        (Status.VALIDATED, "reject"),
        (Status.CORRECTION_REQUESTED, "validate"),
        (Status.SUBMITTED, "submit"),
        (Status.VALIDATED, "submit"),
        (Status.REJECTED, "submit"),
        (Status.SUBMITTED, "enrol"),
    ],
)
def test_illegal_transitions_are_refused_and_leave_no_trace(status, action, staff_pg, program):
    asso = submitted(staff_pg.caisse_regionale, status=status)
    call = {
        "validate": lambda: services.validate_association(association=asso, staff=staff_pg),
        "correction": lambda: services.request_correction(
            association=asso, staff=staff_pg, message="Le RNA est faux."
        ),
        "reject": lambda: services.reject_association(
            association=asso, staff=staff_pg, reason="Pas éligible."
        ),
        "submit": lambda: services.submit_registration(association=asso, actor=asso.user),
        "enrol": lambda: services.enroll_association(
            association=asso, programs=[program], staff=staff_pg
        ),
    }[action]
    with pytest.raises(services.InvalidTransition):
        call()
    asso.refresh_from_db()
    assert asso.status == status
    assert not StatusChange.objects.filter(association=asso).exists()
    assert not Enrollment.objects.filter(association=asso).exists()


def test_staff_of_another_bank_cannot_decide(staff_other, pg_caisse, program):
    asso = submitted(pg_caisse)
    with pytest.raises(PermissionDenied):
        services.validate_association(association=asso, staff=staff_other)
    with pytest.raises(PermissionDenied):
        services.request_correction(association=asso, staff=staff_other, message="x")
    with pytest.raises(PermissionDenied):
        services.reject_association(association=asso, staff=staff_other, reason="x")
    asso.status = Status.VALIDATED
    asso.save()
    with pytest.raises(PermissionDenied):
        services.enroll_association(association=asso, programs=[program], staff=staff_other)
    assert not Enrollment.objects.exists()


def test_a_member_is_not_staff(member, pg_caisse):
    asso = submitted(pg_caisse)
    with pytest.raises(PermissionDenied):
        services.validate_association(association=asso, staff=member)


def test_national_staff_may_decide_for_any_bank(national_staff, other_caisse):
    asso = submitted(other_caisse)
    services.validate_association(association=asso, staff=national_staff)
    assert asso.status == Status.VALIDATED


def test_correction_and_rejection_need_a_message(staff_pg):
    asso = submitted(staff_pg.caisse_regionale)
    with pytest.raises(services.WorkflowError):
        services.request_correction(association=asso, staff=staff_pg, message="  ")
    with pytest.raises(services.WorkflowError):
        services.reject_association(association=asso, staff=staff_pg, reason="")


def test_enrolment_only_in_this_years_programs_of_the_banks(staff_pg, pg_caisse, other_caisse):
    asso = submitted(pg_caisse, status=Status.VALIDATED)
    year = datetime.date.today().year
    foreign = f.ProgramFactory(caisse_regionale=other_caisse)
    last_year = f.ProgramFactory(caisse_regionale=pg_caisse, year=year - 1)
    for program in (foreign, last_year):
        with pytest.raises(services.NotEligible):
            services.enroll_association(association=asso, programs=[program], staff=staff_pg)
    assert not Enrollment.objects.exists()


def test_enrolment_is_idempotent(staff_pg, program, django_capture_on_commit_callbacks):
    asso = submitted(staff_pg.caisse_regionale, status=Status.VALIDATED)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.enroll_association(association=asso, programs=[program], staff=staff_pg)
        second = services.enroll_association(association=asso, programs=[program], staff=staff_pg)
    assert len(first) == 1 and second == []
    assert Enrollment.objects.filter(association=asso).count() == 1
    assert len(mail.outbox) == 1
    assert StatusChange.objects.filter(association=asso).count() == 1


def test_email_task_is_safe_to_run_twice(staff_pg, django_capture_on_commit_callbacks):
    from associations.tasks import send_decision_email

    asso = submitted(staff_pg.caisse_regionale)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_correction(association=asso, staff=staff_pg, message="Le RNA est faux.")
    change = StatusChange.objects.get(association=asso)
    assert send_decision_email(change.pk) is False
    assert len(mail.outbox) == 1


def test_emails_are_sent_only_after_commit(staff_pg, django_capture_on_commit_callbacks):
    asso = submitted(staff_pg.caisse_regionale)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.validate_association(association=asso, staff=staff_pg)
    assert mail.outbox == []
    assert len(callbacks) == 1


def test_correction_email_falls_back_to_the_representative(
    staff_pg, django_capture_on_commit_callbacks
):
    asso = submitted(staff_pg.caisse_regionale, email="", president_email="pres@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_correction(association=asso, staff=staff_pg, message="Logo manquant.")
    (message,) = mail.outbox
    assert message.to == ["pres@example.test"]


def test_whole_path_to_visibility(
    pg_caisse, staff_pg, program, member, other_member, django_capture_on_commit_callbacks
):
    user = f.UserFactory(
        kind="association", caisse_regionale=pg_caisse, account_number="98652790001"
    )
    asso = services.start_registration(
        caisse=pg_caisse, identity=association_identity(pg_caisse), user=user
    )
    local = f.CaisseLocaleFactory(caisse_regionale=pg_caisse)
    services.save_registration_step(
        association=asso,
        fields={
            "rna_number": "W321000001",
            "jo_publication_date": datetime.date(2010, 5, 1),
            "president_name": "Marie Curie",
            "presentation": "Club de rugby des jeunes du Gers depuis 1950, ouvert à tous.",
            "activity": Activity.objects.first(),
            "domain": Domain.objects.first(),
            "caisse_locale": local,
            "latitude": pg_caisse.center_lat,
            "longitude": pg_caisse.center_lng,
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_registration(association=asso, actor=user)
        services.request_correction(association=asso, staff=staff_pg, message="Précisez le RNA.")
    assert asso.status == Status.CORRECTION_REQUESTED
    services.save_registration_step(association=asso, fields={"rna_number": "W321000002"})
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_registration(association=asso, actor=user)
        services.validate_association(association=asso, staff=staff_pg)
    assert asso.status == Status.VALIDATED
    assert asso not in associations_visible_to(member)
    with django_capture_on_commit_callbacks(execute=True):
        services.enroll_association(association=asso, programs=[program], staff=staff_pg)
    assert asso in associations_visible_to(member)
    assert asso not in associations_visible_to(other_member)

    history = list(StatusChange.objects.filter(association=asso).order_by("id"))
    assert [(h.from_status, h.to_status) for h in history] == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "correction_requested"),
        ("correction_requested", "submitted"),
        ("submitted", "validated"),
        ("validated", "validated"),
    ]
    assert history[2].actor == staff_pg and history[2].message == "Précisez le RNA."
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 5
    assert "reçu l’inscription" in subjects[0]
    assert "correction" in subjects[1] and "Précisez le RNA." in mail.outbox[1].body
    assert "Précisez le RNA." in mail.outbox[1].alternatives[0][0]
    assert "corrections" in subjects[2]
    assert "validée" in subjects[3]
    assert "recevoir des Tookets" in subjects[4]
    assert all(m.to == ["asg@example.test"] for m in mail.outbox)


def test_save_step_refused_once_submitted(pg_caisse):
    asso = submitted(pg_caisse)
    with pytest.raises(services.InvalidTransition):
        services.save_registration_step(association=asso, fields={"name": "Autre"})
    asso.refresh_from_db()
    assert asso.name != "Autre"
