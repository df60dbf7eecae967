"""Issue 5's « done when », told once through the real pages in Debian's Chromium.

A president registers the demo association, a staff member of Pyrénées Gascogne asks for a
correction in the admin, the president logs in again, fixes the name and resubmits, staff
validates and enrols it in this year's program, and the demo member finds it in the directory
by typing its name without accents; a member of another regional bank does not.

Each person has a browser context of their own (their own cookies), as on their own device.
Celery tasks run in-process and the live server sends mail through Django's locmem backend,
so every workflow email lands in ``mail.outbox``.
"""

import os
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.demo import (
    DEMO_ASSOCIATION_ACCOUNT,
    DEMO_ASSOCIATION_NAME,
    DEMO_CODE,
    DEMO_MEMBER,
    DEMO_PRESIDENT,
)
from accounts.models import BankCustomer
from associations.models import Activity, Association, Domain
from tests import factories as f

# serialized_rollback: the flush after a transactional test would drop the regional banks and
# activity lists loaded by data migrations; they are restored for the next test.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

STAFF_PASSWORD = "staff-password"  # StaffFactory's
OTHER_MEMBER_ACCOUNT = "13106000042"
ASSOCIATION_EMAIL = "asg@example.test"
CORRECTED_NAME = "Association Sportive Gersoise d’Éauze"
CORRECTION = (
    "Le nom doit être celui publié au Journal Officiel : Association Sportive Gersoise d’Éauze."
)


@pytest.fixture
def bank_directory(pg_caisse, other_caisse):
    """The bank's customer feed, as the demo data has it (README « Demo logins »)."""
    local = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, name="Auch Centre")
    president_account, first, last = DEMO_PRESIDENT
    president = f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        caisse_locale=local,
        account_number=president_account,
        name=f"{first} {last}",
    )
    association = f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        caisse_locale=local,
        account_number=DEMO_ASSOCIATION_ACCOUNT,
        kind=BankCustomer.Kind.ASSOCIATION,
        name=DEMO_ASSOCIATION_NAME,
        email=ASSOCIATION_EMAIL,
        address="2 rue du Stade",
        postal_code="32000",
        city="Auch",
        personal_code="",  # an association logs in with its manager's code
    )
    association.managers.add(president)
    member_account, first, last = DEMO_MEMBER
    f.BankCustomerFactory(
        caisse_regionale=pg_caisse,
        caisse_locale=local,
        account_number=member_account,
        name=f"{first} {last}",
    )
    f.BankCustomerFactory(
        caisse_regionale=other_caisse, account_number=OTHER_MEMBER_ACCOUNT, name="Paul Martin"
    )
    return local


@pytest.fixture
def other_caisse_directory(other_caisse):
    """Toulouse 31's own enrolled association: its members' directory is not empty."""
    program = f.ProgramFactory(caisse_regionale=other_caisse, code="carte-societaire-31")
    association = f.AssociationFactory(
        caisse_regionale=other_caisse, name="Club Sportif Toulousain"
    )
    f.EnrollmentFactory(association=association, program=program)
    return association


def shot(page, name):
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, f"done-when-{name}.png"), full_page=True)


def new_device(page, live_server, page_checks):
    """Another person's browser: same Chromium, cookies of its own, checked like the first."""
    context = page.context.browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    other = context.new_page()
    other.set_default_timeout(10_000)
    page_checks.watch(other)
    return other


def log_in_with_keypad(page, *, caisse_name, account_number):
    """« Se connecter »: regional bank, identifier, then the code on the shuffled keypad."""
    page.goto("/")
    page.get_by_role("link", name="Se connecter").first.click()
    page.get_by_label("Caisse").select_option(label=caisse_name)
    page.get_by_label("IDENTIFIANT", exact=True).fill(account_number)
    page.get_by_role("button", name="ENTRER MON CODE PERSONNEL").click()
    expect(page.get_by_role("group", name="Code personnel")).to_be_visible()
    enter_demo_code(page)


