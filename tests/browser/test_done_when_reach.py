"""Issue 21's « done when », told once through the real pages in Debian's Chromium, on the
demo data (``manage.py seed_demo``, small: its banks, people, associations, campaigns and
matching offer).

The association of the README (« Association Sportive Gersoise », validated and enrolled as
issue 5's « done when » leaves it) logs in with the keypad and registers a project in its
space, staff of its bank accept it in the admin, the demo member (Jeanne Dupont) gives 100 K
to it and sees the bar move on the directory's card and on the project's
page; the association writes a thank-you, staff accept it, the member finds it in « Messages
de vos associations » and the email outbox holds it once; the poster's QR code reads as the
association's page; once the campaign has closed, been swept (the operator's command) and
paid (staff mark the statement sent, then paid, in the admin), the certificate's code opens
the public verification page with the same figures, euros paid included, as the
association's space and the certificate's PDF.

Each person has a browser context of their own (their own cookies), as on their own device;
every page passes axe and the Nu Html Checker (``tests/browser/checks.py``). Celery tasks run
in-process and the live server sends mail through Django's locmem backend, so the thank-you
lands in ``mail.outbox``.
"""

import datetime
import io
import re
from urllib.parse import urlencode

import pypdfium2
import pytest
import zxingcpp
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.demo import (
    DEMO_ASSOCIATION_ACCOUNT,
    DEMO_ASSOCIATION_NAME,
    DEMO_MEMBER,
    STAFF_PASSWORD,
)
from accounts.models import BankCustomer, User
from associations.filters import SEARCH
from associations.models import Activity, Association, Project, ThankYou
from cagnotte.models import PayoutStatement, Program
from tests import factories as f
from tests.browser.test_done_when_registration import (
    expect_admin_success,
    log_in_with_keypad,
    new_device,
    shot,
)
from tookets.money import euros

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TITLE = "Un minibus pour les sorties"
MESSAGE = "Merci ! Grâce à vous, le minibus emmènera les anciens au marché dès le printemps."


@pytest.fixture(autouse=True)
def close_connections_opened_beside_playwright(page):
    yield
    connections.close_all()


def pdf_of(download) -> pypdfium2.PdfDocument:
    with open(download.path(), "rb") as body:
        return pypdfium2.PdfDocument(body.read())


def pdf_text(document) -> str:
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def plain(text: str) -> str:
    """A figure as the PDF's Latin-1 font writes it: plain spaces (no thin or no-break one),
    « euros » for « € »."""
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("€", "euros")
    return " ".join(text.split())


@pytest.fixture
def demo(pg_caisse):
    """The demo data (``manage.py seed_demo``), small: its people, banks, associations, this
    year's campaigns (and their matching offer), last years' history."""
    call_command("seed_demo", members=30, associations=10, stdout=io.StringIO())


@pytest.fixture
def jeanne(demo, pg_caisse):
    """The README's demo member (« 110 K left » to give, a favourite)."""
    return User.objects.get(caisse_regionale=pg_caisse, account_number=DEMO_MEMBER[0])


@pytest.fixture
def program(jeanne):
    """This year's campaign of her bank: the one she gives in."""
    return Program.objects.open_on().get(wallets__member=jeanne)


@pytest.fixture
def demo_staff(demo, pg_caisse):
    return User.objects.get(username="staff-pg", caisse_regionale=pg_caisse)


@pytest.fixture
def readme_association(demo, pg_caisse, program):
    """The README's demo association as its registration leaves it (issue 5's « done when »):
    validated, enrolled in this year's program, its account the one its president (a demo
    bank customer) logs in to."""
    customer = BankCustomer.objects.get(
        caisse_regionale=pg_caisse, account_number=DEMO_ASSOCIATION_ACCOUNT
    )
    account = f.UserFactory(
        kind="association",
        caisse_regionale=pg_caisse,
        account_number=DEMO_ASSOCIATION_ACCOUNT,
        username=f"{pg_caisse.code}:{DEMO_ASSOCIATION_ACCOUNT}",
        display_name=DEMO_ASSOCIATION_NAME,
    )
    association = f.AssociationFactory(
        caisse_regionale=pg_caisse,
        caisse_locale_id=customer.caisse_locale_id,
        account_number=DEMO_ASSOCIATION_ACCOUNT,
        name=DEMO_ASSOCIATION_NAME,
        presentation="Club omnisports des jeunes du Gers depuis 1950.",
        activity=Activity.objects.get(code="sport"),
        status=Association.Status.VALIDATED,
        user=account,
    )
    f.EnrollmentFactory(association=association, program=program)
    return association


