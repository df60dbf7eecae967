"""A totals row's regional bank is its association's, as a rule of the database, not only of
its writers (``0017`` had a trigger follow an association that moves, and ``check_ledger``
compare them; nothing refused a row written with another bank).

* PostgreSQL: a foreign key ``(association_id, caisse_regionale_id)`` to the associations'
  ``(id, caisse_regionale_id)``, made unique for it, ``ON UPDATE CASCADE``: a row with
  another bank is refused, and an association that moves takes its row along (the cascade
  replaces ``0017``'s trigger). Checked at once (not deferred): its writers, the gift's
  upsert and the sweep, read the bank from the association in the same statement.
* SQLite cannot add a constraint to a table that exists: triggers refuse an insert or an
  update that gives a row another bank than its association's; ``0017``'s trigger still
  moves the row along.

Rows that differ (there should be none: ``check_ledger`` names them) are set right first.
"""

from django.db import migrations

TOTALS = "cagnotte_associationtotals"
ASSOCIATIONS = "associations_association"
UNIQUE = "associations_association_id_bank_key"
KEY = "cagnotte_associationtotals_bank_fk"
FOLLOW_TRIGGER = f"{ASSOCIATIONS}_totals_bank"  # 0017's
SQLITE_REFUSE = [f"{TOTALS}_insert_bank", f"{TOTALS}_update_bank"]
OTHER_BANK = (
    "NEW.caisse_regionale_id IS NOT "
    f"(SELECT a.caisse_regionale_id FROM {ASSOCIATIONS} a WHERE a.id = NEW.association_id)"
)
SET_RIGHT = (
    f"UPDATE {TOTALS} SET caisse_regionale_id = (SELECT a.caisse_regionale_id "
    f"FROM {ASSOCIATIONS} a WHERE a.id = {TOTALS}.association_id) "
    f"WHERE caisse_regionale_id <> (SELECT a.caisse_regionale_id FROM {ASSOCIATIONS} a "
    f"WHERE a.id = {TOTALS}.association_id)"
)
PG_FOLLOW_FUNCTION = (
    "CREATE OR REPLACE FUNCTION tookets_totals_follow_bank() RETURNS trigger AS $$ "
    f"BEGIN UPDATE {TOTALS} SET caisse_regionale_id = NEW.caisse_regionale_id "
    "WHERE association_id = NEW.id; RETURN NULL; END $$ LANGUAGE plpgsql;"
)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(SET_RIGHT)
    if vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {ASSOCIATIONS} ADD CONSTRAINT {UNIQUE} UNIQUE (id, caisse_regionale_id)"
        )
        schema_editor.execute(
            f"ALTER TABLE {TOTALS} ADD CONSTRAINT {KEY} "
            "FOREIGN KEY (association_id, caisse_regionale_id) "
            f"REFERENCES {ASSOCIATIONS} (id, caisse_regionale_id) ON UPDATE CASCADE"
        )
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {FOLLOW_TRIGGER} ON {ASSOCIATIONS}")
        schema_editor.execute("DROP FUNCTION IF EXISTS tookets_totals_follow_bank()")
    elif vendor == "sqlite":
        for name, event in zip(
            SQLITE_REFUSE,
            ("INSERT", "UPDATE OF association_id, caisse_regionale_id"),
            strict=True,
        ):
            schema_editor.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON {TOTALS} FOR EACH ROW "
                f"WHEN {OTHER_BANK} BEGIN SELECT RAISE(ABORT, "
                "'the totals row''s regional bank must be its association''s'); END;"
            )
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no totals key for {vendor}")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TOTALS} DROP CONSTRAINT IF EXISTS {KEY}")
        schema_editor.execute(f"ALTER TABLE {ASSOCIATIONS} DROP CONSTRAINT IF EXISTS {UNIQUE}")
        schema_editor.execute(PG_FOLLOW_FUNCTION)
        schema_editor.execute(
            f"CREATE TRIGGER {FOLLOW_TRIGGER} AFTER UPDATE OF caisse_regionale_id ON "
            f"{ASSOCIATIONS} FOR EACH ROW "
            "WHEN (OLD.caisse_regionale_id IS DISTINCT FROM NEW.caisse_regionale_id) "
            "EXECUTE FUNCTION tookets_totals_follow_bank();"
        )
    else:
        for name in SQLITE_REFUSE:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("cagnotte", "0017_totals_by_bank"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
