"""Supporter: its two foreign keys checked per statement by triggers (issue 22 §2).

On PostgreSQL the declared keys on ``member_id`` and ``association_id`` are dropped (their
names read from the catalog) and replaced by the triggers of ``cagnotte.set_keys``, which say
why. SQLite keeps its declared keys: its table is left as it is.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from cagnotte import set_keys


def _tables(apps) -> dict:
    supporter = apps.get_model("cagnotte", "Supporter")
    return {
        "user_table": supporter._meta.get_field("member").related_model._meta.db_table,
        "association_table": supporter._meta.get_field("association").related_model._meta.db_table,
    }


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(set_keys.DECLARED_KEYS_QUERY)
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'ALTER TABLE {set_keys.SUPPORTERS} DROP CONSTRAINT "{name}"')
    for statement in set_keys.postgresql_create(**_tables(apps)):
        schema_editor.execute(statement, params=None)  # no placeholders: % is plpgsql


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in set_keys.postgresql_drop(**_tables(apps)):
        schema_editor.execute(statement, params=None)  # no placeholders: % is plpgsql
    for statement in set_keys.declared_keys_sql(**_tables(apps)):
        schema_editor.execute(statement, params=None)  # no placeholders: % is plpgsql


class Migration(migrations.Migration):
    dependencies = [
        ("associations", "0016_thank_you_history"),
        ("cagnotte", "0013_supporter_no_association_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="supporter",
                    name="association",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="supporters",
                        to="associations.association",
                        verbose_name="association",
                    ),
                ),
                migrations.AlterField(
                    model_name="supporter",
                    name="member",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="sociétaire",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
