"""The staff admin speaks French: every field has a French label, every object a readable name."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import AbstractUser
from django.urls import reverse

from associations.models import StatusChange
from cagnotte.models import Favourite, LedgerEntry
from tests import factories as f

OUR_APPS = ["caisses", "accounts", "associations", "cagnotte", "tookets"]
INHERITED_FROM_DJANGO = {field.name for field in AbstractUser._meta.get_fields()}


def _our_models():
    for label in OUR_APPS:
        yield from apps.get_app_config(label).get_models()


@pytest.mark.parametrize("model", list(_our_models()), ids=lambda model: model._meta.label)
def test_every_model_and_field_has_a_french_label(model):
    # Without an explicit label Django shows the English attribute name (« from status »).
    assert "verbose_name" in model._meta.original_attrs
    assert "verbose_name_plural" in model._meta.original_attrs
    unlabelled = [
        field.name
        for field in model._meta.get_fields()
        if field.concrete
        and not field.auto_created
        and field.name not in INHERITED_FROM_DJANGO
        and field._verbose_name is None
    ]
    assert unlabelled == []


def test_status_change_labels_in_french():
    labels = {field.name: str(field.verbose_name) for field in StatusChange._meta.fields}
    assert labels["from_status"] == "statut précédent"
    assert labels["to_status"] == "nouveau statut"
    assert labels["actor"] == "auteur"


@pytest.mark.django_db
def test_admin_pages_render_in_french(client, national_staff, association, member, program):
    national_staff.is_superuser = True
    national_staff.save()
    wallet = f.WalletFactory(member=member, program=program)
    LedgerEntry.objects.create(
        wallet=wallet,
        kind="credit",
        amount=100,
        reference="credit-1",
        period="2026-11",
        year=program.year,
    )
    StatusChange.objects.create(
        association=association,
        event="validated",
        from_status="submitted",
        to_status="validated",
    )
    Favourite.objects.create(member=member, association=association)
    client.force_login(national_staff)

    seen = 0
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        if obj := model.objects.first():
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        for url in urls:
            page = client.get(url)
            assert page.status_code == 200, url
            html = page.content.decode()
            assert " object (" not in html, url  # a model without __str__
            seen += 1
    assert seen >= 15

    html = client.get(reverse("admin:associations_statuschange_changelist")).content.decode()
    assert "Statut précédent" in html and "Nouveau statut" in html and "Auteur" in html
    assert "Les Amis du Gers : Validée" in client.get(
        reverse("admin:associations_statuschange_change", args=[StatusChange.objects.get().pk])
    ).content.decode("utf-8")
    entry = LedgerEntry.objects.get()
    html = client.get(reverse("admin:cagnotte_ledgerentry_change", args=[entry.pk])).content
    assert "Tookets récoltés +100 K (credit-1)" in html.decode()


@pytest.mark.django_db
def test_an_english_browser_still_gets_the_admin_in_french(client, staff_pg, pg_caisse):
    client.force_login(staff_pg)
    page = client.get(
        reverse("admin:associations_association_changelist"), HTTP_ACCEPT_LANGUAGE="en-US,en"
    )
    html = page.content.decode()
    assert '<html lang="fr"' in html
    assert "Sélectionnez l’objet association à changer" in html


@pytest.mark.django_db
def test_bank_staff_lists_drop_the_bank_column(client, staff_pg, national_staff, association):
    url = reverse("admin:associations_association_changelist")
    client.force_login(staff_pg)
    assert "column-caisse_regionale" not in client.get(url).content.decode()
    client.force_login(national_staff)
    assert "column-caisse_regionale" in client.get(url).content.decode()
