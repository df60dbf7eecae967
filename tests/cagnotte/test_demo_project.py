"""The demo's project: accepted with its history, a few members' gifts counted for it through
the real gift, nobody emailed, Jeanne's guide figures untouched, nothing added by a rerun."""

import datetime
import random

from django.urls import reverse
from django.utils import timezone

from associations.models import Project
from cagnotte import demo
from cagnotte.figures import progress_of, with_progress
from cagnotte.models import LedgerEntry, ProjectGift, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent
from tookets.models import OutboxMessage


def test_the_demo_shows_a_project_with_its_progress(client, pg_caisse):
    year = timezone.localdate().year
    program = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code=f"carte-societaire-gers-{year}",
        opens_on=datetime.date(year, 1, 1),
        closes_on=datetime.date(year, 12, 31),
    )
    for name in ("Chorale d’Auch", "Amicale de Vic", "Banda de Condom"):
        f.EnrollmentFactory(
            association=f.AssociationFactory(caisse_regionale=pg_caisse, name=name),
            program=program,
        )
    f.StaffFactory(caisse_regionale=pg_caisse, username="staff-pg")
    for _ in range(6):
        f.MemberFactory(caisse_regionale=pg_caisse)

    summary = demo.seed(random.Random(1))
    project = with_progress(Project.objects.select_related("association")).get()
    assert project.association.name == "Amicale de Vic"  # first by name
    assert project.status == Project.Status.ACCEPTED and project.ends_on == program.closes_on
    assert [(e.event, e.to_status) for e in project.history.order_by("id")] == [
        ("submitted", "submitted"),
        ("accepted", "accepted"),
    ]
    gifts = ProjectGift.objects.filter(project=project).select_related("entry__wallet__member")
    assert len(gifts) == 6 and "dont 6 pour le projet de démonstration" in summary
    progress = progress_of(project)
    assert 0 < progress.raised == sum(g.amount for g in gifts) < progress.goal
    assert all(g.entry.kind == LedgerEntry.Kind.GIFT for g in gifts)
    assert all(g.entry.wallet.member.account_number != demo.DEMO_ACCOUNT for g in gifts)
    jeanne = Wallet.objects.get(member__account_number=demo.DEMO_ACCOUNT, program=program)
    assert jeanne.balance == demo.DEMO_LEFT
    assert not OutboxMessage.objects.exists()  # no receipt, no workflow email

    again = demo.seed(random.Random(1))
    assert "dont 0 pour le projet de démonstration" in again
    assert Project.objects.count() == 1 and ProjectGift.objects.count() == 6
    assert_ledger_consistent()

    # What a member sees: the bar on the association's card.
    client.force_login(jeanne.member)
    page = client.get(reverse("associations:card", args=[project.association_id]))
    assert f'<progress max="{progress.goal}" value="{progress.raised}"' in page.content.decode()
