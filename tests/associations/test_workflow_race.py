"""Two staff members deciding on one file at the same moment: exactly one decision wins."""

import threading

import pytest
from django.db import connection

from associations import services
from associations.models import Association, StatusChange
from cagnotte.campaigns import Enrollment
from tests import factories as f

Status = Association.Status


def run_together(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            call()
            outcomes[i] = "ok"
        except services.InvalidTransition:
            outcomes[i] = "refused"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[i] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_validate_and_correction_race(require_postgres, pg_caisse):
    staff_a = f.StaffFactory(caisse_regionale=pg_caisse)
    staff_b = f.StaffFactory(caisse_regionale=pg_caisse)
    asso = f.AssociationFactory(caisse_regionale=pg_caisse, status=Status.SUBMITTED, email="")
    outcomes = run_together(
        lambda: services.validate_association(
            association=Association.objects.get(pk=asso.pk), staff=staff_a
        ),
        lambda: services.request_correction(
            association=Association.objects.get(pk=asso.pk), staff=staff_b, message="RNA ?"
        ),
    )
    assert sorted(outcomes) == ["ok", "refused"]
    changes = list(StatusChange.objects.filter(association=asso))
    assert len(changes) == 1
    asso.refresh_from_db()
    assert asso.status == changes[0].to_status


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_enrolments_create_one(require_postgres, pg_caisse):
    staff = f.StaffFactory(caisse_regionale=pg_caisse)
    program = f.ProgramFactory(caisse_regionale=pg_caisse)
    asso = f.AssociationFactory(caisse_regionale=pg_caisse, status=Status.VALIDATED, email="")
    outcomes = run_together(
        *[
            lambda: services.enroll_association(
                association=Association.objects.get(pk=asso.pk), programs=[program], staff=staff
            )
        ]
        * 3
    )
    assert outcomes == ["ok", "ok", "ok"]
    assert Enrollment.objects.filter(association=asso, program=program).count() == 1
    assert StatusChange.objects.filter(association=asso).count() == 1
