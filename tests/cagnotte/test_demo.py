import datetime
import random

from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from associations.models import Activity
from cagnotte import demo
from cagnotte.models import LedgerEntry, MatchingOffer, PayoutStatement, Program, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent
from tookets.models import OutboxMessage
from tookets.periods import parse_period


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


def test_the_demo_lives_in_time(client, pg_caisse):
    """Entries dated when they would have happened (credits at the start of their month,
    gifts through the year, the sweep at the close, the payout after), append-only still,
    and the demo member's wallet telling the three campaigns apart."""
    today = timezone.localdate()
    year = today.year
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
    for _ in range(10):
        f.MemberFactory(caisse_regionale=pg_caisse)

    demo.seed(random.Random(1))
    demo.seed_history(random.Random(2))

    def day(entry):
        return timezone.localtime(entry.created_at).date()

    credits = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CREDIT)
    assert credits.exists()
    assert all(day(e) == parse_period(e.period) for e in credits)
    this_year_gifts = LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.GIFT, wallet__program__year=year
    )
    assert this_year_gifts.exists()
    first_day = min(datetime.date(year, 1, 10), today)
    for e in this_year_gifts:  # through the year, before this month's credits came in
        assert first_day <= day(e) <= max(first_day, today.replace(day=1))
        assert day(e) <= today
    for e in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).exclude(
        wallet__program__year=year
    ):
        assert day(e).year == e.wallet.program.year
    closed = datetime.date(year - 2, 12, 31) + datetime.timedelta(days=1)
    swept = LedgerEntry.objects.filter(kind__in=[LedgerEntry.Kind.SWEEP, LedgerEntry.Kind.RETURN])
    assert swept.exists() and {day(e) for e in swept} == {closed}
    paid = PayoutStatement.objects.filter(program__year=year - 2)
    assert paid.exists()
    assert all(s.status == "paid" and s.paid_at.date() > closed for s in paid)
    assert set(Program.objects.filter(year=year - 2).values_list("swept_at__date", flat=True)) == {
        closed
    }
    assert_ledger_consistent()

    jeanne = User.objects.get(account_number=demo.DEMO_ACCOUNT, caisse_regionale=pg_caisse)
    client.force_login(jeanne)
    html = client.get(reverse("cagnotte:wallet")).content.decode()
    assert f"ouverte jusqu’au 31/12/{year}" in html
    assert f"{year - 1} : campagne close" in html
    assert "votre association favorite, lors du soldage" in html
    assert 'data-campaign-state="paid"' in html
    figures = html[html.index("RÉCOLTÉ CE MOIS CI") : html.index("RESTE À DISTRIBUER")]
    assert figures.count("<li>") == 1  # the open campaign only
    # Not every row of the history is dated today.
    assert today.strftime("%d/%m/%Y") not in html.split("Historique des mouvements")[1][:2000] or (
        today.day == 1
    )
