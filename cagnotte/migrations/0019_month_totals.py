"""What each association received per calendar month (``AssociationMonthTotals``), for the
staff dashboard's chart of the last twelve months, filled from the ledger: its gifts, sweeps
and matching entries grouped by association and by the month of their date in the site's time
zone, as ``cagnotte.figures.ledger_month_totals`` groups them for ``check_ledger``. From then
on the ledger's writers keep it (``cagnotte.figures.count_received``, the sweep's batch)."""

import datetime

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

BATCH = 5000


def fill(apps, schema_editor):
    db = schema_editor.connection.alias
    LedgerEntry = apps.get_model("cagnotte", "LedgerEntry")
    MonthTotals = apps.get_model("cagnotte", "AssociationMonthTotals")
    rows = (
        LedgerEntry.objects.using(db)
        .filter(kind__in=["gift", "sweep", "matching"], association__isnull=False)
        .annotate(at=TruncMonth("created_at", tzinfo=timezone.get_default_timezone()))
        .values("association_id", "at")
        .annotate(
            given=Sum("amount"),
            matching=Coalesce(Sum("amount", filter=Q(kind="matching")), 0),
        )
        .order_by()
    )
    totals = []
    for row in rows.iterator():
        at = row["at"]
        month = at.date() if isinstance(at, datetime.datetime) else at
        totals.append(
            MonthTotals(
                association_id=row["association_id"],
                month=month,
                received=-row["given"],
                matched=-row["matching"],
            )
        )
    MonthTotals.objects.using(db).bulk_create(totals, batch_size=BATCH)


class Migration(migrations.Migration):

    dependencies = [
        ('associations', '0018_directory_version_renames'),
        ('cagnotte', '0018_totals_bank_key'),
    ]

    operations = [
        migrations.CreateModel(
            name='AssociationMonthTotals',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='mois')),
                ('received', models.BigIntegerField(default=0, verbose_name='reçu (K)')),
                ('matched', models.BigIntegerField(default=0, verbose_name='dont abondement (K)')),
                ('association', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='month_totals', to='associations.association', verbose_name='association')),
            ],
            options={
                'verbose_name': 'total mensuel d’une association',
                'verbose_name_plural': 'totaux mensuels des associations',
                'constraints': [models.UniqueConstraint(fields=('association', 'month'), name='month_totals_unique'), models.CheckConstraint(condition=models.Q(('month__day', 1)), name='month_totals_first_day'), models.CheckConstraint(condition=models.Q(('received__gte', 0)), name='month_totals_not_negative'), models.CheckConstraint(condition=models.Q(('matched__gte', 0), ('matched__lte', models.F('received'))), name='month_totals_matched_within_received')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
