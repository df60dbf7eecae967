from django.db import migrations


def load(apps, schema_editor):
    from caisses.data import CAISSES_REGIONALES

    CaisseRegionale = apps.get_model("caisses", "CaisseRegionale")
    for code, name, label, departements, (lat, lng), (a, b, c, d) in CAISSES_REGIONALES:
        CaisseRegionale.objects.update_or_create(
            code=code,
            defaults=dict(
                name=name, program_label=label, departements=departements,
                center_lat=lat, center_lng=lng, min_lat=a, max_lat=b, min_lng=c, max_lng=d,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("caisses", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
