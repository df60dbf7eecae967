"""Account closure: the pages (choices, code on the keypad, last confirmation) and the service."""

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import emails, services
from accounts.models import User
from accounts.remember import COOKIE_NAME
from cagnotte.models import AssociationTotals, Favourite, LedgerEntry, Wallet
from cagnotte.services import NotEligible
from tests import factories as f
from tests.accounts.helpers import layout_shown, login_with_code, positions_for
from tests.cagnotte.helpers import assert_ledger_consistent, credit

START = reverse("accounts:closure")
CODE = reverse("accounts:closure_code")
CONFIRM = reverse("accounts:closure_confirm")
ACCOUNT = "98652706859"


@pytest.fixture
def wallet(jeanne_member, program):
    credit(jeanne_member, program, 300, period="2026-01", reference=f"bank-{ACCOUNT}-2026-01")
    return Wallet.objects.get(member=jeanne_member, program=program)


def enter_code(client, code="123456"):
    shown = client.get(CODE)
    assert shown.status_code == 200
    return client.post(CODE, {"positions": positions_for(code, layout_shown(shown))})


def close_through_pages(client, choices, code="123456"):
    chosen = client.post(START, {f"wallet_{pk}": value for pk, value in choices.items()})
    assert chosen.status_code == 302 and chosen["Location"] == CODE, chosen.content.decode()
    typed = enter_code(client, code)
    assert typed.status_code == 302 and typed["Location"] == CONFIRM
    return client.post(CONFIRM, {"confirm": "yes"})


def test_closure_page_explains_and_offers_the_favourite_when_it_can_receive(
    jeanne_client, wallet, association
):
    Favourite.objects.create(member=wallet.member, association=association)
    html = jeanne_client.get(START).content.decode()
    assert "Vous ne pourrez plus vous connecter à Tookets." in html
    assert "Vos mouvements sont conservés sans votre nom" in html
    assert f"Carte Sociétaire - GERS {wallet.program.year} : 300\u00a0K" in html
    assert "Les donner maintenant à mon association favorite, Les Amis du Gers" in html
    assert "Les rendre à ma Caisse régionale" in html


def test_closure_gives_the_balance_to_the_favourite(
    jeanne_client, jeanne_member, wallet, association, django_capture_on_commit_callbacks
):
    Favourite.objects.create(member=jeanne_member, association=association)
    other_device = Client()
    other_device.force_login(jeanne_member)
    entries_before = LedgerEntry.objects.count()

    response = close_through_pages(jeanne_client, {wallet.pk: "favourite"})

    assert response.status_code == 302 and response["Location"] == reverse("accounts:closed")
    assert response.cookies[COOKIE_NAME].value == ""  # the remembered identifier is forgotten
    sweep = LedgerEntry.objects.get(reference=f"settle:{wallet.pk}")
    assert (sweep.kind, sweep.amount, sweep.association_id) == ("sweep", -300, association.pk)
    assert sweep.memo == "clôture du compte"
    wallet.refresh_from_db()
    assert wallet.balance == 0
    assert AssociationTotals.objects.get(association=association).received_total == 300
    assert LedgerEntry.objects.count() == entries_before + 1  # the rows stay
    assert_ledger_consistent()

    user = User.objects.get(pk=jeanne_member.pk)
    assert user.closed_at is not None and user.closed_by_id == user.pk
    assert (user.display_name, user.email, user.first_name, user.last_name) == ("", "", "", "")
    assert user.account_number is None and ACCOUNT not in user.username
    assert user.closed_identifier and not user.is_active and not user.has_usable_password()
    assert not Favourite.objects.filter(member=user).exists()
    # The ledger rows stay, without their author (the member's own entries) and every amount
    # as it was.
    assert not LedgerEntry.objects.filter(created_by=user).exists()
    assert sorted(LedgerEntry.objects.values_list("kind", "amount")) == [
        ("credit", 300),
        ("sweep", -300),
    ]
    # Every session is gone, this one and the other device's.
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id")]
    assert other_device.get(reverse("cagnotte:wallet")).status_code == 302
    page = jeanne_client.get(reverse("accounts:closed"))
    assert "Votre compte Tookets est clôturé." in page.content.decode()


