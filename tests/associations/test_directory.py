import re

import pytest
from django.urls import reverse

from associations.models import Activity, Association, Domain
from associations.views import PER_PAGE
from tests import factories as f
from tests.associations.directory_cast import hidden_associations, visible_associations

pytestmark = pytest.mark.django_db
URL = reverse("associations:directory")


def card_names(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'class="association-name"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def client_member(client, member):
    client.force_login(member)
    return client


def test_login_required(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_list_is_the_default_and_shows_the_guide_labels(client_member, association):
    response = client_member.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for label in [
        "DISTRIBUER MES TOOKETS",
        "LISTE DES ASSOCIATIONS",
        "Distribuez vos TOOKETS",
        "Filter par activités",
        "Filter par domaines",
        "Filter par caisse locale",
        "Taper le nom de l&#x27;association",
        "CHERCHER",
        "Afficher en liste",
        "J'AIDE L'ASSOCIATION",
        "Mettre en favoris",
    ]:
        assert label in html, label
    assert card_names(response) == ["Les Amis du Gers"]
    # No map assets in list mode: the page works without JavaScript.
    assert "directory.js" not in html


def test_count_sentence_counts_visible_associations_only(client_member, program, other_caisse):
    visible_associations(program=program, count=3)
    hidden_associations(program=program, other_caisse=other_caisse)
    response = client_member.get(URL)
    assert (
        "Distribuez vos TOOKETS aux 3 associations retenues cette année par votre Caisse régionale."
        in response.content.decode()
    )


def test_hidden_associations_never_listed_nor_found(client_member, association, other_caisse):
    hidden_associations(program=association.enrollments.get().program, other_caisse=other_caisse)
    assert card_names(client_member.get(URL)) == ["Les Amis du Gers"]
    response = client_member.get(URL, {"q": "cachee"})
    assert card_names(response) == []
    assert "Aucune association ne correspond" in response.content.decode()


def test_accent_and_case_insensitive_search(client_member, program):
    a, b = visible_associations(program=program, count=2)
    a.name = "Randonneurs des Pyrénées"
    a.save()
    b.name = "Théâtre de Condom"
    b.save()
    assert card_names(client_member.get(URL, {"q": "pyrenees"})) == ["Randonneurs des Pyrénées"]
    assert card_names(client_member.get(URL, {"q": "THEATRE"})) == ["Théâtre de Condom"]
    response = client_member.get(URL, {"q": "pyrenees"})
    assert "1 association correspond à votre recherche." in response.content.decode()


def test_filters_by_activity_domain_and_local_bank(client_member, program, pg_caisse):
    sport = Activity.objects.get(code="sport")
    culture = Activity.objects.get(code="culture")
    nature = Domain.objects.get(code="nature")
    spectacle = Domain.objects.get(code="arts-spectacle")
    auch = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, code="AUCH", name="Auch")
    condom = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, code="CDM", name="Condom")
    rows = [
        ("Rando Auch", sport, nature, auch),
        ("Théâtre Auch", culture, spectacle, auch),
        ("Rando Condom", sport, nature, condom),
    ]
    for name, activity, domain, locale in rows:
        visible_associations(
            program=program,
            count=1,
            name=name,
            activity=activity,
            domain=domain,
            caisse_locale=locale,
        )
    # The default order is shuffled per member and day: the set is what filters decide.
    assert sorted(card_names(client_member.get(URL, {"activite": "sport"}))) == [
        "Rando Auch",
        "Rando Condom",
    ]
    assert card_names(client_member.get(URL, {"domaine": "arts-spectacle"})) == ["Théâtre Auch"]
    assert card_names(client_member.get(URL, {"caisse": "CDM"})) == ["Rando Condom"]
    assert card_names(
        client_member.get(URL, {"activite": "sport", "caisse": "AUCH", "q": "rando"})
    ) == ["Rando Auch"]
    # Filters stay in the form (shareable URL, back button) and in the map/list switch.
    html = client_member.get(URL, {"activite": "sport", "caisse": "AUCH"}).content.decode()
    assert re.search(r'<option value="sport" selected>', html)
    assert 'name="vue" value="carte"' in html and 'name="caisse" value="AUCH"' in html


def test_local_bank_of_another_caisse_is_not_an_option(client_member, association, other_caisse):
    other = f.CaisseLocaleFactory(caisse_regionale=other_caisse, code="TLS", name="Toulouse Centre")
    html = client_member.get(URL).content.decode()
    assert "Toulouse Centre" not in html
    # A hand-made link with a foreign local bank is ignored, not an error.
    response = client_member.get(URL, {"caisse": other.code})
    assert response.status_code == 200
    assert card_names(response) == ["Les Amis du Gers"]


def test_bad_filter_values_are_ignored_not_errors(client_member, association):
    response = client_member.get(URL, {"activite": "nope", "page": "x", "vue": "zzz"})
    assert response.status_code == 200
    assert card_names(response) == ["Les Amis du Gers"]
    response = client_member.get(URL, {"q": "x" * 500})
    assert response.status_code == 200


def test_pagination_keeps_filters(client_member, program):
    visible_associations(program=program, count=PER_PAGE + 3, presentation="Rando")
    first = client_member.get(URL, {"q": "association"})
    assert len(card_names(first)) == PER_PAGE
    html = first.content.decode()
    assert "Page 1 sur 2" in html
    assert 'href="?q=association&amp;page=2"' in html
    second = client_member.get(URL, {"q": "association", "page": 2})
    assert len(card_names(second)) == 3
    assert not set(card_names(first)) & set(card_names(second))
    # Out of range: last page, not an error.
    assert card_names(client_member.get(URL, {"q": "association", "page": 99})) == card_names(
        second
    )


