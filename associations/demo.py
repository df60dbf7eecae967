"""Demo associations and this year's programs, deterministic for a given generator.

Pyrénées Gascogne gets exactly 2,795 enrolled, validated associations (as in the guide), plus
a few validated but not enrolled and a few still submitted (both hidden from members). Every
other regional bank gets ``associations`` enrolled ones (150 by default).
"""

import datetime

from django.db import connection, transaction
from django.utils import timezone

from associations.models import Activity, Association, Domain, normalize_search
from cagnotte.campaigns import Enrollment
from cagnotte.models import Program
from caisses.models import CaisseRegionale

PG_CODE = "pyrenees-gascogne"
PG_ENROLLED = 2795
PG_NOT_ENROLLED = 12
PG_SUBMITTED = 8
DEFAULT_PER_CAISSE = 150
# The not-yet-registered demo association of the registration wizard: never seed it here.
RESERVED_ACCOUNTS = {"98652790001"}

# (subject, activity code, domain code): what the association does.
SUBJECTS = [
    ("Football Club", "sport", "sport-loisirs"),
    ("Rugby Club", "sport", "sport-loisirs"),
    ("Pétanque", "sport", "sport-loisirs"),
    ("Randonneurs", "sport", "nature"),
    ("Cyclotouristes", "sport", "sport-loisirs"),
    ("Judo Club", "sport", "enfance"),
    ("Gymnastique Volontaire", "sport", "sport-loisirs"),
    ("Pelote Basque", "sport", "vie-locale"),
    ("Théâtre", "culture", "arts-spectacle"),
    ("Comité des Fêtes", "loisirs", "vie-locale"),
    ("Bibliothèque", "culture", "vie-locale"),
    ("Ciné-Club", "culture", "arts-spectacle"),
    ("Harmonie", "musique", "arts-spectacle"),
    ("Chorale", "musique", "arts-spectacle"),
    ("Banda", "musique", "vie-locale"),
    ("École de Musique", "musique", "enfance"),
    ("Restos du Cœur", "solidarite", "action-sociale"),
    ("Secours Solidaire", "solidarite", "aide-humanitaire"),
    ("Banque Alimentaire", "solidarite", "action-sociale"),
    ("Entraide", "solidarite", "insertion"),
    ("Jardins Partagés", "environnement", "nature"),
    ("Protection de la Nature", "environnement", "nature"),
    ("Apiculteurs", "environnement", "nature"),
    ("Donneurs de Sang", "sante", "sante-recherche"),
    ("Lutte contre le Cancer", "sante", "sante-recherche"),
    ("Parents d'Élèves", "education", "enfance"),
    ("Soutien Scolaire", "education", "enfance"),
    ("Patrimoine et Histoire", "patrimoine", "vie-locale"),
    ("Sauvegarde de l'Église", "patrimoine", "vie-locale"),
    ("Refuge pour Animaux", "animaux", "nature"),
    ("Chats Libres", "animaux", "nature"),
    ("Foyer des Jeunes", "jeunesse", "enfance"),
    ("Scouts et Guides", "jeunesse", "enfance"),
    ("Sport Adapté", "handicap", "insertion"),
    ("Handi-Loisirs", "handicap", "action-sociale"),
    ("Aînés Ruraux", "loisirs", "action-sociale"),
]
PATTERNS = [
    "{subject} {of_place}",
    "Les Amis {of_place} – {subject}",
    "{subject} du Pays {of_place}",
    "Association {subject} {of_place}",
    "{subject} des Pyrénées ({place})",
    "Union {subject} {of_place}",
    "{subject} et Traditions {of_place}",
    "Club {subject} {of_place}",
]
PRESENTATIONS = [
    "Depuis sa création, notre association rassemble bénévoles et habitants autour de {what}.",
    "Nous organisons toute l’année des rencontres ouvertes à tous : {what}, fêtes et sorties.",
    "Grâce à vos Tookets, nous achetons du matériel et accueillons de nouveaux adhérents ({what}).",
    "Une équipe de bénévoles passionnés fait vivre {what} au cœur du village.",
]
STREETS = ["rue de la République", "place de l’Église", "avenue des Pyrénées", "chemin du Moulin"]


def demo_program(cr: CaisseRegionale, year: int) -> Program:
    """The regional bank's demo program of the year (« Carte Sociétaire - GERS »…), made once."""
    code = (
        f"carte-societaire-gers-{year}"
        if cr.code == PG_CODE
        else f"carte-societaire-{cr.code}-{year}"
    )
    program, _ = Program.objects.get_or_create(
        code=code,
        defaults={
            "caisse_regionale": cr,
            "name": f"Carte Sociétaire - {cr.program_label}",
            "year": year,
            "opens_on": datetime.date(year, 1, 1),
            "closes_on": datetime.date(year, 12, 31),
        },
    )
    return program


