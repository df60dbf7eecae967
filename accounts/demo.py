"""Demo members, the demo identities everyone relies on, and demo staff.

Members exist twice, as in production: in the bank's directory (``BankCustomer``, the code
hashed) and as Tookets users (``User`` kind member), so credits can be imported for members
who never logged in. Rows are bulk-inserted; hashing is slow by design, so the shared demo
code is hashed once and the hash string reused.
"""

import unicodedata

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import BankCustomer, User
from caisses.models import CaisseLocale, CaisseRegionale

DEMO_CODE = "123456"
STAFF_PASSWORD = "tookets-demo"
HOME_CAISSE = "pyrenees-gascogne"
# Share of the generated members in the home regional bank; the rest is spread over the others.
HOME_SHARE = 0.4
BATCH_SIZE = 5000

DEMO_MEMBER = ("98652706859", "Jeanne", "Dupont")
DEMO_PRESIDENT = ("98652700001", "Pierre", "Lacoste")
DEMO_NOT_SOCIETAIRE = ("98652700002", "Marc", "Lefèvre")
DEMO_NO_ONLINE_BANKING = ("98652700003", "Odile", "Garnier")
DEMO_ASSOCIATION_ACCOUNT = "98652790001"
DEMO_ASSOCIATION_NAME = "Association Sportive Gersoise"
DEMO_STAFF = [
    # username, regional bank code (None: national), superuser
    ("staff-pg", HOME_CAISSE, False),
    ("staff-t31", "toulouse-31", False),
    ("admin", None, True),
]

FIRST_NAMES = (
    "Marie Jean Pierre Michel Anne Philippe Nathalie Isabelle Sylvie Catherine Françoise "
    "Alain Christophe Patrick Nicolas Stéphane Sandrine Valérie Christine Laurent Éric "
    "Frédéric Sébastien David Julien Céline Aurélie Émilie Camille Léa Manon Chloé Inès "
    "Hugo Lucas Louis Gabriel Arthur Jules Raphaël Thomas Mathilde Hélène Bernard Josette "
    "Gérard Monique Yvette Jacques Régine Amandine Clément Maxime Élodie Pauline Romain "
    "Guillaume Océane Benoît Gaëlle Loïc Maël Noémie Josiane Thierry Dominique Pascale"
).split()
LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier "
    "Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc Guérin "
    "Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez "
    "Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval Joly "
    "Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Pérez Marchand Dufour Blanchard "
    "Barbe Brun Dumas Brunet Schmitt Leroux Colin Fernandez Lacoste Cazenave Dupuy Lafitte "
    "Darrigrand Labat Soulé Castaing Duprat Larrieu Bordes Lasserre Barrère Sarthou Lannes"
).split()


def _ascii(text: str) -> str:
    return (
        unicodedata.normalize("NFKD", text)
        .encode("ascii", "ignore")
        .decode()
        .lower()
        .replace(" ", "")
    )


def _email(first: str, last: str, n: int | str) -> str:
    return f"{_ascii(first)}.{_ascii(last)}{n}@example.test"


