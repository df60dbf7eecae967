"""The registration wizard: authentication, each step's validation, review and submission."""

import datetime
import html
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from accounts.models import BankCustomer
from associations.models import Activity, Association, Domain
from tests import factories as f

Status = Association.Status
AUTH_URL = reverse("associations:register_auth")
ASSO_ACCOUNT = "98652790001"
PRESIDENT_ACCOUNT = "98652700001"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def bank_association(pg_caisse):
    local = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, name="Auch")
    return f.bank_association(
        pg_caisse, local, account=ASSO_ACCOUNT, manager_account=PRESIDENT_ACCOUNT
    )


def positions_for(client, code):
    layout = client.session["keypad:register"]
    return "".join(str(layout.index(d)) for d in code)


def post_auth(client, caisse, account=ASSO_ACCOUNT, code=f.DEMO_CODE):
    client.get(AUTH_URL)
    return client.post(
        AUTH_URL,
        {"caisse": caisse.pk, "account_number": account, "positions": positions_for(client, code)},
    )


def step_url(slug):
    return reverse("associations:register_step", args=[slug])


def test_start_page_offers_the_bank_account_path(client, db):
    response = client.get(reverse("associations:register"))
    assert response.status_code == 200
    assert "ai un compte Crédit Agricole" in response.content.decode()
    assert AUTH_URL in response.content.decode()


def test_auth_page_shows_a_shuffled_keypad(client, db):
    response = client.get(AUTH_URL)
    assert response.status_code == 200
    layout = client.session["keypad:register"]
    assert sorted(layout) == list("0123456789")
    html = response.content.decode()
    # The login page's keypad and script, not a copy of them.
    assert html.count('class="keypad-key" data-position=') == 10
    assert "js/keypad.js" in html and "registration_keypad" not in html


def test_authentication_creates_a_prefilled_draft_and_logs_the_association_in(
    client, pg_caisse, bank_association
):
    response = post_auth(client, pg_caisse)
    assert response.status_code == 302
    assert response.url == step_url("identite")
    association = Association.objects.get()
    assert association.status == Status.DRAFT
    assert association.name == "Association Sportive Gersoise"
    assert (association.address, association.city, association.email) == (
        "2 rue du Stade",
        "Auch",
        "asg@example.test",
    )
    assert association.caisse_locale == bank_association.caisse_locale
    page = client.get(step_url("identite"))
    assert page.status_code == 200
    assert "Association Sportive Gersoise" in page.content.decode()


def test_wrong_code_is_refused_and_three_lock_the_account(client, pg_caisse, bank_association):
    first = post_auth(client, pg_caisse, code="000000")
    assert first.status_code == 400
    assert "incorrect" in first.content.decode()
    post_auth(client, pg_caisse, code="000001")
    third = post_auth(client, pg_caisse, code="000002")
    assert third.status_code == 429
    # Locked: even the right code is refused now.
    fourth = post_auth(client, pg_caisse)
    assert fourth.status_code == 429
    assert not Association.objects.exists()
    assert "_auth_user_id" not in client.session


def test_a_person_account_gets_a_clear_message(client, pg_caisse, bank_association):
    response = post_auth(client, pg_caisse, account=PRESIDENT_ACCOUNT)
    assert response.status_code == 400
    assert "pas un compte d’association" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not Association.objects.exists()


def test_a_non_societaire_association_is_refused(client, pg_caisse, bank_association):
    BankCustomer.objects.filter(pk=bank_association.pk).update(is_societaire=False)
    response = post_auth(client, pg_caisse)
    assert response.status_code == 400
    assert "pas sociétaire" in response.content.decode()
    assert not Association.objects.exists()


def test_the_wrong_regional_bank_does_not_authenticate(client, other_caisse, bank_association):
    response = post_auth(client, other_caisse)
    assert response.status_code == 400
    assert "incorrect" in response.content.decode()


def test_a_replayed_keypad_post_decodes_to_nothing(client, pg_caisse, bank_association):
    client.get(AUTH_URL)
    data = {
        "caisse": pg_caisse.pk,
        "account_number": ASSO_ACCOUNT,
        "positions": positions_for(client, f.DEMO_CODE),
    }
    assert client.post(AUTH_URL, data).status_code == 302
    client.logout()
    replay = client.post(AUTH_URL, data)
    assert replay.status_code == 400
    assert "saisissez-le à nouveau" in replay.content.decode()


@pytest.mark.parametrize(
    "data, field, error",
    [
        ({"account_number": "123"}, "account_number", "11 chiffres"),
        ({"account_number": "abcdefghijk"}, "account_number", "11 chiffres"),
        ({"caisse": ""}, "caisse", "Choisissez la Caisse régionale"),
        ({"positions": ""}, "positions", "code personnel sur le clavier"),
    ],
)
def test_auth_form_errors(client, pg_caisse, data, field, error):
    client.get(AUTH_URL)
    values = {"caisse": pg_caisse.pk, "account_number": ASSO_ACCOUNT, "positions": "012345"}
    values.update(data)
    response = client.post(AUTH_URL, values)
    assert response.status_code == 400
    assert error in str(response.context["form"].errors[field])


