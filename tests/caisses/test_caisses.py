from caisses.models import CaisseRegionale

GUIDE_NAMES = [
    "Ille et Vilaine",
    "Languedoc",
    "Loire Haute-Loire",
    "Lorraine",
    "Martinique Guyane",
    "Morbihan",
    "Nord Est",
    "Nord Midi Pyrénées",
    "Nord de France",
    "Normandie",
    "Normandie Seine",
    "Paris",
    "Provence Côte d'Azur",
    "Pyrénées Gascogne",
    "Réunion",
    "Sud Méditerranée",
    "Sud Rhône Alpes",
    "Toulouse 31",
    "Touraine Poitou",
    "Val de France",
]


def test_the_twenty_regional_banks_of_the_guide_are_loaded(db):
    names = list(CaisseRegionale.objects.order_by("name").values_list("name", flat=True))
    assert sorted(names) == sorted(GUIDE_NAMES)


def test_each_territory_box_contains_its_centre(db):
    for cr in CaisseRegionale.objects.all():
        assert cr.min_lat <= cr.center_lat <= cr.max_lat, cr.name
        assert cr.min_lng <= cr.center_lng <= cr.max_lng, cr.name
