"""The directory's version also follows the regional banks: the map page shows its bank's
centre and bounds, and the directory's cached fragments are keyed by the version (see
``DirectoryVersion``). Writes to that table are a few a year, so the shared row is no hot spot.
"""

from django.db import migrations

TABLE = "caisses_caisseregionale"
SQLITE_BUMP = (
    "INSERT INTO associations_directoryversion (id, version) "
    "VALUES (1, abs(random()) % 1000000000000000) "
    "ON CONFLICT (id) DO UPDATE SET version = version + 1;"
)
EVENTS = ("insert", "update", "delete")


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_directory_version AFTER INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {TABLE} FOR EACH STATEMENT "
            "EXECUTE FUNCTION tookets_bump_directory_version();"
        )
    elif vendor == "sqlite":
        for event in EVENTS:
            schema_editor.execute(
                f"CREATE TRIGGER {TABLE}_{event}_directory_version AFTER {event.upper()} "
                f"ON {TABLE} BEGIN {SQLITE_BUMP} END;"
            )
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no directory-version triggers for {vendor}")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_directory_version ON {TABLE};")
    else:
        for event in EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{event}_directory_version;")


class Migration(migrations.Migration):
    dependencies = [("associations", "0010_directory_version")]
    operations = [migrations.RunPython(install, uninstall)]
