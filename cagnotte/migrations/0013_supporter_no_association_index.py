"""Supporter: drop the index on association alone (issue 22 §2).

``supporter_unique`` (association, member) already serves every lookup by association (its
leading column); the extra index only cost the year-end sweep one index entry per new
supporter. The foreign key stays: only its index goes, by a plain DROP INDEX (Django's own
AlterField would drop and re-add the foreign key, re-checking every row under lock).
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "cagnotte_supporter_association_id_69326853"


class Migration(migrations.Migration):
    dependencies = [
        ("associations", "0016_thank_you_history"),
        ("cagnotte", "0012_ledger_partitioned_by_year"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="supporter",
                    name="association",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="supporters",
                        to="associations.association",
                        verbose_name="association",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "cagnotte_supporter" ("association_id")',
                ),
            ],
        ),
    ]
