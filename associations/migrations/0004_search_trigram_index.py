"""Indexes for the directory (PostgreSQL only; on SQLite, for development, nothing).

- The name search is ``search_name LIKE '%needle%'`` on the normalized name; a B-tree cannot
  serve a leading wildcard, a pg_trgm GIN index can.
- The list is a regional bank's validated associations by name, 20 at a time: an index in that
  order lets PostgreSQL stop after the page instead of sorting the whole directory.
"""

from django.db import migrations

INDEX = "association_search_name_trgm"
ORDER_INDEX = "association_directory_order"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON associations_association "
        "USING gin (search_name gin_trgm_ops)"
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {ORDER_INDEX} ON associations_association "
        "(caisse_regionale_id, status, name, id)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {ORDER_INDEX}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("associations", "0003_load_activities_domains")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