def test_closure_without_favourite_returns_to_the_bank(jeanne_client, jeanne_member, wallet):
    html = jeanne_client.get(START).content.decode()
    assert "Les donner maintenant" not in html
    assert "Vous n’avez pas d’association favorite qui puisse recevoir" in html
    close_through_pages(jeanne_client, {wallet.pk: "return"})
    entry = LedgerEntry.objects.get(reference=f"settle:{wallet.pk}")
    assert (entry.kind, entry.amount, entry.association_id) == ("return", -300, None)
    assert User.objects.get(pk=jeanne_member.pk).closed_at is not None
    assert_ledger_consistent()


def test_favourite_that_cannot_receive_is_not_offered_and_refused(
    jeanne_client, jeanne_member, wallet, pg_caisse
):
    not_enrolled = f.AssociationFactory(caisse_regionale=pg_caisse, name="Club Ailleurs")
    Favourite.objects.create(member=jeanne_member, association=not_enrolled)
    html = jeanne_client.get(START).content.decode()
    assert "Les donner maintenant" not in html
    posted = jeanne_client.post(START, {f"wallet_{wallet.pk}": "favourite"})
    assert posted.status_code == 400
    assert "Choisissez ce que deviennent ces Tookets." in posted.content.decode()
    # The service refuses it too, and changes nothing at all.
    with pytest.raises(NotEligible):
        services.close_account(member=jeanne_member, choices={wallet.pk: "favourite"})
    wallet.refresh_from_db()
    assert wallet.balance == 300
    user = User.objects.get(pk=jeanne_member.pk)
    assert user.closed_at is None and user.display_name == "Jeanne Dupont"
    assert Favourite.objects.filter(member=user).exists()


def test_favourite_unenrolled_between_choice_and_confirmation(
    jeanne_client, jeanne_member, wallet, association
):
    Favourite.objects.create(member=jeanne_member, association=association)
    jeanne_client.post(START, {f"wallet_{wallet.pk}": "favourite"})
    enter_code(jeanne_client)
    association.enrollments.all().delete()
    response = jeanne_client.post(CONFIRM, {"confirm": "yes"}, follow=True)
    assert response.redirect_chain[-1][0] == START
    assert "ne peut plus recevoir ces Tookets" in response.content.decode()
    assert User.objects.get(pk=jeanne_member.pk).closed_at is None
    wallet.refresh_from_db()
    assert wallet.balance == 300


def test_closure_with_zero_balance(jeanne_client, jeanne_member, program):
    f.WalletFactory(member=jeanne_member, program=program)
    html = jeanne_client.get(START).content.decode()
    assert "Vous n’avez plus de Tookets à distribuer." in html
    close_through_pages(jeanne_client, {})
    assert not LedgerEntry.objects.exists()
    assert User.objects.get(pk=jeanne_member.pk).closed_at is not None
    assert_ledger_consistent()


def test_wrong_code_closes_nothing(jeanne_client, jeanne_member, wallet, settings):
    jeanne_client.post(START, {f"wallet_{wallet.pk}": "return"})
    typed = enter_code(jeanne_client, "654321")
    assert typed.status_code == 400
    assert "Code personnel incorrect." in typed.content.decode()
    # The confirmation is not reachable without the code.
    assert jeanne_client.post(CONFIRM, {"confirm": "yes"})["Location"] == CODE
    assert User.objects.get(pk=jeanne_member.pk).closed_at is None
    wallet.refresh_from_db()
    assert wallet.balance == 300
    # Wrong codes count as for the login: the identifier gets locked.
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        last = enter_code(jeanne_client, "654321")
    assert last.status_code == 429


