"""Associations a Pyrénées Gascogne member must NOT see, one per way of being hidden.

Shared by the directory, selector and favourites tests (plain functions, not fixtures, so this
module adds no fixture to other helpers' tests).
"""

import datetime

from django.utils import timezone

from associations.models import Association
from tests import factories as f


def hidden_associations(*, program, other_caisse) -> dict[str, Association]:
    """Each name below contains « Cachée » so a search finds them if visibility leaks."""
    pg = program.caisse_regionale
    year = timezone.localdate().year
    other_program = f.ProgramFactory(caisse_regionale=other_caisse)
    past_program = f.ProgramFactory(
        caisse_regionale=pg,
        year=year - 1,
        opens_on=datetime.date(year - 1, 1, 1),
        closes_on=datetime.date(year - 1, 12, 31),
    )
    closed_program = (
        f.ProgramFactory(
            caisse_regionale=pg,
            name="Programme clos",
            opens_on=datetime.date(year, 1, 1),
            closes_on=timezone.localdate() - datetime.timedelta(days=1),
        )
        if timezone.localdate() > datetime.date(year, 1, 1)
        else past_program
    )
    hidden = {
        "other_caisse": f.AssociationFactory(
            caisse_regionale=other_caisse, name="Cachée Toulousaine"
        ),
        "not_enrolled": f.AssociationFactory(caisse_regionale=pg, name="Cachée non enrôlée"),
        "past_year": f.AssociationFactory(caisse_regionale=pg, name="Cachée année passée"),
        "closed_program": f.AssociationFactory(caisse_regionale=pg, name="Cachée programme clos"),
        "submitted": f.AssociationFactory(
            caisse_regionale=pg, name="Cachée soumise", status=Association.Status.SUBMITTED
        ),
        "rejected": f.AssociationFactory(
            caisse_regionale=pg, name="Cachée refusée", status=Association.Status.REJECTED
        ),
        # A PG association enrolled in another regional bank's program: neither sees it.
        "enrolled_elsewhere": f.AssociationFactory(
            caisse_regionale=pg, name="Cachée enrôlée ailleurs"
        ),
    }
    f.EnrollmentFactory(association=hidden["other_caisse"], program=other_program)
    f.EnrollmentFactory(association=hidden["past_year"], program=past_program)
    f.EnrollmentFactory(association=hidden["closed_program"], program=closed_program)
    f.EnrollmentFactory(association=hidden["submitted"], program=program)
    f.EnrollmentFactory(association=hidden["rejected"], program=program)
    f.EnrollmentFactory(association=hidden["enrolled_elsewhere"], program=other_program)
    return hidden


def visible_associations(*, program, count: int, **kwargs) -> list[Association]:
    rows = [
        f.AssociationFactory(caisse_regionale=program.caisse_regionale, **kwargs)
        for _ in range(count)
    ]
    for association in rows:
        f.EnrollmentFactory(association=association, program=program)
    return rows
