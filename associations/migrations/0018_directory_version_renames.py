"""The directory's version also follows a rename of an association out of the draft, whatever
its status: a member's year end names the association their last sweep went to
(``cagnotte.selectors.year_end_state_sql`` keeps the favourites page's preview under the
version), and that association may be validated no more — an update of a row that is not
validated and was not bumped nothing (``0010``, which still bumps for a validated row: this
trigger leaves those to it). A draft has received nothing, and its
name changes at each step of the registration wizard: it still bumps nothing. Renames out of
the draft are rare (a correction, a new name voted by the members).
"""

from django.db import migrations

VERSION_FUNCTION = "tookets_bump_directory_version()"
ASSOCIATION = "associations_association"
TRIGGER = f"{ASSOCIATION}_rename_directory_version"
# A validated row, before or after, bumps already (0010's update trigger): not twice.
RENAMED = (
    "OLD.name IS DISTINCT FROM NEW.name AND OLD.status NOT IN ('draft', 'validated') "
    "AND NEW.status <> 'validated'"
)
SQLITE_BUMP = (
    "INSERT INTO associations_directoryversion (id, version) "
    "VALUES (1, abs(random()) % 1000000000000000) "
    "ON CONFLICT (id) DO UPDATE SET version = version + 1;"
)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        sql = (
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF name ON {ASSOCIATION} FOR EACH ROW "
            f"WHEN ({RENAMED}) EXECUTE FUNCTION {VERSION_FUNCTION};"
        )
    elif vendor == "sqlite":
        sql = (
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF name ON {ASSOCIATION} FOR EACH ROW "
            f"WHEN {RENAMED} BEGIN {SQLITE_BUMP} END;"
        )
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no directory-version triggers for {vendor}")
    schema_editor.execute(sql)


def uninstall(apps, schema_editor):
    on = f" ON {ASSOCIATION}" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}{on};")


class Migration(migrations.Migration):
    dependencies = [
        ("associations", "0017_directory_version_offers"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