def enter_demo_code(page):
    """The demo code on the shuffled keypad (login and wizard share it), then VALIDER."""
    # The keys are in the page before keypad.js (deferred) listens to them: a click that
    # lands earlier is lost. The script announces the empty code once it is ready.
    status = page.locator("[data-keypad-status]")
    expect(status).to_have_text("Aucun chiffre saisi sur 6")
    for digit in DEMO_CODE:
        page.get_by_role("button", name=f"Chiffre {digit}", exact=True).click()
    expect(status).to_have_text("6 chiffres saisis sur 6 : vous pouvez valider")
    page.get_by_role("button", name="VALIDER").click()


def save_and_continue(page):
    page.get_by_role("button", name="Enregistrer et continuer").click()


def expect_admin_success(staff, text):
    expect(staff.locator(".messagelist .success")).to_have_text(text)


def subjects():
    return [m.subject for m in mail.outbox]


def test_president_registers_staff_corrects_validates_enrols_member_finds_it(
    page,
    page_checks,
    live_server,
    settings,
    pg_caisse,
    bank_directory,
    staff_pg,
    program,
    other_caisse_directory,
):
    # No tile server in tests: tiles 404 on the live server instead of reaching the Internet.
    settings.MAP_TILES_URL = live_server.url + "/no-tiles/{z}/{x}/{y}.png"
    staff_pg.set_password(STAFF_PASSWORD)
    staff_pg.save(update_fields=["password"])
    president_name = " ".join(DEMO_PRESIDENT[1:])

    # --- 1. The president registers the association -----------------------------------------
    president = page
    president.goto("/")
    president.get_by_role("link", name="Association ? Créez votre compte").first.click()
    expect(president.locator("h1")).to_have_text("Association ? Créez votre compte")
    president.get_by_role("link", name="J'ai un compte Crédit Agricole").click()
    president.get_by_label("Caisse régionale dont l’association est cliente").select_option(
        label="Pyrénées Gascogne"
    )
    president.get_by_label("Numéro de compte de l’association").fill(DEMO_ASSOCIATION_ACCOUNT)
    enter_demo_code(president)

    # Identity: pre-filled from the bank; the rest is typed.
    expect(president.get_by_role("heading", name="Étape 1 : Identité")).to_be_visible()
    expect(president.get_by_label("Nom de l’association")).to_have_value(DEMO_ASSOCIATION_NAME)
    expect(president.get_by_label("E-mail de contact")).to_have_value(ASSOCIATION_EMAIL)
    president.get_by_label("Numéro RNA").fill("W321000123")
    president.get_by_label("Date de parution au Journal Officiel").fill("2010-05-01")
    president.get_by_label("Président(e) / représentant(e) légal(e)").fill(president_name)
    save_and_continue(president)

    expect(president.get_by_role("heading", name="Étape 2 : Présentation")).to_be_visible()
    president.get_by_label("Présentation").fill(
        "Club omnisports des jeunes du Gers depuis 1950, ouvert à toutes et tous."
    )
    save_and_continue(president)

    expect(president.get_by_role("heading", name="Étape 3 : Activité et agence")).to_be_visible()
    sport = Activity.objects.get(code="sport")
    president.locator("#id_activity").select_option(label=sport.label)
    president.locator("#id_domain").select_option(label=Domain.objects.first().label)
    president.get_by_label("Caisse locale (votre agence)").select_option(label="Auch Centre")
    save_and_continue(president)

    # Address: the bank's address is there; a click on the map places the association.
    expect(president.get_by_role("heading", name="Étape 4 : Adresse et position")).to_be_visible()
    expect(president.locator("#id_address")).to_have_value("2 rue du Stade")
    # The map script puts the marker once Leaflet has loaded. A locator, not wait_for_function:
    # the page's CSP forbids the eval a string predicate needs when it has to poll.
    president.locator(".leaflet-marker-icon").wait_for()
    box = president.locator("#registration-map").bounding_box()
    president.mouse.click(box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2 + 10)
    expect(president.locator("#id_latitude")).not_to_have_value("")
    save_and_continue(president)

    # Review, declaration, submit.
    expect(president.get_by_role("heading", name="Récapitulatif")).to_be_visible()
    review = president.locator("dl.review").all_inner_texts()
    assert any("W321000123" in block for block in review), review
    assert any("Auch Centre" in block for block in review), review
    president.get_by_label("Je certifie être le représentant légal").check()
    shot(president, "1-review")
    president.get_by_role("button", name="Envoyer l’inscription").click()
    expect(president.locator(".messages")).to_contain_text("Votre inscription est envoyée.")
    expect(president.locator(".status-text")).to_have_text("En cours de vérification")
    assert subjects() == [
        f"Tookets — nous avons bien reçu l’inscription de {DEMO_ASSOCIATION_NAME}"
    ]
    president.get_by_role("button", name="Se déconnecter").click()
    expect(president.get_by_role("link", name="Se connecter").first).to_be_visible()

    # --- 2. Staff of Pyrénées Gascogne asks for a correction --------------------------------
    staff = new_device(page, live_server, page_checks)
    staff.goto("/admin/")
    expect(staff).to_have_url(re.compile(r"/admin/login/"))
    staff.get_by_label("Nom d’utilisateur").fill(staff_pg.username)
    staff.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Connexion").click()
    expect(staff.locator("#site-name")).to_have_text(
        "Tookets — service Tookets des caisses régionales"
    )
    staff.locator(".model-association").get_by_role("link", name="Associations").click()
    expect(staff.locator("#result_list")).to_contain_text("En cours de vérification")
    staff.get_by_role("link", name=DEMO_ASSOCIATION_NAME).click()
    expect(staff.locator("#id_name")).to_have_value(DEMO_ASSOCIATION_NAME)
    change_url = staff.url
    staff.get_by_role("link", name="Demander une correction").click()
    expect(staff.locator("h1")).to_have_text("Demander une correction")
    staff.get_by_label("Message à l’association").fill(CORRECTION)
    shot(staff, "2-correction")
    staff.get_by_role("button", name="Envoyer la demande de correction").click()
    expect_admin_success(staff, "Demander une correction : 1 association(s) traitée(s).")
    expect(staff.locator(".field-status")).to_contain_text("Correction demandée")

    correction_mail = mail.outbox[-1]
    assert correction_mail.subject == (
        f"Tookets — une correction est demandée pour {DEMO_ASSOCIATION_NAME}"
    )
    assert correction_mail.to == [ASSOCIATION_EMAIL]
    assert CORRECTION in correction_mail.body

    # --- 3. The president logs in again, fixes the name and resubmits -----------------------
    log_in_with_keypad(
        president, caisse_name="Pyrénées Gascogne", account_number=DEMO_ASSOCIATION_ACCOUNT
    )
    expect(president).to_have_url(re.compile(r"/association/espace/$"))
    expect(president.locator(".status-text")).to_have_text(f"Correction demandée : {CORRECTION}")
    shot(president, "3-correction-requested")
    president.get_by_role("link", name="Corriger et renvoyer le dossier").click()
    expect(president.get_by_role("note")).to_contain_text(f"Correction demandée : {CORRECTION}")
    president.get_by_role("link", name="Modifier l’identité").click()
    president.get_by_label("Nom de l’association").fill(CORRECTED_NAME)
    save_and_continue(president)
    for heading in ("Étape 2 : Présentation", "Étape 3 : Activité et agence"):
        expect(president.get_by_role("heading", name=heading)).to_be_visible()
        save_and_continue(president)
    expect(president.get_by_role("heading", name="Étape 4 : Adresse et position")).to_be_visible()
    expect(president.locator("#id_latitude")).not_to_have_value("")  # kept from the first time
    save_and_continue(president)
    expect(president.locator("dl.review").first).to_contain_text(CORRECTED_NAME)
    president.get_by_label("Je certifie être le représentant légal").check()
    president.get_by_role("button", name="Envoyer les corrections").click()
    expect(president.locator(".status-text")).to_have_text("En cours de vérification")
    expect(president.locator("h1")).to_have_text(CORRECTED_NAME)
    assert mail.outbox[-1].subject == (
        f"Tookets — nous avons bien reçu les corrections de {CORRECTED_NAME}"
    )

    # --- 4. Staff validates, then enrols it in this year's program --------------------------
    staff.goto(change_url)
    expect(staff.locator("#id_name")).to_have_value(CORRECTED_NAME)
    expect(staff.locator(".field-status")).to_contain_text("En cours de vérification")
    staff.get_by_role("link", name="Valider", exact=True).click()
    expect(staff.locator("h1")).to_have_text("Valider")
    staff.get_by_role("button", name="Valider").click()
    expect_admin_success(staff, "Valider : 1 association(s) traitée(s).")
    expect(staff.locator(".field-status")).to_contain_text("Validée")

    staff.get_by_role("link", name="Enrôler dans un programme").click()
    expect(staff.locator("h1")).to_have_text("Enrôler dans un programme")
    staff.get_by_label(str(program)).check()
    shot(staff, "4-enrol")
    staff.get_by_role("button", name="Enrôler").click()
    expect_admin_success(staff, "Enrôler dans un programme : 1 association(s) traitée(s).")
    expect(staff.locator(".field-program")).to_contain_text(program.name)
    assert subjects()[-2:] == [
        f"Tookets — l’inscription de {CORRECTED_NAME} est validée",
        f"Tookets — {CORRECTED_NAME} peut recevoir des Tookets",
    ]
    assert len(mail.outbox) == 5, subjects()

    president.reload()
    expect(president.locator(".status-text")).to_have_text("Visible")

    # --- 5. The demo member finds it; a member of another regional bank does not ------------
    member = new_device(page, live_server, page_checks)
    log_in_with_keypad(member, caisse_name="Pyrénées Gascogne", account_number=DEMO_MEMBER[0])
    expect(member).to_have_url(re.compile(r"/cagnotte/$"))
    member.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Distribuer les Tookets"
    ).click()
    expect(member.locator("p.lead")).to_have_text(
        "Distribuez vos TOOKETS à l’association retenue cette année par votre Caisse régionale."
    )
    # Typed as on a PC keyboard: no accents, a straight apostrophe for the name's « ’ ».
    member.get_by_placeholder("Taper le nom de l'association").fill("gersoise d'eauze")
    member.get_by_role("button", name="CHERCHER").click()
    expect(member.get_by_role("status")).to_have_text("1 association correspond à votre recherche.")
    expect(member.locator(".association-name")).to_have_text([CORRECTED_NAME])
    shot(member, "5-member-finds-it")
    member.get_by_role("link", name=CORRECTED_NAME).click()
    expect(member.get_by_role("link", name="J'AIDE L'ASSOCIATION")).to_be_visible()

    other = new_device(page, live_server, page_checks)
    log_in_with_keypad(other, caisse_name="Toulouse 31", account_number=OTHER_MEMBER_ACCOUNT)
    expect(other).to_have_url(re.compile(r"/cagnotte/$"))
    other.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Distribuer les Tookets"
    ).click()
    expect(other.locator(".association-name")).to_have_text(["Club Sportif Toulousain"])
    other.get_by_placeholder("Taper le nom de l'association").fill("gersoise d'eauze")
    other.get_by_role("button", name="CHERCHER").click()
    expect(other.locator(".association-name")).to_have_count(0)
    expect(other.locator(".empty")).to_have_text(
        "Aucune association ne correspond à votre recherche."
    )
    shot(other, "5-other-member-does-not")

    association = Association.objects.get(account_number=DEMO_ASSOCIATION_ACCOUNT)
    assert association.status == Association.Status.VALIDATED
    assert [(h.from_status, h.to_status) for h in association.history.order_by("id")] == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "correction_requested"),
        ("correction_requested", "submitted"),
        ("submitted", "validated"),
        ("validated", "validated"),
    ]
