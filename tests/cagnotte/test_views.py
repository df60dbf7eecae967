import re

import pytest
from django.urls import reverse

from cagnotte.figures import read_figures
from cagnotte.models import LedgerEntry, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit
from tookets import money
from tookets.periods import current_period


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def give_url(association):
    return reverse("cagnotte:give", args=[association.pk])


def fresh_form(client, association):
    """The token and wallet of the first form of a freshly displayed gift page."""
    html = client.get(give_url(association)).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    wallet = re.search(r'name="wallet" value="(\d+)"', html).group(1)
    return {"token": token, "wallet": wallet}


# --- « Ma cagnotte » --------------------------------------------------------------------------


def test_wallet_page_shows_this_months_credits_and_the_balance(
    member_client, member, program, association
):
    credit(member, program, 300, period="2000-01")
    credit(member, program, 410, period=current_period())
    wallet = Wallet.objects.get(member=member)
    from cagnotte.services import give_tookets

    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=600, token="a"
    )
    html = member_client.get(reverse("cagnotte:wallet")).content.decode()
    assert "MA CAGNOTTE DE TOOKETS" in html
    assert "Bravo, vous avez récolté plein de TOOKETS !" in html
    assert "RÉCOLTÉ CE MOIS CI" in html and "RESTE À DISTRIBUER" in html
    assert 'data-figure="collected">410\u00a0K<' in html
    assert 'data-figure="balance">110\u00a0K<' in html
    assert reverse("associations:directory") in html and "DISTRIBUER MES TOOKETS" in html
    assert (
        "Don à une association" in html
        and "Les Amis du Gers" in html
        and "\u2212600\u00a0K" in html
    )
    assert "+410\u00a0K" in html
    # Each credit says its month.
    assert f"Tookets récoltés – {money.month(current_period())}" in html
    assert "Tookets récoltés – janvier 2000" in html


def test_an_empty_wallet_is_not_told_to_give(member_client, member, program, association):
    credit(member, program, 50, period=current_period())
    wallet = Wallet.objects.get(member=member)
    from cagnotte.services import give_tookets

    give_tookets(
        member=member, wallet_id=wallet.pk, association_id=association.pk, amount=50, token="b"
    )
    html = member_client.get(reverse("cagnotte:wallet")).content.decode()
    assert "Pensez à les distribuer" not in html
    assert "Vous avez distribué tous vos Tookets" in html


def test_one_money_format_everywhere():
    assert money.tookets(9830) == "9\u202f830\u00a0K"
    assert money.tookets(-1440) == "\u22121\u202f440\u00a0K"
    assert money.tookets(410, "signed") == "+410\u00a0K"
    assert money.tookets(0, "signed") == "0\u00a0K"
    assert money.tookets("x") == ""
    assert money.euros(123456) == "1\u202f234,56\u00a0€"
    assert money.month("2026-11") == "novembre 2026"
    assert money.month("") == ""


def _fill(member, size):
    programs = [
        f.ProgramFactory(caisse_regionale=member.caisse_regionale, name=f"Programme {i}")
        for i in range(size)
    ]
    for p in programs:
        for month in range(1, size * 3 + 1):
            credit(member, p, month, period=current_period() if month % 2 else "2000-01")


@pytest.mark.parametrize("size", [1, 6])
def test_wallet_page_query_count_does_not_grow(
    member_client, member, size, django_assert_num_queries, django_assert_max_num_queries
):
    _fill(member, size)
    # user, the page's state (counts, version, history's names: one statement), then on a
    # new state: wallets with this month's sums and the history's page (its count is the
    # state's; the session comes from the cache)
    with django_assert_num_queries(4):
        response = member_client.get(reverse("cagnotte:wallet"))
    assert response.status_code == 200
    assert response.content.decode().count('data-figure="balance"') == size
    # The same state again: its rendered content comes from the cache.
    with django_assert_max_num_queries(2):
        again = member_client.get(reverse("cagnotte:wallet"))
    assert again.content.decode().count('data-figure="balance"') == size


def test_wallet_history_is_paginated(member_client, member, program):
    for i in range(25):
        credit(member, program, 1 + i)
    first = member_client.get(reverse("cagnotte:wallet")).content.decode()
    second = member_client.get(reverse("cagnotte:wallet") + "?page=2").content.decode()
    assert first.count("+") - second.count("+") > 0
    assert "Page 1 sur 2" in first and "Page 2 sur 2" in second
    assert member_client.get(reverse("cagnotte:wallet") + "?page=zzz").status_code == 200


