"""The « Service Tookets » group: what regional-bank staff may do in the admin.

Staff see every Tookets model and change the rows they look after (customers' settings,
the bank directory, local banks, associations). Which rows they see is scoped by regional
bank in the admin classes (caisses.admin.CaisseScopedAdmin), not by these permissions.
"""

from django.db import migrations

GROUP_NAME = "Service Tookets"
APPS = ["caisses", "accounts", "associations", "cagnotte"]
CHANGE = [
    ("accounts", "user"),
    ("accounts", "bankcustomer"),
    ("caisses", "caisselocale"),
    ("associations", "association"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran: create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    view = Permission.objects.filter(
        content_type__app_label__in=APPS, codename__startswith="view_"
    )
    change = Permission.objects.none()
    for app_label, model in CHANGE:
        change |= Permission.objects.filter(
            content_type__app_label=app_label, codename=f"change_{model}"
        )
    group.permissions.add(*view, *change)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("caisses", "0002_load_caisses_regionales"),
        ("associations", "0003_load_activities_domains"),
        ("cagnotte", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