def test_an_already_registered_association_goes_to_its_space(client, pg_caisse, bank_association):
    post_auth(client, pg_caisse)
    Association.objects.update(status=Status.SUBMITTED)
    client.logout()
    response = post_auth(client, pg_caisse)
    assert response.url == reverse("associations:space")
    page = client.get(response.url)
    assert "déjà inscrite" in page.content.decode()
    assert "En cours de vérification" in page.content.decode()


# --- Steps ----------------------------------------------------------------------------------


@pytest.fixture
def draft_client(client, pg_caisse, bank_association):
    post_auth(client, pg_caisse)
    return client


GOOD = {
    "identite": {
        "name": "Association Sportive Gersoise",
        "rna_number": "W321000123",
        "jo_publication_date": "2010-05-01",
        "president_name": "Marie Curie",
        "president_email": "marie@example.test",
        "email": "asg@example.test",
        "phone": "05 62 00 00 00",
    },
    "presentation": {
        "presentation": "Club de rugby des jeunes du Gers depuis 1950, ouvert à toutes et tous.",
        "website": "",
    },
    "adresse": {
        "address": "2 rue du Stade",
        "postal_code": "32000",
        "city": "Auch",
        "latitude": "43.646",
        "longitude": "0.586",
    },
}


def activity_data(pg_caisse):
    local = pg_caisse.caisses_locales.first()
    return {
        "activity": Activity.objects.first().pk,
        "domain": Domain.objects.first().pk,
        "caisse_locale": local.pk,
    }


def fill_all(client, pg_caisse):
    for slug in ("identite", "presentation", "adresse"):
        assert client.post(step_url(slug), GOOD[slug]).status_code == 302, slug
    assert client.post(step_url("activite"), activity_data(pg_caisse)).status_code == 302


def test_steps_save_to_the_draft_and_chain(draft_client, pg_caisse):
    response = draft_client.post(step_url("identite"), GOOD["identite"])
    assert response.url == step_url("presentation")
    association = Association.objects.get()
    assert association.rna_number == "W321000123"
    assert association.jo_publication_date == datetime.date(2010, 5, 1)
    assert draft_client.post(step_url("presentation"), GOOD["presentation"]).url == step_url(
        "activite"
    )
    assert draft_client.post(step_url("activite"), activity_data(pg_caisse)).url == step_url(
        "adresse"
    )
    assert draft_client.post(step_url("adresse"), GOOD["adresse"]).url == reverse(
        "associations:register_review"
    )
    association.refresh_from_db()
    assert association.latitude == pytest.approx(43.646)
    assert association.status == Status.DRAFT


def test_progress_survives_a_logout(draft_client, pg_caisse):
    draft_client.post(step_url("identite"), GOOD["identite"])
    draft_client.post(step_url("presentation"), GOOD["presentation"])
    draft_client.post(reverse("accounts:logout"))
    response = post_auth(draft_client, pg_caisse)
    # Back at the first step not yet complete.
    assert response.url == step_url("activite")
    page = draft_client.get(step_url("identite"))
    assert "W321000123" in page.content.decode()


