"""Demo local banks: a few per regional bank, placed inside its territory."""

from caisses.models import CaisseLocale, CaisseRegionale

TOWNS = [
    "Auch",
    "Condom",
    "Lectoure",
    "Mirande",
    "Eauze",
    "Nogaro",
    "Fleurance",
    "Vic-Fezensac",
    "Pau",
    "Bayonne",
    "Biarritz",
    "Orthez",
    "Oloron-Sainte-Marie",
    "Tarbes",
    "Lourdes",
    "Bagnères-de-Bigorre",
    "Lannemezan",
    "Saint-Jean-de-Luz",
    "Mauléon",
    "Samatan",
    "Montréal",
    "Marciac",
    "Riscle",
    "Gimont",
    "L'Isle-Jourdain",
    "Masseube",
    "Plaisance",
    "Saint-Clar",
    "Cazaubon",
    "Aignan",
]
GENERIC = [
    "Centre",
    "Nord",
    "Sud",
    "Est",
    "Ouest",
    "Val",
    "Plaine",
    "Coteaux",
    "Vallée",
    "Bourg",
    "Saint-Martin",
    "Sainte-Marie",
    "Les Forges",
    "La Croix",
    "Beaulieu",
    "Montfort",
]
PER_CAISSE = {"pyrenees-gascogne": 30}
DEFAULT_PER_CAISSE = 8


def seed(rng) -> str:
    created = 0
    for cr in CaisseRegionale.objects.order_by("code"):
        if cr.caisses_locales.exists():
            continue
        count = PER_CAISSE.get(cr.code, DEFAULT_PER_CAISSE)
        names = TOWNS if cr.code == "pyrenees-gascogne" else [f"{cr.name} {g}" for g in GENERIC]
        rows = []
        for i in range(count):
            rows.append(
                CaisseLocale(
                    caisse_regionale=cr,
                    code=f"{i + 1:03d}",
                    name=names[i % len(names)],
                    departement=cr.departements[i % len(cr.departements)],
                    latitude=round(rng.uniform(cr.min_lat, cr.max_lat), 5),
                    longitude=round(rng.uniform(cr.min_lng, cr.max_lng), 5),
                )
            )
        CaisseLocale.objects.bulk_create(rows)
        created += len(rows)
    return f"{created} caisses locales créées"