def test_project_gift_thank_you_poster_and_certificate(
    page,
    page_checks,
    live_server,
    settings,
    tmp_path,
    pg_caisse,
    readme_association,
    program,
    jeanne,
    demo_staff,
):
    settings.MEDIA_ROOT = tmp_path
    settings.MAP_TILES_URL = live_server.url + "/no-tiles/{z}/{x}/{y}.png"
    association, member = readme_association, jeanne

    # --- 1. The association registers a project in its space --------------------------------
    president = page
    log_in_with_keypad(
        president, caisse_name="Pyrénées Gascogne", account_number=DEMO_ASSOCIATION_ACCOUNT
    )
    expect(president).to_have_url(re.compile(r"/association/espace/$"))
    president.get_by_role("link", name="Nos projets").click()
    president.get_by_role("link", name="Proposer un projet").click()
    president.get_by_label("Titre du projet").fill(TITLE)
    president.get_by_label("Description").fill("Nous emmenons les anciens au marché.")
    president.get_by_label("Objectif (en Tookets, 100 K = 1 €)").fill("1000")
    president.get_by_label("Date de fin").fill(program.closes_on.isoformat())
    president.get_by_role("button", name="Envoyer à la Caisse régionale").click()
    project_panel = president.locator("article.project")
    expect(project_panel.locator(".status-text")).to_contain_text("En cours de vérification")

    # --- 2. Staff of its bank accept it in the admin ----------------------------------------
    staff = new_device(page, live_server, page_checks)
    staff.goto("/admin/")
    staff.get_by_label("Nom d’utilisateur").fill(demo_staff.username)
    staff.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Connexion").click()
    staff.goto(reverse("admin:associations_project_changelist"))
    staff.get_by_role("link", name=TITLE).click()
    staff.get_by_role("link", name="Accepter le projet").click()
    expect(staff.locator("h1")).to_have_text("Accepter le projet")
    staff.get_by_role("button", name="Accepter", exact=True).click()
    expect_admin_success(staff, "Accepter le projet : 1 projet(s) traité(s).")
    project = Project.objects.get(title=TITLE)
    assert project.status == Project.Status.ACCEPTED
    president.reload()
    expect(project_panel.locator(".status-text")).to_contain_text("Accepté")

    # --- 3. A member sees its bar on the card, gives 100 K to it and sees the bar move -------
    # The demo's directory holds hundreds of associations: she looks this one up by its name.
    directory = f"{reverse('associations:directory')}?{urlencode({SEARCH: association.name})}"
    supporter = new_device(page, live_server, page_checks)
    log_in_with_keypad(supporter, caisse_name="Pyrénées Gascogne", account_number=DEMO_MEMBER[0])
    expect(supporter).to_have_url(re.compile(r"/cagnotte/$"))
    supporter.goto(directory)
    card = supporter.locator(f"#association-{association.pk}")
    bar = card.get_by_role("progressbar", name=TITLE)
    expect(bar).to_have_attribute("value", "0")
    expect(card.locator(".project-figures")).to_have_text(
        "0\u00a0K sur 1\u202f000\u00a0K — 0\u00a0%"
    )
    card.get_by_role("link", name=association.name).click()
    supporter.get_by_role("link", name="J’aide ce projet").click()
    expect(supporter.locator(".give-project")).to_contain_text(f"Pour le projet « {TITLE} »")
    supporter.get_by_label(f"Montant du don pour le programme {program.name}").fill("100")
    supporter.get_by_role("button", name="VALIDER LA DEMANDE").click()
    supporter.wait_for_url("**/donner/recu/*/")
    supporter.goto(directory)
    expect(bar).to_have_attribute("value", "100")
    expect(card.locator(".project-figures")).to_have_text(
        "100\u00a0K sur 1\u202f000\u00a0K — 10\u00a0%"
    )
    shot(supporter, "reach-1-card")
    supporter.goto(reverse("associations:project", args=[association.pk, project.pk]))
    expect(supporter.get_by_role("progressbar", name=TITLE)).to_have_attribute("value", "100")
    expect(supporter.locator(f"#project-{project.pk}-figures")).to_have_text(
        "100\u00a0K sur 1\u202f000\u00a0K — 10\u00a0%"
    )

    # --- 4. The association thanks its supporters; staff accept; the member reads it once ----
    president.goto(reverse("associations:space"))
    president.get_by_role("link", name="Remercier vos soutiens").click()
    president.get_by_label("Votre message à vos soutiens").fill(MESSAGE)
    president.get_by_role("button", name="Envoyer à la Caisse régionale").click()
    expect(president.locator("article[data-thank-you]")).to_contain_text("En cours de vérification")
    thank_you = ThankYou.objects.get()

    staff.goto(reverse("admin:associations_thankyou_change", args=[thank_you.pk]))
    staff.get_by_role("link", name="Accepter et envoyer le message").click()
    staff.get_by_role("button", name="Accepter", exact=True).click()
    expect_admin_success(staff, "Accepter et envoyer le message : 1 message(s) traité(s).")
    # Back on the message's page: its history, the association's writing then the decision.
    history = staff.locator(".field-thank_you_history table")
    expect(history.locator("tr[data-event]")).to_have_count(2)
    expect(history.locator('tr[data-event="accepted"]')).to_contain_text(
        "Accepté et envoyé aux soutiens"
    )

    subject = f"Tookets — un message de {association.name}"
    sent = [m for m in mail.outbox if m.subject == subject]
    member.refresh_from_db()  # the login took the address from the bank's feed
    assert [m.to for m in sent] == [[member.email]]
    assert MESSAGE in sent[0].body
    assert django_settings.SITE_URL.rstrip("/") + reverse("associations:messages") in sent[0].body
    supporter.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Messages de vos associations"
    ).click()
    expect(supporter.locator("h1")).to_have_text("Messages de vos associations")
    message = supporter.locator("article[data-thank-you]")
    expect(message).to_have_count(1)
    expect(message.locator("h2")).to_have_text(association.name)
    expect(message.locator("blockquote")).to_have_text(MESSAGE)
    shot(supporter, "reach-2-messages")
    president.reload()
    expect(president.locator("article[data-thank-you]")).to_contain_text("envoyé à 1 sociétaire(s)")
    # Accepted once, delivered once: the outbox holds it once.
    assert len([m for m in mail.outbox if m.subject == subject]) == 1

    # --- 5. The poster's QR code reads as the association's page ----------------------------
    president.goto(reverse("associations:space"))
    with president.expect_download() as poster:
        president.get_by_role("link", name="Télécharger l’affiche (PDF)").click()
    document = pdf_of(poster.value)
    try:
        image = document[0].render(scale=150 / 72).to_pil()
    finally:
        document.close()
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    page_url = django_settings.SITE_URL.rstrip("/") + reverse(
        "associations:detail", args=[association.pk]
    )
    assert [code.text for code in found] == [page_url]

    # --- 6. The campaign closes, is swept and paid; the certificate's code, the same figures -
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Program.objects.filter(pk=program.pk).update(
        opens_on=min(program.opens_on, yesterday - datetime.timedelta(days=1)),
        closes_on=yesterday,
    )
    # The operator's sweep (beat runs the same): balances settled, the payout statement made.
    call_command(
        "sweep_campaign", program=program.code, caisse=pg_caisse.code, stdout=io.StringIO()
    )
    statement = PayoutStatement.objects.get(program=program)
    line = statement.lines.get(association=association)
    # Her 100 K, and what the demo's matching offer for sports clubs adds (100 K = 1 €).
    assert line.gifts_k == 100 and line.amount_cents == line.total_k == 100 + line.matched_k
    paid = euros(line.amount_cents)
    # Staff send the transfer, then see it paid: two actions on the statement in the admin.
    staff.goto(reverse("admin:cagnotte_payoutstatement_changelist"))
    for action, done in [
        ("Marquer comme envoyé à la banque", "envoyé"),
        ("Marquer comme payé", "payé"),
    ]:
        staff.locator(f'input[name="_selected_action"][value="{statement.pk}"]').check()
        staff.locator('select[name="action"]').select_option(label=action)
        staff.locator('button[name="index"]').click()
        expect(staff.locator(".messagelist .success")).to_have_text(f"{statement} : {done}")
    statement.refresh_from_db()
    assert statement.status == PayoutStatement.Status.PAID

    president.goto(reverse("associations:space"))
    president.get_by_role("link", name="Attestations de soutien des campagnes terminées").click()
    campaign = president.locator(f'article[data-program="{program.pk}"]')
    space_figures = campaign.locator("p").first.inner_text()
    assert space_figures == f"Soutiens distincts : 1 — 100\u00a0K — versé : {paid}", space_figures
    with president.expect_download() as certificate:
        campaign.get_by_role("link", name="Télécharger l’attestation (PDF)").click()
    document = pdf_of(certificate.value)
    try:
        text = pdf_text(document)
    finally:
        document.close()
    code = re.search(r"Code de vérification : ([0-9A-Z-]{19})", text)[1]
    in_pdf = {
        name: plain(re.search(rf"{label} : ([^\r\n]+)", text)[1])
        for name, label in [
            ("supporters", "Soutiens distincts"),
            ("received", "Tookets reçus"),
            ("paid", "Versé par la Caisse régionale"),
        ]
    }

    town_hall = new_device(page, live_server, page_checks)  # not logged in
    town_hall.goto(reverse("associations:certificate_verify"))
    town_hall.get_by_label("Code de vérification").fill(code)
    town_hall.get_by_role("button", name="Vérifier").click()
    expect(town_hall.locator("h1")).to_have_text("Attestation de soutien")
    expect(town_hall.locator(".lead")).to_contain_text(code)
    shown = {
        name: town_hall.locator(f'[data-figure="{name}"]').inner_text()
        for name in ("supporters", "received", "paid")
    }
    # The space, the PDF and the public page: the same figures, euros paid not zero.
    assert space_figures == (
        f"Soutiens distincts : {shown['supporters']} — {shown['received']} — "
        f"versé : {shown['paid']}"
    )
    assert in_pdf == {name: plain(value) for name, value in shown.items()}
    assert shown == {"supporters": "1", "received": "100\u00a0K", "paid": paid}
    shot(town_hall, "reach-3-certificate")
    page_text = town_hall.locator("main").inner_text()
    assert member.display_name not in page_text and member.email not in page_text
