"""Staff permissions for the campaign close (issue 10).

* Enrollment moved from associations to cagnotte: its content type follows (same table, same
  permissions, so the « Service Tookets » group keeps seeing enrolments);
* the group sees sweep runs, payout statements and their lines, and may act on statements
  (export, mark sent, mark paid — scoped to the staff member's bank by the admin).
"""

from django.db import migrations

GROUP_NAME = "Service Tookets"


def forward(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="cagnotte", model="enrollment").exists():
        ContentType.objects.filter(app_label="associations", model="enrollment").update(
            app_label="cagnotte"
        )
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    codenames = [
        "view_enrollment",
        "view_sweeprun",
        "view_payoutstatement",
        "view_payoutline",
        "change_payoutstatement",
    ]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="cagnotte", codename__in=codenames)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cagnotte", "0007_enrollment_sweep_runs_payouts"),
        ("accounts", "0002_service_tookets_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