@pytest.mark.parametrize(
    "slug, field, value, error",
    [
        ("identite", "name", "", "obligatoire"),
        ("identite", "name", "A", "au moins 3 caractères"),
        ("identite", "rna_number", "", "obligatoire"),
        ("identite", "rna_number", "123456789", "W suivi de 9 chiffres"),
        ("identite", "rna_number", "W12345678", "W suivi de 9 chiffres"),
        ("identite", "rna_number", "W1234567890", "W suivi de 9 chiffres"),
        ("identite", "rna_number", "X123456789", "W suivi de 9 chiffres"),
        ("identite", "jo_publication_date", "", "obligatoire"),
        ("identite", "jo_publication_date", "31/02/2010", "date valide"),
        ("identite", "jo_publication_date", "2999-01-01", "dans le futur"),
        ("identite", "jo_publication_date", "1850-01-01", "1er juillet 1901"),
        ("identite", "president_name", "", "obligatoire"),
        ("identite", "email", "", "obligatoire"),
        ("identite", "email", "pas-un-email", "adresse de courriel valide"),
        ("identite", "president_email", "pas-un-email", "adresse de courriel valide"),
        ("identite", "phone", "abc", "numéro de téléphone"),
        ("presentation", "presentation", "", "obligatoire"),
        ("presentation", "presentation", "Trop court.", "au moins 30 caractères"),
        ("presentation", "presentation", "x" * 2001, "dépasser 2000 caractères"),
        ("presentation", "website", "pas une url", "URL valide"),
        ("adresse", "address", "", "obligatoire"),
        ("adresse", "postal_code", "3200", "5 chiffres"),
        ("adresse", "city", "", "obligatoire"),
        ("adresse", "latitude", "", "Placez l’association sur la carte"),
        ("adresse", "longitude", "", "Placez l’association sur la carte"),
        ("adresse", "latitude", "abc", "nombre"),
        ("adresse", "latitude", "95", "entre -90 et 90"),
        ("adresse", "longitude", "200", "entre -180 et 180"),
        ("adresse", "latitude", "48.85", "hors du territoire"),
    ],
)
def test_each_field_refuses_bad_input_with_a_french_error(draft_client, slug, field, value, error):
    data = dict(GOOD[slug], **{field: value})
    response = draft_client.post(step_url(slug), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert error in str(errors[field]), errors
    # The error is shown next to the field, in the page.
    assert error in html.unescape(response.content.decode())
    association = Association.objects.get()
    assert association.rna_number is None


def test_activity_step_refuses_empty_choices_and_a_foreign_local_bank(
    draft_client, pg_caisse, other_caisse
):
    foreign = f.CaisseLocaleFactory(caisse_regionale=other_caisse)
    for field, value, error in [
        ("activity", "", "obligatoire"),
        ("domain", "", "obligatoire"),
        ("caisse_locale", "", "obligatoire"),
        ("caisse_locale", foreign.pk, "choix valide"),
        ("activity", "999999", "choix valide"),
    ]:
        data = dict(activity_data(pg_caisse), **{field: value})
        response = draft_client.post(step_url("activite"), data)
        assert response.status_code == 400
        assert error in str(response.context["form"].errors[field])
    assert Association.objects.get().activity is None


def test_the_local_bank_list_shows_only_the_banks_of_the_regional_bank(
    draft_client, pg_caisse, other_caisse
):
    foreign = f.CaisseLocaleFactory(caisse_regionale=other_caisse, name="Agence Toulousaine")
    page = draft_client.get(step_url("activite")).content.decode()
    assert foreign.name not in page
    assert pg_caisse.caisses_locales.first().name in page


def test_rna_already_used_is_refused(draft_client, pg_caisse):
    f.AssociationFactory(caisse_regionale=pg_caisse, rna_number="W321000123")
    response = draft_client.post(step_url("identite"), GOOD["identite"])
    assert "déjà utilisé" in str(response.context["form"].errors["rna_number"])


def test_rna_is_normalised(draft_client):
    draft_client.post(step_url("identite"), dict(GOOD["identite"], rna_number="w 321 000 123"))
    assert Association.objects.get().rna_number == "W321000123"


def test_address_step_has_the_map_and_its_data(draft_client, pg_caisse):
    page = draft_client.get(step_url("adresse")).content.decode()
    assert 'id="registration-map"' in page
    assert 'id="registration-map-config"' in page
    assert "js/registration_map.js" in page
    assert "<script>" not in page  # no inline script: CSP


def test_address_map_starts_at_the_chosen_local_bank_coordinates_folded(draft_client, pg_caisse):
    draft_client.post(step_url("activite"), activity_data(pg_caisse))
    local = Association.objects.get().caisse_locale
    response = draft_client.get(step_url("adresse"))
    config = response.context["map_config"]
    assert config["center"] == [local.latitude, local.longitude] and config["local"]
    assert config["marker"] is None  # registration_map.js writes the marker's start
    page = response.content.decode()
    # The coordinates are there for who opens them, folded by default.
    assert re.search(r'<details class="latlng">\s*<summary>', page)
    assert 'id="id_latitude"' in page


def test_unknown_step_is_404(draft_client):
    assert draft_client.get(step_url("nope")).status_code == 404


def test_review_requires_the_declaration_then_submits(
    draft_client, pg_caisse, django_capture_on_commit_callbacks
):
    fill_all(draft_client, pg_caisse)
    review = reverse("associations:register_review")
    page = draft_client.get(review)
    assert page.status_code == 200 and not page.context["problems"]
    refused = draft_client.post(review, {})
    assert refused.status_code == 400
    assert "représentant légal" in str(refused.context["form"].errors["declaration"])
    assert Association.objects.get().status == Status.DRAFT
    with django_capture_on_commit_callbacks(execute=True):
        response = draft_client.post(review, {"declaration": "on"})
    assert response.url == reverse("associations:space")
    association = Association.objects.get()
    assert association.status == Status.SUBMITTED
    assert association.submitted_at is not None
    (message,) = mail.outbox
    assert message.to == ["asg@example.test"]
    # Once submitted, the steps are closed.
    closed = draft_client.get(step_url("identite"))
    assert closed.url == reverse("associations:space")
    assert draft_client.post(step_url("identite"), GOOD["identite"]).url == reverse(
        "associations:space"
    )


def test_an_incomplete_file_cannot_be_submitted(draft_client):
    review = reverse("associations:register_review")
    response = draft_client.post(review, {"declaration": "on"})
    assert response.status_code == 400
    assert "incomplet" in response.content.decode()
    assert Association.objects.get().status == Status.DRAFT


def test_a_member_cannot_use_the_wizard_steps(client, member):
    client.force_login(member)
    response = client.get(step_url("identite"))
    assert response.url == reverse("associations:register")


def test_step_page_query_count(draft_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        draft_client.get(step_url("activite"))
