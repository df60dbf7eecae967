from django.db import migrations

ACTIVITIES = [
    ("sport", "Sport"), ("culture", "Culture"), ("solidarite", "Solidarité"),
    ("environnement", "Environnement"), ("sante", "Santé"), ("education", "Éducation"),
    ("patrimoine", "Patrimoine"), ("animaux", "Animaux"), ("loisirs", "Loisirs"),
    ("jeunesse", "Jeunesse"), ("handicap", "Handicap"), ("musique", "Musique"),
]
DOMAINS = [
    ("action-sociale", "Action sociale"), ("arts-spectacle", "Arts et spectacle"),
    ("sport-loisirs", "Sport et loisirs"), ("nature", "Nature et biodiversité"),
    ("sante-recherche", "Santé et recherche"), ("enfance", "Enfance et jeunesse"),
    ("vie-locale", "Vie locale et patrimoine"), ("insertion", "Insertion et emploi"),
    ("aide-humanitaire", "Aide humanitaire"),
]


def load(apps, schema_editor):
    Activity = apps.get_model("associations", "Activity")
    Domain = apps.get_model("associations", "Domain")
    for code, label in ACTIVITIES:
        Activity.objects.update_or_create(code=code, defaults={"label": label})
    for code, label in DOMAINS:
        Domain.objects.update_or_create(code=code, defaults={"label": label})


class Migration(migrations.Migration):
    dependencies = [("associations", "0002_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