def test_replayed_keypad_post_is_not_a_code(jeanne_client, jeanne_member, wallet):
    jeanne_client.post(START, {f"wallet_{wallet.pk}": "return"})
    shown = jeanne_client.get(CODE)
    positions = positions_for("123456", layout_shown(shown))
    assert jeanne_client.post(CODE, {"positions": positions}).status_code == 302
    # The layout was used: the same positions posted again decode to nothing.
    assert jeanne_client.post(CODE, {"positions": positions}).status_code == 400


def test_confirmation_needs_the_box_ticked(jeanne_client, jeanne_member, wallet):
    jeanne_client.post(START, {f"wallet_{wallet.pk}": "return"})
    enter_code(jeanne_client)
    page = jeanne_client.get(CONFIRM).content.decode()
    assert (
        f"300\u00a0K du programme Carte Sociétaire - GERS {wallet.program.year} retourneront "
        "à votre Caisse régionale." in page
    )
    response = jeanne_client.post(CONFIRM, {})
    assert response.status_code == 400
    assert "Cochez la case" in response.content.decode()
    assert User.objects.get(pk=jeanne_member.pk).closed_at is None


def test_steps_cannot_be_skipped(jeanne_client, wallet):
    assert jeanne_client.get(CODE)["Location"] == START
    assert jeanne_client.post(CONFIRM, {"confirm": "yes"})["Location"] == START


def test_replayed_closure_form_changes_nothing(jeanne_client, jeanne_member, wallet):
    close_through_pages(jeanne_client, {wallet.pk: "return"})
    entries = LedgerEntry.objects.count()
    again = jeanne_client.post(CONFIRM, {"confirm": "yes"})
    assert again.status_code == 302 and again["Location"].startswith(reverse("accounts:login"))
    with pytest.raises(services.AccountClosed):
        services.close_account(member=jeanne_member, choices={wallet.pk: "return"})
    assert LedgerEntry.objects.count() == entries
    assert_ledger_consistent()


def test_closed_account_cannot_log_in_and_gets_a_clear_message(
    client, jeanne, jeanne_member, wallet
):
    services.close_account(member=jeanne_member, choices={})
    users = User.objects.count()
    response = login_with_code(client)
    assert response.status_code == 403
    assert "Votre compte Tookets a été clôturé" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert User.objects.count() == users  # no fresh account for the same identifier


