"""The directory's version row and the triggers that bump it (see ``DirectoryVersion``).

PostgreSQL: statement-level triggers on enrolments, programs and the filters' reference tables
(a bulk enrolment bumps once), row-level on associations so that drafts being edited in the
registration wizard do not touch the shared row. SQLite has only row-level triggers.

The bump is an upsert starting from a random value: if the row is gone (a TRUNCATE, as test
flushes do), the next version does not repeat a number an ETag may still carry.
"""

from django.db import migrations, models

TABLE = "associations_directoryversion"
STATEMENT_TABLES = [
    "associations_enrollment",
    "cagnotte_program",
    "associations_activity",
    "associations_domain",
    "caisses_caisselocale",
]
ASSOCIATION = "associations_association"
VALIDATED = "'validated'"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tookets_bump_directory_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO {TABLE} (id, version) VALUES (1, (random() * 1e15)::bigint)
    ON CONFLICT (id) DO UPDATE SET version = {TABLE}.version + 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""


def _pg_sql():
    statements = [PG_FUNCTION]
    for table in STATEMENT_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_directory_version AFTER INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
            "EXECUTE FUNCTION tookets_bump_directory_version();"
        )
    for event, when in [
        ("INSERT", f"NEW.status = {VALIDATED}"),
        ("UPDATE", f"OLD.status = {VALIDATED} OR NEW.status = {VALIDATED}"),
        ("DELETE", f"OLD.status = {VALIDATED}"),
    ]:
        statements.append(
            f"CREATE TRIGGER {ASSOCIATION}_{event.lower()}_directory_version AFTER {event} "
            f"ON {ASSOCIATION} FOR EACH ROW WHEN ({when}) "
            "EXECUTE FUNCTION tookets_bump_directory_version();"
        )
    statements.append(
        f"CREATE TRIGGER {ASSOCIATION}_truncate_directory_version AFTER TRUNCATE "
        f"ON {ASSOCIATION} FOR EACH STATEMENT EXECUTE FUNCTION tookets_bump_directory_version();"
    )
    return statements


SQLITE_BUMP = (
    f"INSERT INTO {TABLE} (id, version) VALUES (1, abs(random()) % 1000000000000000) "
    f"ON CONFLICT (id) DO UPDATE SET version = version + 1;"
)


def _sqlite_sql():
    statements = []
    for table in STATEMENT_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_{event.lower()}_directory_version AFTER {event} "
                f"ON {table} BEGIN {SQLITE_BUMP} END;"
            )
    for event, when in [
        ("INSERT", f"NEW.status = {VALIDATED}"),
        ("UPDATE", f"OLD.status = {VALIDATED} OR NEW.status = {VALIDATED}"),
        ("DELETE", f"OLD.status = {VALIDATED}"),
    ]:
        statements.append(
            f"CREATE TRIGGER {ASSOCIATION}_{event.lower()}_directory_version AFTER {event} "
            f"ON {ASSOCIATION} FOR EACH ROW WHEN {when} BEGIN {SQLITE_BUMP} END;"
        )
    return statements


def _trigger_names(vendor):
    names = []
    if vendor == "postgresql":
        names += [(f"{t}_directory_version", t) for t in STATEMENT_TABLES]
        names.append((f"{ASSOCIATION}_truncate_directory_version", ASSOCIATION))
    else:
        names += [
            (f"{t}_{e}_directory_version", t)
            for t in STATEMENT_TABLES
            for e in ("insert", "update", "delete")
        ]
    names += [
        (f"{ASSOCIATION}_{e}_directory_version", ASSOCIATION)
        for e in ("insert", "update", "delete")
    ]
    return names


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _pg_sql()
    elif vendor == "sqlite":
        statements = _sqlite_sql()
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no directory-version triggers for {vendor}")
    statements.append(
        f"INSERT INTO {TABLE} (id, version) VALUES (1, 1) ON CONFLICT (id) DO NOTHING;"
    )
    for sql in statements:
        schema_editor.execute(sql)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table in _trigger_names(vendor):
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name};")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tookets_bump_directory_version();")


class Migration(migrations.Migration):
    dependencies = [
        ("associations", "0009_enrollment_moved_to_cagnotte"),
        ("cagnotte", "0009_program_reminder_days"),
        ("caisses", "0004_bank_code_bic"),
    ]
    operations = [
        migrations.CreateModel(
            name="DirectoryVersion",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, primary_key=True, serialize=False, verbose_name="identifiant"
                    ),
                ),
                ("version", models.BigIntegerField(default=0, verbose_name="version")),
            ],
            options={
                "verbose_name": "version de l’annuaire",
                "verbose_name_plural": "versions de l’annuaire",
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