def test_map_mode_renders_map_container_and_config(client_member, association, settings):
    settings.MAP_TILES_URL = "/tiles/{z}/{x}/{y}.png"
    html = client_member.get(URL, {"vue": "carte", "activite": "sport"}).content.decode()
    assert 'id="directory-map"' in html
    assert 'id="directory-map-config"' in html
    assert "/tiles/{z}/{x}/{y}.png" in html
    assert reverse("associations:map_data") + "?activite=sport" in html
    assert "leaflet.markercluster.js" in html and "leaflet/leaflet.js" in html
    assert "<script>" not in html.replace('<script type="application/json"', "")  # CSP
    assert card_names(client_member.get(URL, {"vue": "carte"})) == []


@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.parametrize("mode", ["liste", "carte"])
def test_constant_number_of_queries(
    client, member, program, pg_caisse, django_assert_num_queries, filtered, mode
):
    """The same number of queries for 5 or 60 associations, with or without filters."""
    client.force_login(member)
    locale = f.CaisseLocaleFactory(caisse_regionale=pg_caisse, code="LOC")
    params = {"vue": mode}
    if filtered:  # every filter set, and matching rows (an empty page would skip queries)
        params.update(activite="sport", domaine="nature", caisse="LOC", q="assoc", page="2")
    kwargs = dict(
        caisse_locale=locale,
        activity=Activity.objects.get(code="sport"),
        domain=Domain.objects.get(code="nature"),
    )
    # Known state: user, then (list) the page's figures and the favourite in one statement
    # that reads the directory's version too (the version this process saw last is checked
    # there), or (map) the version; the session and the page's plan (mode, counts, rows) and
    # rendered content come from the cache. New (nothing kept, no version seen): user and
    # version, the three option lists, the counts and the plan (with, in a list, the page's
    # rows), each but the lists followed by the version again (a change meanwhile keeps them
    # out of the cache), then (list) the figures or (map) the bank. After a change (a new
    # directory version), the same, once the list's figures under the version seen before
    # have shown it moved.
    warm = 2
    cold = 3 + 7 if mode == "liste" else 2 + 7
    changed = cold + 1 if mode == "liste" else cold
    visible_associations(program=program, count=5, **kwargs)
    favourite = visible_associations(program=program, count=1, **kwargs)[0]
    client.post(reverse("associations:set_favourite"), {"association": favourite.pk})
    with django_assert_num_queries(cold):
        response = client.get(URL, params)
    with django_assert_num_queries(warm):
        response = client.get(URL, params)
    assert response.status_code == 200
    if mode == "liste":
        assert len(card_names(response)) == 6
    visible_associations(program=program, count=54, **kwargs)
    with django_assert_num_queries(changed):
        response = client.get(URL, params)
    with django_assert_num_queries(warm):
        response = client.get(URL, params)
    assert response.status_code == 200
    if mode == "liste":
        assert len(card_names(response)) == PER_PAGE


def test_option_lists_are_cached_and_follow_changes(
    client_member, association, pg_caisse, django_assert_num_queries
):
    client_member.get(URL)
    with django_assert_num_queries(2):  # warm: user, figures and favourite with the version
        client_member.get(URL)
    f.CaisseLocaleFactory(caisse_regionale=pg_caisse, code="NEW", name="Caisse toute neuve")
    Activity.objects.create(code="nouvelle", label="Activité nouvelle")
    # A new version: the figures under the version seen before show it moved; then the
    # version, the three option lists, the counts and the plan (the page's rows read for it),
    # each but the lists followed by the version again, once.
    with django_assert_num_queries(1 + 3 + 7):
        html = client_member.get(URL).content.decode()
    assert '<option value="NEW">Caisse toute neuve</option>' in html
    assert '<option value="nouvelle">Activité nouvelle</option>' in html
    assert len(card_names(client_member.get(URL, {"caisse": "NEW"}))) == 0
    Activity.objects.filter(code="nouvelle").delete()
    assert "Activité nouvelle" not in client_member.get(URL).content.decode()


def test_cached_counts_and_cards_follow_every_change(client_member, member, program, staff_pg):
    """The counts are cached under the directory's state, the figures read fresh: after a
    validation, an enrolment, a rename, a gift and a program closing, the next page shows it."""
    import datetime

    from django.utils import timezone

    from associations.services import enroll_association, validate_association
    from cagnotte.models import Program
    from cagnotte.services import give_tookets
    from tests.cagnotte.helpers import credit

    (shown,) = visible_associations(program=program, count=1, name="Alpha")

    def state():
        response = client_member.get(URL)
        assert response.status_code == 200
        html = response.content.decode()
        return sorted(card_names(response)), html  # shuffled per member: compare the set

    assert state()[0] == ["Alpha"]
    newcomer = f.AssociationFactory(
        caisse_regionale=program.caisse_regionale,
        name="Bravo",
        status=Association.Status.SUBMITTED,
    )
    validate_association(association=newcomer, staff=staff_pg)
    assert state()[0] == ["Alpha"]  # validated, not enrolled
    enroll_association(association=newcomer, programs=[program], staff=staff_pg)
    assert state()[0] == ["Alpha", "Bravo"]
    Association.objects.filter(pk=newcomer.pk).update(name="Charlie")  # no save(), no signal
    assert state()[0] == ["Alpha", "Charlie"]
    assert "Soyez le premier à soutenir cette association !" in state()[1]
    credit(member, program, 500)
    give_tookets(member=member, association_id=shown.pk, amount=120, token="t-1", program=program)
    names, html = state()
    assert names == ["Alpha", "Charlie"]
    assert "1 personne nous a soutenu, merci à vous !" in html
    assert "<strong>120\xa0K</strong>" in html
    Program.objects.filter(pk=program.pk).update(
        closes_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert state()[0] == []
