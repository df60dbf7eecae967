"""The one workflow step (``associations.workflow.transition``): lock the row, re-check its
status, change it, record the event, in one transaction; the file's, the projects' and the
thank-yous' decisions all take it."""

import pytest

from associations import projects, services, thanks, workflow
from associations.models import Association, Project, StatusChange, ThankYou
from associations.workflow import InvalidTransition, WorkflowError
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(association, pg_caisse):
    user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    association.user = user
    association.save()
    return user


def test_the_services_re_export_the_workflow_errors():
    assert services.WorkflowError is WorkflowError
    assert services.InvalidTransition is InvalidTransition
    assert issubclass(services.NotEligible, WorkflowError)


def test_a_step_from_another_status_is_refused_in_french_and_writes_nothing(association):
    recorded = []
    with pytest.raises(InvalidTransition) as refused:
        workflow.transition(
            Association.objects,
            association.pk,
            events={Association.Status.SUBMITTED: "validated"},
            to=Association.Status.VALIDATED,
            record=lambda *args: recorded.append(args),
            refusal="Action impossible : le dossier est « %(status)s ».",
        )
    assert str(refused.value) == "Action impossible : le dossier est « Validée »."
    assert recorded == []


def test_the_event_and_the_status_are_one_transaction(association):
    association.status = Association.Status.SUBMITTED
    association.save()

    def record(locked, event, from_status):
        assert (event, from_status) == ("validated", "submitted")
        StatusChange.objects.create(
            association=locked, event=event, from_status=from_status, to_status=locked.status
        )
        raise RuntimeError("the event's write failed")

    with pytest.raises(RuntimeError):
        workflow.transition(
            Association.objects,
            association.pk,
            events={Association.Status.SUBMITTED: "validated"},
            to=Association.Status.VALIDATED,
            record=record,
            refusal="%(status)s",
            touch=("updated_at",),
        )
    association.refresh_from_db()
    assert association.status == Association.Status.SUBMITTED  # rolled back with the event
    assert not StatusChange.objects.filter(association=association, event="validated").exists()


def test_files_projects_and_thank_yous_are_decided_through_the_one_step(
    monkeypatch, association, account, program, staff_pg
):
    """No second copy of the step: each decision goes through ``workflow.transition``."""
    calls = []

    def counting(queryset, pk, **kwargs):
        calls.append(queryset.model)
        return workflow.transition(queryset, pk, **kwargs)

    for module in (services, projects, thanks):
        monkeypatch.setattr(module, "transition", counting)

    submitted = f.AssociationFactory(
        caisse_regionale=association.caisse_regionale, status=Association.Status.SUBMITTED
    )
    services.request_correction(association=submitted, staff=staff_pg, message="Le RNA ?")
    project = projects.submit_project(
        association=association,
        actor=account,
        program=program,
        title="Un minibus",
        text="Pour les sorties.",
        goal=1000,
        ends_on=program.closes_on,
    )
    projects.accept_project(project=project, staff=staff_pg)
    thank_you = thanks.write_thank_you(
        association=association, actor=account, program=program, kind="campaign", text="Merci !"
    )
    thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason="Trop court.")

    assert calls == [Association, Project, ThankYou]
    submitted.refresh_from_db()
    project.refresh_from_db()
    thank_you.refresh_from_db()
    assert submitted.status == Association.Status.CORRECTION_REQUESTED
    assert project.status == Project.Status.ACCEPTED
    assert thank_you.status == ThankYou.Status.REFUSED
