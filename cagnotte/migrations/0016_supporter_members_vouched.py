"""Supporter: a transaction may vouch for its supporters' members (issue 22 §2).

On PostgreSQL the supporters' check function (``cagnotte.set_keys``, migration 0014) is
replaced by one that leaves out the member check in a transaction that vouches for them
(``set_keys.MEMBERS_VOUCHED_SETTING``: the year-end sweep, whose members are held by their
wallets' keys). Its reverse puts the function of 0014 back. SQLite keeps its declared keys.
"""

from django.db import migrations

from cagnotte import set_keys


def _function(apps, schema_editor, *, vouching: bool):
    if schema_editor.connection.vendor != "postgresql":
        return
    supporter = apps.get_model("cagnotte", "Supporter")
    schema_editor.execute(
        set_keys.check_function_sql(
            user_table=supporter._meta.get_field("member").related_model._meta.db_table,
            association_table=supporter._meta.get_field("association").related_model._meta.db_table,
            vouching=vouching,
        ),
        params=None,  # no placeholders: % is plpgsql
    )


def forwards(apps, schema_editor):
    _function(apps, schema_editor, vouching=True)


def backwards(apps, schema_editor):
    _function(apps, schema_editor, vouching=False)


class Migration(migrations.Migration):
    dependencies = [("cagnotte", "0015_wallet_member_favourite")]

    operations = [migrations.RunPython(forwards, backwards)]