@pytest.mark.parametrize("who", ["staff_pg", "association_user"])
def test_wallet_pages_are_for_members_only(client, who, request, association):
    if who == "association_user":
        user = f.UserFactory(kind="association")
    else:
        user = request.getfixturevalue(who)
    client.force_login(user)
    for url in [reverse("cagnotte:wallet"), give_url(association)]:
        response = client.get(url)
        assert response.status_code == 403
        assert "Réservé aux sociétaires" in response.content.decode()


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("cagnotte:wallet"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


# --- Giving -----------------------------------------------------------------------------------


def test_give_page_defaults_to_the_whole_balance(member_client, member, program, association):
    credit(member, program, 110)
    html = member_client.get(give_url(association)).content.decode()
    assert "Montant du don pour le programme Carte Sociétaire - GERS" in html
    assert 'value="110"' in html
    assert "ANNULER" in html and "VALIDER LA DEMANDE" in html
    assert "js/give.js" in html


def test_give_then_replay_gives_once(member_client, member, program, association):
    credit(member, program, 110)
    data = {**fresh_form(member_client, association), "amount": "40"}
    first = member_client.post(give_url(association), data, follow=True)
    entry = LedgerEntry.objects.get(kind="gift")
    assert first.redirect_chain[-1][0] == reverse("cagnotte:gift_receipt", args=[entry.pk])
    assert "Merci ! Vous avez donné 40\u00a0K à Les Amis du Gers." in first.content.decode()
    assert "Il vous reste 70\u00a0K à distribuer" in first.content.decode()
    again = member_client.post(give_url(association), data, follow=True)
    assert again.redirect_chain[-1][0] == first.redirect_chain[-1][0]
    assert "Merci ! Vous avez donné 40\u00a0K à Les Amis du Gers." in again.content.decode()
    assert Wallet.objects.get(member=member).balance == 70
    assert LedgerEntry.objects.filter(kind="gift").count() == 1
    assert read_figures([association.pk])[0][association.pk].received_total == 40
    assert_ledger_consistent()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "Le montant doit être supérieur à zéro."),
        ("-5", "Saisissez le montant en chiffres uniquement, par exemple 110."),
        ("2,5", "Saisissez le montant en chiffres uniquement, par exemple 110."),
        ("1.5", "Saisissez le montant en chiffres uniquement, par exemple 110."),
        ("abc", "Saisissez le montant en chiffres uniquement, par exemple 110."),
        ("1O", "Saisissez le montant en chiffres uniquement, par exemple 110."),  # a letter O
        ("١٢", "Saisissez le montant en chiffres uniquement, par exemple 110."),  # not ASCII
        ("", "Indiquez le nombre de Tookets à donner."),
        ("111", "Le montant dépasse les Tookets qu’il vous reste à distribuer."),
    ],
)
def test_bad_amounts_get_a_french_error_on_the_field(
    member_client, member, program, association, amount, message
):
    credit(member, program, 110)
    data = {**fresh_form(member_client, association), "amount": amount}
    response = member_client.post(give_url(association), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and 'aria-invalid="true"' in html
    # The error summary takes the focus and links to the field; the title says « Erreur ».
    assert 'class="error-summary"' in html and f'href="#amount-{data["wallet"]}"' in html
    assert "<title>Erreur – " in html
    assert not LedgerEntry.objects.filter(kind="gift").exists()


def test_the_form_says_what_the_button_will_do(member_client, member, program, association):
    credit(member, program, 1110)
    html = member_client.get(give_url(association)).content.decode()
    sentence = html.index("Vous allez donner 1\u202f110\u00a0K à Les Amis du Gers.")
    assert sentence < html.index("VALIDER LA DEMANDE")
    assert 'inputmode="numeric"' in html and 'type="number"' not in html


def test_a_tampered_token_is_refused(member_client, member, program, association):
    credit(member, program, 110)
    data = {**fresh_form(member_client, association), "amount": "10"}
    data["token"] = data["token"][:-2] + "xx"
    response = member_client.post(give_url(association), data)
    assert "Ce formulaire a expiré" in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="gift").exists()


def test_association_of_another_territory(member_client, member, program, other_caisse):
    credit(member, program, 110)
    elsewhere = f.AssociationFactory(caisse_regionale=other_caisse)
    f.EnrollmentFactory(
        association=elsewhere, program=f.ProgramFactory(caisse_regionale=other_caisse)
    )
    assert member_client.get(give_url(elsewhere)).status_code == 404
    wallet = Wallet.objects.get(member=member)
    response = member_client.post(
        give_url(elsewhere), {"wallet": wallet.pk, "token": "x", "amount": "10"}
    )
    assert response.status_code == 400
    assert "ne peut pas recevoir vos Tookets" in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="gift").exists()


def test_wallet_of_a_program_the_association_is_not_enrolled_in(
    member_client, member, program, association, pg_caisse
):
    other_program = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme")
    credit(member, program, 10)
    credit(member, other_program, 50)
    other_wallet = Wallet.objects.get(member=member, program=other_program)
    html = member_client.get(give_url(association)).content.decode()
    assert "Autre programme" not in html  # only the enrolled program's wallet is offered
    from cagnotte.forms import new_give_token

    token = new_give_token(
        member_id=member.pk, association_id=association.pk, wallet_id=other_wallet.pk
    )
    response = member_client.post(
        give_url(association), {"wallet": other_wallet.pk, "token": token, "amount": "10"}
    )
    assert response.status_code == 400
    assert "ne vous permet pas de donner" in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="gift").exists()


def test_several_programs_let_the_member_choose(member_client, member, program, association):
    second = f.ProgramFactory(caisse_regionale=member.caisse_regionale, name="Épargne solidaire")
    f.EnrollmentFactory(association=association, program=second)
    credit(member, program, 110)
    credit(member, second, 30)
    html = member_client.get(give_url(association)).content.decode()
    assert html.count("VALIDER LA DEMANDE") == 2
    assert "Montant du don pour le programme Épargne solidaire" in html


def test_no_balance_shows_a_clear_message(member_client, association):
    html = member_client.get(give_url(association)).content.decode()
    assert "Vous n’avez pas de Tookets à distribuer à cette association" in html


def test_unknown_association_is_404(member_client):
    assert member_client.get(reverse("cagnotte:give", args=[999999])).status_code == 404


def test_give_page_for_one_program(member_client, member, program, association, pg_caisse):
    other_program = f.ProgramFactory(caisse_regionale=pg_caisse, name="Autre programme")
    credit(member, program, 110)
    url = give_url(association)
    assert member_client.get(f"{url}?programme={program.pk}").status_code == 200
    assert member_client.get(f"{url}?programme={other_program.pk}").status_code == 404
    assert member_client.get(f"{url}?programme=abc").status_code == 404
