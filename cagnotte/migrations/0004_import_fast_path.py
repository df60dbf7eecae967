"""Cheaper writes for the monthly credit import (issue 4 §2).

* ``Wallet.member`` loses its single-column index: the (member, program) unique index serves
  every lookup by member, and each new wallet paid for one more index entry.
* PostgreSQL only, hence RunPython (SQLite has no "C" collation, no fillfactor):
  - ``LedgerEntry.reference`` compares bytewise (``COLLATE "C"``): its unique index takes one
    entry per imported row, and bytewise comparisons are cheaper than the database's default
    collation. Equality, the only way the code looks a reference up, means the same thing.
    Nothing orders or ranges over references.
  - wallets leave half of each page free, so that updating a balance (every affected wallet
    once per import, every gift) can stay on the same page as a HOT update, without a new
    entry in each of the wallet table's indexes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def pg_forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        'ALTER TABLE cagnotte_ledgerentry ALTER COLUMN reference TYPE varchar(100) COLLATE "C"'
    )
    schema_editor.execute("ALTER TABLE cagnotte_wallet SET (fillfactor = 50)")


def pg_backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE cagnotte_ledgerentry ALTER COLUMN reference TYPE varchar(100) "
        'COLLATE "default"'
    )
    schema_editor.execute("ALTER TABLE cagnotte_wallet RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("cagnotte", "0003_french_verbose_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="wallet",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="wallets",
                to=settings.AUTH_USER_MODEL,
                verbose_name="sociétaire",
            ),
        ),
        migrations.RunPython(pg_forward, pg_backward),
    ]
