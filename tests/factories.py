"""factory_boy factories for the standard cast of tests."""

import datetime

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import BankCustomer, User
from associations.models import Activity, Association, Domain, Project
from cagnotte.campaigns import Enrollment
from cagnotte.models import Program, Wallet
from caisses.models import CaisseLocale, CaisseRegionale

DEMO_CODE = "123456"
# Hashing is slow by design: hash the shared test code once.
_DEMO_CODE_HASH = None


def demo_code_hash():
    global _DEMO_CODE_HASH
    if _DEMO_CODE_HASH is None:
        _DEMO_CODE_HASH = make_password(DEMO_CODE)
    return _DEMO_CODE_HASH


def caisse(code="pyrenees-gascogne") -> CaisseRegionale:
    return CaisseRegionale.objects.get(code=code)


class CaisseLocaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaisseLocale

    caisse_regionale = factory.LazyFunction(caisse)
    code = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.Sequence(lambda n: f"Caisse locale {n}")
    departement = "32"
    latitude = factory.LazyAttribute(lambda o: o.caisse_regionale.center_lat)
    longitude = factory.LazyAttribute(lambda o: o.caisse_regionale.center_lng)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    kind = User.Kind.MEMBER
    caisse_regionale = factory.LazyFunction(caisse)
    account_number = factory.Sequence(lambda n: f"{10000000000 + n:011d}")
    username = factory.LazyAttribute(lambda o: f"{o.caisse_regionale.code}:{o.account_number}")
    display_name = factory.Sequence(lambda n: f"Sociétaire {n}")
    email = factory.Sequence(lambda n: f"membre{n}@example.test")
    is_societaire = True
    password = "!"  # unusable: members log in through the bank


MemberFactory = UserFactory


class StaffFactory(UserFactory):
    kind = User.Kind.STAFF
    account_number = None
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_societaire = False
    password = factory.LazyFunction(lambda: make_password("staff-password"))


class BankCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BankCustomer

    caisse_regionale = factory.LazyFunction(caisse)
    account_number = factory.Sequence(lambda n: f"{20000000000 + n:011d}")
    kind = BankCustomer.Kind.PERSON
    name = factory.Sequence(lambda n: f"Client {n}")
    email = factory.Sequence(lambda n: f"client{n}@example.test")
    is_societaire = True
    is_online_banking = True
    personal_code = factory.LazyFunction(demo_code_hash)


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    caisse_regionale = factory.LazyFunction(caisse)
    year = factory.LazyFunction(lambda: timezone.localdate().year)
    code = factory.Sequence(lambda n: f"programme-{n}")
    name = factory.LazyAttribute(lambda o: f"Carte Sociétaire - {o.caisse_regionale.program_label}")
    opens_on = factory.LazyAttribute(lambda o: datetime.date(o.year, 1, 1))
    closes_on = factory.LazyAttribute(lambda o: datetime.date(o.year, 12, 31))


class AssociationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Association

    caisse_regionale = factory.LazyFunction(caisse)
    caisse_locale = factory.LazyAttribute(
        lambda o: CaisseLocaleFactory(caisse_regionale=o.caisse_regionale)
    )
    account_number = factory.Sequence(lambda n: f"{30000000000 + n:011d}")
    name = factory.Sequence(lambda n: f"Association {n}")
    rna_number = factory.Sequence(lambda n: f"W{n:09d}")
    jo_publication_date = datetime.date(2015, 3, 14)
    presentation = "Une association de test."
    activity = factory.LazyFunction(lambda: Activity.objects.order_by("code").first())
    domain = factory.LazyFunction(lambda: Domain.objects.order_by("code").first())
    latitude = factory.LazyAttribute(lambda o: o.caisse_regionale.center_lat)
    longitude = factory.LazyAttribute(lambda o: o.caisse_regionale.center_lng)
    status = Association.Status.VALIDATED


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    association = factory.SubFactory(AssociationFactory)
    program = factory.SubFactory(ProgramFactory)


class WalletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Wallet

    member = factory.SubFactory(MemberFactory)
    program = factory.SubFactory(ProgramFactory)


def bank_association(caisse_regionale, caisse_locale, *, account, manager_account):
    """The bank's record of an association account and the person allowed to manage it.

    As in the demo: « Association Sportive Gersoise », no code of its own (its manager's
    personal code, the demo code, authenticates it).
    """
    manager = BankCustomerFactory(
        caisse_regionale=caisse_regionale, account_number=manager_account, name="Marie Curie"
    )
    customer = BankCustomerFactory(
        caisse_regionale=caisse_regionale,
        caisse_locale=caisse_locale,
        account_number=account,
        kind=BankCustomer.Kind.ASSOCIATION,
        name="Association Sportive Gersoise",
        email="asg@example.test",
        address="2 rue du Stade",
        postal_code="32000",
        city="Auch",
        personal_code="",
    )
    customer.managers.add(manager)
    return customer


class ProjectFactory(factory.django.DjangoModelFactory):
    """An accepted project of an association, for one of its programs, with a small photo."""

    class Meta:
        model = Project

    association = factory.SubFactory(AssociationFactory)
    program = factory.SubFactory(ProgramFactory)
    title = factory.Sequence(lambda n: f"Projet {n}")
    text = "Ce que nous allons faire."
    goal = 50_000
    ends_on = factory.LazyAttribute(lambda o: o.program.closes_on)
    status = Project.Status.ACCEPTED
    photo = factory.django.ImageField(filename="projet.jpg", format="JPEG", width=40, height=30)
