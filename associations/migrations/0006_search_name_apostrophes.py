"""Recompute the search name of associations whose name has a typographic apostrophe.

``normalize_search`` now folds « ’ » (and its look-alikes) into the keyboard's « ' », so that
a member typing « club d'auch » finds « Football Club d’Auch ». Names stored before kept the
typographic form in ``search_name``; only those rows are rewritten.
"""

from django.db import migrations
from django.db.models import Q

from associations.models import normalize_search

VARIANTS = ("\u2019", "\u2018", "\u02bc", "`")
BATCH_SIZE = 2000


def recompute(apps, schema_editor):
    Association = apps.get_model("associations", "Association")
    has_variant = Q()
    for variant in VARIANTS:
        has_variant |= Q(name__contains=variant)
    rows = Association.objects.filter(has_variant).only("pk", "name", "search_name")
    changed = []
    for association in rows.iterator(chunk_size=BATCH_SIZE):
        search_name = normalize_search(association.name)
        if search_name != association.search_name:
            association.search_name = search_name
            changed.append(association)
        if len(changed) >= BATCH_SIZE:
            Association.objects.bulk_update(changed, ["search_name"])
            changed = []
    if changed:
        Association.objects.bulk_update(changed, ["search_name"])


class Migration(migrations.Migration):
    dependencies = [("associations", "0005_french_verbose_names")]
    operations = [migrations.RunPython(recompute, migrations.RunPython.noop, elidable=True)]
