"""« Télécharger mes données »: a ZIP with JSON and CSV, the member's rows and no one else's."""

import csv
import io
import json
import zipfile

import pytest
from django.urls import reverse

from accounts.models import MemberEmail
from cagnotte.models import Favourite
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

URL = reverse("accounts:my_data")


@pytest.fixture
def history(member, other_member, pg_caisse, program, association):
    credit(member, program, 300, period="2026-01", reference="ref-jeanne-1")
    credit(member, program, 410, period="2026-02", reference="ref-jeanne-2")
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=25, token="j1"
    )
    Favourite.objects.create(member=member, association=association)
    MemberEmail.objects.create(member=member, kind="recap", period="2026-02", status="sent")
    # Someone else of the same bank, and someone of another bank: nothing of theirs may leak.
    neighbour = f.MemberFactory(caisse_regionale=pg_caisse, display_name="Voisin Secret")
    credit(neighbour, program, 999, reference="ref-voisin")
    give_tookets(
        member=neighbour, program=program, association_id=association.pk, amount=7, token="v1"
    )
    other_program = f.ProgramFactory(caisse_regionale=other_member.caisse_regionale)
    credit(other_member, other_program, 555, reference="ref-paul")
    return neighbour


def download(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_my_data_holds_my_identity_wallets_movements_favourite_and_email_choices(
    client, member, history, django_assert_max_num_queries
):
    client.force_login(member)
    with django_assert_max_num_queries(12):
        archive = download(client)
    assert sorted(archive.namelist()) == ["cagnottes.csv", "donnees.json", "mouvements.csv"]
    data = json.loads(archive.read("donnees.json"))
    assert data["identite"]["nom"] == "Jeanne Dupont"
    assert data["identite"]["email"] == member.email
    assert data["identite"]["identifiant"] == member.account_number
    assert data["identite"]["caisse_regionale"] == "Pyrénées Gascogne"
    assert data["emails"]["accepte_les_emails_recapitulatifs"] is True
    assert data["emails"]["envoyes"][0]["periode"] == "2026-02"
    assert data["association_favorite"]["nom"] == "Les Amis du Gers"
    assert [w["solde_k"] for w in data["cagnottes"]] == [685]
    movements = data["mouvements"]
    assert [(m["type"], m["montant_k"]) for m in movements] == [
        ("credit", 300),
        ("credit", 410),
        ("gift", -25),
    ]
    assert movements[2]["association"] == "Les Amis du Gers"

    rows = list(csv.DictReader(io.StringIO(archive.read("mouvements.csv").decode())))
    assert [(r["type"], r["montant_k"]) for r in rows] == [
        ("credit", "300"),
        ("credit", "410"),
        ("gift", "-25"),
    ]
    wallets = list(csv.DictReader(io.StringIO(archive.read("cagnottes.csv").decode())))
    assert [w["solde_k"] for w in wallets] == ["685"]


def test_my_data_holds_nothing_of_anyone_else(client, member, history, other_member):
    client.force_login(member)
    archive = download(client)
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode()
    for foreign in ("Voisin Secret", "ref-voisin", "ref-paul"):
        assert foreign not in everything, foreign
    # The others' amounts, as values: as substrings they can occur in any timestamp.
    numbers = set()

    def collect(value):
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, int | str):
            numbers.add(str(value))

    for name in archive.namelist():
        text = archive.read(name).decode()
        if name.endswith(".json"):
            collect(json.loads(text))
        elif name.endswith(".csv"):
            collect([list(row.values()) for row in csv.DictReader(io.StringIO(text))])
    assert numbers and not numbers & {"999", "555", "-7"}
    assert history.email not in everything and other_member.email not in everything


def test_my_data_needs_a_login_and_is_for_members(client, pg_caisse):
    assert client.get(URL).status_code == 302
    association_user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    client.force_login(association_user)
    assert client.get(URL).status_code == 404