def _clamp(value, low, high):
    return max(low, min(high, value))


def _associations_for(
    rng, cr, cr_index, locales, activities, domains, count, status, start, used_names
):
    """``count`` unsaved associations of one regional bank, numbered from ``start``."""
    rows = []
    now = timezone.now()
    for n in range(start, start + count):
        locale = locales[rng.randrange(len(locales))]
        subject, activity_code, domain_code = SUBJECTS[rng.randrange(len(SUBJECTS))]
        place = locale.name.removeprefix(f"{cr.name} ")
        of_place = f"d’{place}" if place[:1] in "AEIOUÉÈH" else f"de {place}"
        name = rng.choice(PATTERNS).format(subject=subject, place=place, of_place=of_place)
        if name in used_names:  # keep names distinct: « … 2 », « … 3 » …
            suffix = 2
            while f"{name} {suffix}" in used_names:
                suffix += 1
            name = f"{name} {suffix}"
        used_names.add(name)
        account = f"7{cr_index:02d}{n:08d}"
        assert account not in RESERVED_ACCOUNTS
        rows.append(
            Association(
                caisse_regionale=cr,
                caisse_locale=locale,
                account_number=account,
                name=name,
                search_name=normalize_search(name),  # bulk_create skips save()
                rna_number=f"W{cr_index:03d}{n:06d}",
                jo_publication_date=datetime.date(rng.randint(1950, 2022), rng.randint(1, 12), 1),
                presentation=rng.choice(PRESENTATIONS).format(what=subject.lower()),
                activity=activities[activity_code],
                domain=domains[domain_code],
                address=f"{rng.randint(1, 60)} {rng.choice(STREETS)}",
                postal_code=f"{locale.departement}{rng.randint(0, 999):03d}"[:5],
                city=place,
                latitude=round(
                    _clamp(locale.latitude + rng.gauss(0, 0.04), cr.min_lat, cr.max_lat), 5
                ),
                longitude=round(
                    _clamp(locale.longitude + rng.gauss(0, 0.05), cr.min_lng, cr.max_lng), 5
                ),
                email=f"contact{n}@asso-{cr.code}.example",
                president_name=rng.choice(["Marie", "Jean", "Hélène", "André", "Chloé", "Rémi"])
                + " "
                + rng.choice(["Lafitte", "Darrigade", "Béguerie", "Laborde", "Castéra", "Pujol"]),
                status=status,
                submitted_at=now,
                validated_at=now if status == Association.Status.VALIDATED else None,
            )
        )
    return rows


def seed(rng, *, associations: int | None = None) -> str:
    per_caisse = DEFAULT_PER_CAISSE if associations is None else associations
    year = timezone.localdate().year
    activities = {a.code: a for a in Activity.objects.all()}
    domains = {d.code: d for d in Domain.objects.all()}
    created = enrolled = 0
    with transaction.atomic():
        for cr_index, cr in enumerate(CaisseRegionale.objects.order_by("code")):
            program = demo_program(cr, year)
            locales = list(cr.caisses_locales.order_by("code"))
            if not locales or cr.associations.exists():
                continue  # no local banks yet, or already seeded
            if cr.code == PG_CODE:
                plan = [
                    (PG_ENROLLED, Association.Status.VALIDATED, True),
                    (PG_NOT_ENROLLED, Association.Status.VALIDATED, False),
                    (PG_SUBMITTED, Association.Status.SUBMITTED, False),
                ]
            else:
                plan = [(per_caisse, Association.Status.VALIDATED, True)]
            start = 1
            used_names = set()
            for count, status, enrol in plan:
                rows = _associations_for(
                    rng,
                    cr,
                    cr_index,
                    locales,
                    activities,
                    domains,
                    count,
                    status,
                    start,
                    used_names,
                )
                start += count
                Association.objects.bulk_create(rows, batch_size=1000)
                created += len(rows)
                if enrol:
                    # Primary keys come back from bulk_create on PostgreSQL and SQLite ≥ 3.35.
                    Enrollment.objects.bulk_create(
                        [Enrollment(association=a, program=program) for a in rows],
                        batch_size=1000,
                    )
                    enrolled += len(rows)
    if created and connection.vendor == "postgresql":
        # Fresh statistics after a bulk load, so the first directory requests get good plans.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE associations_association, associations_enrollment")
    return f"{created} associations dont {enrolled} enrôlées pour {year}"
