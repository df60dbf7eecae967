"""The association emails' "sent once" record becomes a claim like the members' emails
(``tookets.send_once``): CompletedJob → EmailClaim, with a status and a sent time. Rows
written before were done in the transaction that sent: they are marked sent."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tookets", "0001_outbox"),
    ]

    operations = [
        migrations.RenameModel(old_name="CompletedJob", new_name="EmailClaim"),
        migrations.RenameField(model_name="emailclaim", old_name="done_at", new_name="claimed_at"),
        migrations.AlterField(
            model_name="emailclaim",
            name="claimed_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="réservé le"),
        ),
        migrations.AddField(
            model_name="emailclaim",
            name="status",
            field=models.CharField(
                choices=[("claimed", "en cours d’envoi"), ("sent", "envoyé")],
                default="claimed",
                max_length=10,
                verbose_name="état",
            ),
        ),
        migrations.AddField(
            model_name="emailclaim",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="envoyé le"),
        ),
        migrations.RunSQL(
            "UPDATE tookets_emailclaim SET status = 'sent', sent_at = claimed_at",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterModelOptions(
            name="emailclaim",
            options={
                "verbose_name": "e-mail envoyé une fois",
                "verbose_name_plural": "e-mails envoyés une fois",
            },
        ),
    ]
