import datetime
import random

from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from associations.models import Activity
from cagnotte import demo
from cagnotte.models import LedgerEntry, MatchingOffer, Program, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent
from tookets.models import OutboxMessage


def test_demo_member_sees_410_k_this_month_and_can_give(client, pg_caisse):
    year = timezone.localdate().year
    # As the associations demo would leave it: the program and enrolled associations.
    program = f.ProgramFactory(
        caisse_regionale=pg_caisse,
        code=f"carte-societaire-gers-{year}",
        opens_on=datetime.date(year, 1, 1),
        closes_on=datetime.date(year, 12, 31),
    )
    for _ in range(3):
        f.EnrollmentFactory(
            association=f.AssociationFactory(caisse_regionale=pg_caisse), program=program
        )
    others = [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(10)]

    summary = demo.seed(random.Random(1))
    again = demo.seed(random.Random(1))
    # The demo's gifts are its history: they email nobody.
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).exists()
    assert not OutboxMessage.objects.filter(task="accounts.tasks.send_gift_receipt").exists()

    assert "crédits importés" in summary and " 0 crédits importés" in again
    jeanne = User.objects.get(account_number=demo.DEMO_ACCOUNT, caisse_regionale=pg_caisse)
    assert jeanne.display_name == "Jeanne Dupont" and jeanne.is_member
    assert Program.objects.filter(year=year).count() == 20  # one per regional bank
    wallet = Wallet.objects.get(member=jeanne, program=program)
    assert wallet.balance == demo.DEMO_LEFT
    assert Wallet.objects.filter(member__in=others).count() == 10
    client.force_login(jeanne)
    html = client.get(reverse("cagnotte:wallet")).content.decode()
    assert 'data-figure="collected">410\u00a0K<' in html
    assert 'data-figure="balance">110\u00a0K<' in html
    assert_ledger_consistent()


def test_demo_offer_doubles_sports_gifts_in_pyrenees_gascogne(pg_caisse):
    year = timezone.localdate().year
    program = f.ProgramFactory(caisse_regionale=pg_caisse, code=f"carte-societaire-gers-{year}")
    sport = f.AssociationFactory(
        caisse_regionale=pg_caisse, activity=Activity.objects.get(code="sport")
    )
    f.EnrollmentFactory(association=sport, program=program)
    demo.seed(random.Random(1))
    demo.seed(random.Random(1))
    offer = MatchingOffer.objects.get()
    assert (offer.program, offer.budget, offer.ratio_matched, offer.ratio_given) == (
        program,
        50_000,
        1,
        1,
    )
    assert offer.ends_on == program.closes_on
    assert list(offer.activities.values_list("code", flat=True)) == ["sport"]
    assert offer.events.filter(event="created").count() == 1
    # Jeanne's demo gifts went to the one association: matched one for one.
    jeanne = User.objects.get(account_number=demo.DEMO_ACCOUNT, caisse_regionale=pg_caisse)
    gifts = -sum(
        LedgerEntry.objects.filter(kind="gift", wallet__member=jeanne).values_list(
            "amount", flat=True
        )
    )
    assert gifts > 0
    assert offer.spent >= gifts  # others' gifts to it are matched too
    assert_ledger_consistent()