def test_closed_account_gets_no_email(jeanne_member, wallet, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    services.close_account(member=jeanne_member, choices={})
    assert emails.send_recap_emails(period="2026-01").sent == 0
    assert mail.outbox == []


def test_staff_see_closures_of_their_bank_only(
    client, jeanne_member, wallet, staff_pg, staff_other
):
    from django.contrib.auth.models import Group

    service = Group.objects.get(name="Service Tookets")
    staff_pg.groups.add(service)
    staff_other.groups.add(service)
    services.close_account(member=jeanne_member, choices={})
    changelist = reverse("admin:accounts_user_changelist") + "?cloture=oui"
    client.force_login(staff_pg)
    html = client.get(changelist).content.decode()
    assert f"cloture-{jeanne_member.pk}" in html
    assert "Jeanne Dupont" not in html
    change = client.get(reverse("admin:accounts_user_change", args=[jeanne_member.pk]))
    assert change.status_code == 200 and "Jeanne Dupont" not in change.content.decode()
    client.force_login(staff_other)
    assert f"cloture-{jeanne_member.pk}" not in client.get(changelist).content.decode()
    other = client.get(reverse("admin:accounts_user_change", args=[jeanne_member.pk]))
    assert other.status_code in (302, 404)


def test_association_accounts_are_told_to_contact_their_caisse(client, pg_caisse):
    association_user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    client.force_login(association_user)
    for url in (START, CODE, CONFIRM):
        response = client.get(url)
        assert response.status_code == 403
        assert "contactez le service Tookets de votre Caisse régionale" in (
            response.content.decode()
        )
    with pytest.raises(services.NotClosable):
        services.close_account(member=association_user, choices={})
    assert User.objects.get(pk=association_user.pk).closed_at is None


def test_closure_pages_need_a_login(client):
    for url in (START, CODE, CONFIRM):
        assert client.get(url)["Location"].startswith(reverse("accounts:login"))


def test_closure_blanks_a_memo_naming_the_member(jeanne_member, wallet, program, staff_pg):
    from cagnotte.services import credit_wallet

    credit_wallet(
        member=jeanne_member,
        program=program,
        amount=5,
        reference="adj-1",
        kind="adjustment",
        created_by=staff_pg,
        memo="Geste commercial pour Jeanne Dupont",
    )
    services.close_account(member=jeanne_member, choices={})
    adjustment = LedgerEntry.objects.get(reference="adj-1")
    assert (adjustment.memo, adjustment.amount, adjustment.created_by_id) == ("", 5, staff_pg.pk)
    assert_ledger_consistent()


def test_closure_pages_pin_their_queries(
    jeanne_client, jeanne_member, wallet, association, django_assert_max_num_queries
):
    Favourite.objects.create(member=jeanne_member, association=association)
    with django_assert_max_num_queries(8):
        assert jeanne_client.get(START).status_code == 200
    jeanne_client.post(START, {f"wallet_{wallet.pk}": "favourite"})
    with django_assert_max_num_queries(6):
        assert jeanne_client.get(CODE).status_code == 200


def test_another_members_wallet_cannot_be_chosen(jeanne_client, jeanne_member, wallet, program):
    other = f.MemberFactory(caisse_regionale=program.caisse_regionale)
    credit(other, program, 80)
    other_wallet = Wallet.objects.get(member=other)
    posted = jeanne_client.post(
        START, {f"wallet_{wallet.pk}": "return", f"wallet_{other_wallet.pk}": "return"}
    )
    assert posted.status_code == 302
    assert jeanne_client.session["closure:choices"] == {str(wallet.pk): "return"}
    enter_code(jeanne_client)
    jeanne_client.post(CONFIRM, {"confirm": "yes"})
    other_wallet.refresh_from_db()
    assert other_wallet.balance == 80
    assert User.objects.get(pk=other.pk).closed_at is None


@pytest.mark.parametrize("value", ["", "favourite", "elsewhere", "return\x00", "1"])
def test_hostile_choices_are_refused_in_french(jeanne_client, wallet, value):
    response = jeanne_client.post(START, {f"wallet_{wallet.pk}": value})
    assert response.status_code == 400
    # A NUL byte is refused before the view, by the site-wide guard (tookets.http).
    expected = "caractère nul" if "\x00" in value else "Choisissez ce que deviennent ces Tookets."
    assert expected in response.content.decode()


def test_closure_pages_name_each_campaign_with_its_year(jeanne_client, jeanne_member, wallet):
    """Two years of one program (last year's not swept yet): the pages name each with its year
    (``Program.label``), never the bare name a member could confuse."""
    program = wallet.program
    last_year = f.ProgramFactory(
        caisse_regionale=program.caisse_regionale,
        code="carte-societaire-gers-previous",
        name=program.name,
        year=program.year - 1,
    )
    credit(jeanne_member, last_year, 40, period=f"{last_year.year}-12", reference="bank-previous")
    assert str(program.year) not in program.name  # the bare name alone would not say the year

    html = jeanne_client.get(START).content.decode()
    assert f"Carte Sociétaire - GERS {program.year} : 300\u00a0K" in html
    assert f"Carte Sociétaire - GERS {last_year.year} : 40\u00a0K" in html
    assert "Carte Sociétaire - GERS :" not in html

    chosen = jeanne_client.post(
        START,
        {f"wallet_{w.pk}": "return" for w in Wallet.objects.filter(member=jeanne_member)},
    )
    assert chosen.status_code == 302
    enter_code(jeanne_client)
    page = jeanne_client.get(CONFIRM).content.decode()
    assert f"du programme Carte Sociétaire - GERS {program.year} retourneront" in page
    assert f"du programme Carte Sociétaire - GERS {last_year.year} retourneront" in page
    assert "du programme Carte Sociétaire - GERS retourneront" not in page
