"""Each association's totals row carries its regional bank (``AssociationTotals``), indexed
with what it sums: the staff dashboard's state reads what a bank's associations received
by one index range instead of a join over every association of the bank
(``associations.staff_state``). Filled from the associations, then kept equal by a trigger
should an association move (PostgreSQL and SQLite)."""

import django.db.models.deletion
from django.db import migrations, models

TOTALS = "cagnotte_associationtotals"
ASSOCIATIONS = "associations_association"
FOLLOW = (
    f"UPDATE {TOTALS} SET caisse_regionale_id = NEW.caisse_regionale_id "
    "WHERE association_id = NEW.id;"
)
TRIGGER = f"{ASSOCIATIONS}_totals_bank"


def fill(apps, schema_editor):
    schema_editor.execute(
        f"UPDATE {TOTALS} SET caisse_regionale_id = (SELECT a.caisse_regionale_id "
        f"FROM {ASSOCIATIONS} a WHERE a.id = {TOTALS}.association_id)"
    )
    if schema_editor.connection.vendor == "postgresql":
        # The foreign key's deferred checks, now: the column is altered next, in this
        # transaction, which PostgreSQL refuses while they are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION tookets_totals_follow_bank() RETURNS trigger AS $$ "
            f"BEGIN {FOLLOW} RETURN NULL; END $$ LANGUAGE plpgsql;"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF caisse_regionale_id ON {ASSOCIATIONS} "
            "FOR EACH ROW WHEN (OLD.caisse_regionale_id IS DISTINCT FROM NEW.caisse_regionale_id) "
            "EXECUTE FUNCTION tookets_totals_follow_bank();"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF caisse_regionale_id ON {ASSOCIATIONS} "
            "FOR EACH ROW WHEN OLD.caisse_regionale_id IS NOT NEW.caisse_regionale_id "
            f"BEGIN {FOLLOW} END;"
        )
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no totals trigger for {vendor}")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {ASSOCIATIONS};")
        schema_editor.execute("DROP FUNCTION IF EXISTS tookets_totals_follow_bank();")
    else:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER};")


class Migration(migrations.Migration):
    dependencies = [
        ("associations", "0017_directory_version_offers"),
        ("cagnotte", "0016_supporter_members_vouched"),
        ("caisses", "0004_bank_code_bic"),
    ]

    operations = [
        migrations.AddField(
            model_name="associationtotals",
            name="caisse_regionale",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="caisses.caisseregionale",
                verbose_name="caisse régionale",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="associationtotals",
            name="caisse_regionale",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="caisses.caisseregionale",
                verbose_name="caisse régionale",
            ),
        ),
        migrations.AddIndex(
            model_name="associationtotals",
            index=models.Index(
                fields=["caisse_regionale"], include=("received_total",), name="totals_by_bank"
            ),
        ),
        migrations.RunPython(install, uninstall),
    ]
