"""Each regional bank's associations version and the triggers that bump it (see
``BankAssociationsVersion``).

Row-level triggers on associations, for every status (the staff's pages show drafts and
refused files too): an insert bumps the new row's bank, a delete the old row's, an update
both when the bank changed. A TRUNCATE of associations bumps every bank (PostgreSQL).

The bump is an upsert starting from a random value, as the directory's: if the row is gone
(a TRUNCATE, as test flushes do), the next version does not repeat a number a cached
fragment may still be keyed by.
"""

from django.db import migrations, models

TABLE = "associations_bankassociationsversion"
ASSOCIATION = "associations_association"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tookets_bump_bank_associations_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE {TABLE} SET version = version + 1;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {TABLE} (caisse_regionale_id, version)
        VALUES (NEW.caisse_regionale_id, (random() * 1e15)::bigint)
        ON CONFLICT (caisse_regionale_id) DO UPDATE SET version = {TABLE}.version + 1;
    END IF;
    IF TG_OP = 'DELETE'
       OR (TG_OP = 'UPDATE' AND OLD.caisse_regionale_id <> NEW.caisse_regionale_id) THEN
        INSERT INTO {TABLE} (caisse_regionale_id, version)
        VALUES (OLD.caisse_regionale_id, (random() * 1e15)::bigint)
        ON CONFLICT (caisse_regionale_id) DO UPDATE SET version = {TABLE}.version + 1;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""
PG_TRIGGERS = [
    f"CREATE TRIGGER {ASSOCIATION}_bank_version AFTER INSERT OR UPDATE OR DELETE "
    f"ON {ASSOCIATION} FOR EACH ROW EXECUTE FUNCTION tookets_bump_bank_associations_version();",
    f"CREATE TRIGGER {ASSOCIATION}_truncate_bank_version AFTER TRUNCATE "
    f"ON {ASSOCIATION} FOR EACH STATEMENT "
    "EXECUTE FUNCTION tookets_bump_bank_associations_version();",
]


def _sqlite_bump(row: str) -> str:
    return (
        f"INSERT INTO {TABLE} (caisse_regionale_id, version) "
        f"VALUES ({row}.caisse_regionale_id, abs(random()) % 1000000000000000) "
        "ON CONFLICT (caisse_regionale_id) DO UPDATE SET version = version + 1;"
    )


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER {ASSOCIATION}_insert_bank_version AFTER INSERT ON {ASSOCIATION} "
    f"BEGIN {_sqlite_bump('NEW')} END;",
    f"CREATE TRIGGER {ASSOCIATION}_update_bank_version AFTER UPDATE ON {ASSOCIATION} "
    f"BEGIN {_sqlite_bump('NEW')} END;",
    f"CREATE TRIGGER {ASSOCIATION}_update_old_bank_version AFTER UPDATE ON {ASSOCIATION} "
    f"WHEN OLD.caisse_regionale_id <> NEW.caisse_regionale_id BEGIN {_sqlite_bump('OLD')} END;",
    f"CREATE TRIGGER {ASSOCIATION}_delete_bank_version AFTER DELETE ON {ASSOCIATION} "
    f"BEGIN {_sqlite_bump('OLD')} END;",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [PG_FUNCTION, *PG_TRIGGERS]
    elif vendor == "sqlite":
        statements = list(SQLITE_TRIGGERS)  # a copy: the INSERT below is appended to it
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no bank-associations-version triggers for {vendor}")
    # Banks whose associations exist already start from a random version too: a cache kept
    # across a database rebuilt from scratch holds no fragment under it.
    start = (
        "(random() * 1e15)::bigint"
        if vendor == "postgresql"
        else "abs(random()) % 1000000000000000"
    )
    statements.append(
        f"INSERT INTO {TABLE} (caisse_regionale_id, version) "
        f"SELECT caisse_regionale_id, {start} FROM {ASSOCIATION} GROUP BY caisse_regionale_id;"
    )
    for sql in statements:
        schema_editor.execute(sql)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in ("bank_version", "truncate_bank_version"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {ASSOCIATION}_{name} ON {ASSOCIATION};")
        schema_editor.execute("DROP FUNCTION IF EXISTS tookets_bump_bank_associations_version();")
    else:
        for name in ("insert", "update", "update_old", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {ASSOCIATION}_{name}_bank_version;")


class Migration(migrations.Migration):
    dependencies = [("associations", "0011_directory_version_caisse_regionale")]
    operations = [
        migrations.CreateModel(
            name="BankAssociationsVersion",
            fields=[
                (
                    "caisse_regionale_id",
                    models.BigIntegerField(
                        primary_key=True, serialize=False, verbose_name="caisse régionale"
                    ),
                ),
                ("version", models.BigIntegerField(default=0, verbose_name="version")),
            ],
            options={
                "verbose_name": "version des associations d’une caisse régionale",
                "verbose_name_plural": "versions des associations des caisses régionales",
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
