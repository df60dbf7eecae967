"""Trigram index for the directory's name search (PostgreSQL only).

The search is ``search_name LIKE '%needle%'`` on the normalized name; a B-tree cannot serve a
leading wildcard, a pg_trgm GIN index can. On SQLite (development) this migration does nothing.
"""

from django.db import migrations

INDEX = "association_search_name_trgm"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON associations_association "
        "USING gin (search_name gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("associations", "0003_load_activities_domains")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
