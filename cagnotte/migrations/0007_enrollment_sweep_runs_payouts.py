"""Campaign close (issue 10): Enrollment taken over from associations (state only), sweep
runs, payout statements and their lines."""

import django.db.models.deletion
import django.db.models.expressions
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('associations', '0009_enrollment_moved_to_cagnotte'),
        ('cagnotte', '0006_credit_import_batch'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PayoutStatement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('computed', 'Établi'), ('sent', 'Envoyé à la banque'), ('paid', 'Payé')], default='computed', max_length=10, verbose_name='statut')),
                ('total_k', models.BigIntegerField(default=0, verbose_name='total (K)')),
                ('total_cents', models.BigIntegerField(default=0, verbose_name='total (centimes)')),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='établi le')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='envoyé le')),
                ('paid_at', models.DateTimeField(blank=True, null=True, verbose_name='payé le')),
                ('computed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='établi par')),
                ('paid_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='payé par')),
                ('program', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='payout_statement', to='cagnotte.program', verbose_name='programme')),
                ('sent_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='envoyé par')),
            ],
            options={
                'verbose_name': 'état des versements',
                'verbose_name_plural': 'états des versements',
                'ordering': ['-program__year', 'program__name'],
            },
        ),
        migrations.CreateModel(
            name='PayoutLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('gifts_k', models.BigIntegerField(verbose_name='dons (K)')),
                ('sweeps_k', models.BigIntegerField(verbose_name='soldes de fin d’année (K)')),
                ('total_k', models.BigIntegerField(verbose_name='total (K)')),
                ('amount_cents', models.BigIntegerField(verbose_name='montant (centimes)')),
                ('iban', models.CharField(blank=True, max_length=34, verbose_name='IBAN')),
                ('bic', models.CharField(blank=True, max_length=11, verbose_name='BIC')),
                ('iban_problem', models.CharField(blank=True, max_length=80, verbose_name='problème d’IBAN')),
                ('association', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='payout_lines', to='associations.association', verbose_name='association')),
                ('statement', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='cagnotte.payoutstatement', verbose_name='état des versements')),
            ],
            options={
                'verbose_name': 'ligne de versement',
                'verbose_name_plural': 'lignes de versement',
                'ordering': ['association__name', 'association_id'],
            },
        ),
        migrations.CreateModel(
            name='SweepRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='commencé le')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='terminé le')),
                ('wallets', models.PositiveIntegerField(default=0, verbose_name='cagnottes soldées')),
                ('to_favourites', models.BigIntegerField(default=0, verbose_name='Tookets aux associations favorites')),
                ('returned', models.BigIntegerField(default=0, verbose_name='Tookets rendus à la caisse régionale')),
                ('run_by_label', models.CharField(blank=True, max_length=80, verbose_name='lancé depuis')),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sweep_runs', to='cagnotte.program', verbose_name='programme')),
                ('run_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='lancé par')),
            ],
            options={
                'verbose_name': 'soldage de fin de campagne',
                'verbose_name_plural': 'soldages de fin de campagne',
                'ordering': ['-started_at', '-id'],
            },
        ),
        # The table exists already (associations 0001/0002): state only, nothing on disk.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Enrollment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('enrolled_at', models.DateTimeField(auto_now_add=True, verbose_name='enrôlée le')),
                        ('association', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='enrollments', to='associations.association', verbose_name='association')),
                        ('enrolled_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL, verbose_name='enrôlée par')),
                        ('program', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enrollments', to='cagnotte.program', verbose_name='programme')),
                    ],
                    options={
                        'verbose_name': 'enrôlement',
                        'verbose_name_plural': 'enrôlements',
                        'db_table': 'associations_enrollment',
                        'indexes': [models.Index(fields=['program', 'association'], name='association_program_21b125_idx')],
                        'constraints': [models.UniqueConstraint(fields=('association', 'program'), name='enrollment_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddConstraint(
            model_name='payoutstatement',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['computed', 'sent', 'paid'])), name='payout_statement_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='payoutstatement',
            constraint=models.CheckConstraint(condition=models.Q(('total_cents', models.F('total_k'))), name='payout_statement_cents'),
        ),
        migrations.AddConstraint(
            model_name='payoutstatement',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'computed'), ('sent_at__isnull', False), _connector='OR'), name='payout_statement_sent_has_date'),
        ),
        migrations.AddConstraint(
            model_name='payoutstatement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'paid'), _negated=True), ('paid_at__isnull', False), _connector='OR'), name='payout_statement_paid_has_date'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=models.UniqueConstraint(fields=('statement', 'association'), name='payout_line_one_per_association'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=models.CheckConstraint(condition=models.Q(('gifts_k__gte', 0), ('sweeps_k__gte', 0), ('total_k__gt', 0)), name='payout_line_amounts_positive'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=models.CheckConstraint(condition=models.Q(('total_k', django.db.models.expressions.CombinedExpression(models.F('gifts_k'), '+', models.F('sweeps_k')))), name='payout_line_total'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=models.CheckConstraint(condition=models.Q(('amount_cents', models.F('total_k'))), name='payout_line_cents'),
        ),
        migrations.AddConstraint(
            model_name='sweeprun',
            constraint=models.CheckConstraint(condition=models.Q(('returned__gte', 0), ('to_favourites__gte', 0)), name='sweep_run_not_negative'),
        ),
    ]
