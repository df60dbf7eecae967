"""Issue 11's « done when » in Debian's Chromium: the demo member downloads their data, then
closes their account giving the balance to their favourite; they can no longer log in, their
name is gone from the admin and ``check_ledger`` passes."""

import io
import json
import re
import zipfile

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.demo import DEMO_MEMBER
from accounts.models import User
from cagnotte.models import Favourite, LedgerEntry, Wallet
from tests import factories as f
from tests.browser.test_done_when_registration import (
    enter_demo_code,
    log_in_with_keypad,
    new_device,
)
from tests.cagnotte.helpers import credit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

STAFF_PASSWORD = "staff-password"  # StaffFactory's


@pytest.fixture
def demo_member(pg_caisse, program, association):
    """As in the demo: Jeanne Dupont, 110 K left, « Les Amis du Gers » as her favourite."""
    account, name = DEMO_MEMBER[0], "Jeanne Dupont"
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        account_number=account,
        name=name,
        email="jeanne.dupont@example.test",
    )
    user = f.MemberFactory(
        caisse_regionale=pg_caisse,
        account_number=account,
        username=f"pyrenees-gascogne:{account}",
        display_name=name,
    )
    credit(user, program, 410, period="2026-01", reference=f"demo-pg-{account}-2026-01")
    Favourite.objects.create(member=user, association=association)
    return user


def test_demo_member_downloads_data_then_closes_giving_to_the_favourite(
    page, live_server, demo_member, association, program, staff_pg, page_checks
):
    log_in_with_keypad(page, caisse_name="Pyrénées Gascogne", account_number=DEMO_MEMBER[0])
    expect(page.locator("h1")).to_have_text("MA CAGNOTTE DE TOOKETS")

    page.get_by_role("link", name="Paramètres").click()
    expect(page.locator("h1")).to_have_text("Paramètres")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger mes données").click()
    download = download_info.value
    assert download.suggested_filename == "tookets-mes-donnees.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    data = json.loads(archive.read("donnees.json"))
    assert data["identite"]["nom"] == "Jeanne Dupont"
    assert [(m["type"], m["montant_k"]) for m in data["mouvements"]] == [("credit", 410)]
    assert "410" in archive.read("mouvements.csv").decode()

    page.get_by_role("link", name="Clôturer mon compte Tookets").click()
    expect(page.get_by_text(f"{program.label} : 410\u00a0K")).to_be_visible()
    page.get_by_label("Les donner maintenant à mon association favorite, Les Amis du Gers").check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("group", name="Code personnel")).to_be_visible()
    enter_demo_code(page)
    expect(
        page.get_by_text(
            f"410\u00a0K du programme {program.label} seront donnés à Les Amis du Gers."
        )
    ).to_be_visible()
    page.get_by_label("Je confirme la clôture définitive de mon compte Tookets").check()
    page.get_by_role("button", name="CLÔTURER MON COMPTE").click()
    expect(page.locator("h1")).to_have_text("Compte clôturé")
    expect(page.get_by_role("link", name="Se connecter")).to_be_visible()  # logged out

    sweep = LedgerEntry.objects.get(kind="sweep")
    assert (sweep.amount, sweep.association_id) == (-410, association.pk)
    assert Wallet.objects.get(pk=sweep.wallet_id).balance == 0

    # They can no longer log in, and are told why.
    log_in_with_keypad(page, caisse_name="Pyrénées Gascogne", account_number=DEMO_MEMBER[0])
    expect(page.get_by_role("alert")).to_contain_text(
        "Votre compte Tookets a été clôturé : vous ne pouvez plus vous y connecter."
    )

    # Their name is gone from the admin; staff of their bank see the closure.
    staff_pg.set_password(STAFF_PASSWORD)
    staff_pg.save(update_fields=["password"])
    staff_pg.groups.add(Group.objects.get(name="Service Tookets"))
    staff = new_device(page, live_server, page_checks)
    staff.goto("/admin/accounts/user/?cloture=oui")
    staff.get_by_label("Nom d’utilisateur").fill(staff_pg.username)
    staff.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Connexion").click()
    expect(staff).to_have_url(re.compile(r"/admin/accounts/user/\?cloture=oui"))
    expect(staff.locator("#result_list")).to_contain_text(f"cloture-{demo_member.pk}")
    expect(staff.locator("#result_list")).not_to_contain_text("Jeanne Dupont")
    staff.goto("/admin/accounts/user/?q=Dupont")
    expect(staff.locator("#content")).not_to_contain_text("Jeanne")
    staff.context.close()

    user = User.objects.get(pk=demo_member.pk)
    assert user.closed_at is not None and user.display_name == "" and user.account_number is None
    call_command("check_ledger")  # exits 1 (SystemExit) when a rule breaks