def seed(rng, *, members: int = 2000) -> str:
    if BankCustomer.objects.filter(account_number=DEMO_MEMBER[0]).exists():
        return "déjà présents"
    code_hash = make_password(DEMO_CODE)  # once: hashing is slow by design
    now = timezone.now()
    caisses = list(CaisseRegionale.objects.order_by("code"))
    by_code = {cr.code: cr for cr in caisses}
    locales: dict[int, list[int]] = {}
    for cr_id, locale_id in CaisseLocale.objects.order_by("pk").values_list(
        "caisse_regionale_id", "pk"
    ):
        locales.setdefault(cr_id, []).append(locale_id)
    home = by_code[HOME_CAISSE]
    others = [cr for cr in caisses if cr.code != HOME_CAISSE]

    customers: list[BankCustomer] = []
    users: list[User] = []

    def add_person(cr, account, first, last, email, *, societaire=True, online=True, user=True):
        locale_ids = locales.get(cr.pk)
        locale_id = rng.choice(locale_ids) if locale_ids else None
        name = f"{first} {last}"
        customers.append(
            BankCustomer(
                caisse_regionale_id=cr.pk,
                caisse_locale_id=locale_id,
                account_number=account,
                kind=BankCustomer.Kind.PERSON,
                name=name,
                email=email,
                is_societaire=societaire,
                is_online_banking=online,
                personal_code=code_hash,
            )
        )
        if user:
            users.append(
                User(
                    username=f"{cr.code}:{account}",
                    password="!",  # unusable: members log in through the bank
                    kind=User.Kind.MEMBER,
                    caisse_regionale_id=cr.pk,
                    caisse_locale_id=locale_id,
                    account_number=account,
                    first_name=first,
                    last_name=last,
                    display_name=name,
                    email=email,
                    is_societaire=True,
                    date_joined=now,
                )
            )

    # The shared demo identities (see the common brief).
    account, first, last = DEMO_MEMBER
    add_person(home, account, first, last, "jeanne.dupont@example.test")
    account, first, last = DEMO_PRESIDENT
    add_person(home, account, first, last, "pierre.lacoste@example.test")
    account, first, last = DEMO_NOT_SOCIETAIRE
    add_person(
        home, account, first, last, "marc.lefevre@example.test", societaire=False, user=False
    )
    account, first, last = DEMO_NO_ONLINE_BANKING
    add_person(home, account, first, last, "odile.garnier@example.test", online=False, user=False)

    # Generated members: account numbers « 4x » + a counter per regional bank never meet the
    # demo ones (« 9865… ») nor the test factories' (« 1… », « 2… », « 3… »).
    prefixes = {cr.pk: 40 + i for i, cr in enumerate(caisses)}
    counters = {cr.pk: 0 for cr in caisses}
    for i in range(members):
        cr = home if rng.random() < HOME_SHARE else others[rng.randrange(len(others))]
        counters[cr.pk] += 1
        account = f"{prefixes[cr.pk]:02d}{counters[cr.pk]:09d}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        add_person(cr, account, first, last, _email(first, last, i + 1))

    BankCustomer.objects.bulk_create(customers, batch_size=BATCH_SIZE)
    User.objects.bulk_create(users, batch_size=BATCH_SIZE)

    # The association account the demo president manages (not yet registered in Tookets).
    association = BankCustomer.objects.create(
        caisse_regionale=home,
        caisse_locale_id=(locales.get(home.pk) or [None])[0],
        account_number=DEMO_ASSOCIATION_ACCOUNT,
        kind=BankCustomer.Kind.ASSOCIATION,
        name=DEMO_ASSOCIATION_NAME,
        email="contact@as-gersoise.example.test",
        phone="05 62 00 00 01",
        address="12 rue Gambetta",
        postal_code="32000",
        city="Auch",
        is_societaire=True,
        is_online_banking=True,
    )
    association.managers.add(
        BankCustomer.objects.get(caisse_regionale=home, account_number=DEMO_PRESIDENT[0])
    )

    _seed_staff(by_code)
    return (
        f"{len(users)} sociétaires, 1 compte d’association, {len(DEMO_STAFF)} comptes du personnel"
    )


def _seed_staff(by_code) -> None:
    password = make_password(STAFF_PASSWORD)
    group = Group.objects.filter(name="Service Tookets").first()
    for username, caisse_code, superuser in DEMO_STAFF:
        user, _created = User.objects.update_or_create(
            username=username,
            defaults={
                "kind": User.Kind.STAFF,
                "caisse_regionale": by_code[caisse_code] if caisse_code else None,
                "is_staff": True,
                "is_superuser": superuser,
                "password": password,
                "display_name": username,
                "email": f"{username}@tookets.example",
            },
        )
        if group and not superuser:
            user.groups.add(group)
