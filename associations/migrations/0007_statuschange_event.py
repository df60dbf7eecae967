"""An explicit event on every status change, instead of one guessed from the statuses.

Existing rows get the event their statuses meant: the only validated → validated change was
an enrolment, a submission from correction_requested a resubmission, a draft's first row the
start of the registration.
"""

from django.db import migrations, models
from django.db.models import Q


def fill_events(apps, schema_editor):
    StatusChange = apps.get_model("associations", "StatusChange")
    rows = StatusChange.objects.filter(event="")
    rows.filter(to_status="draft").update(event="started")
    rows.filter(to_status="submitted", from_status="correction_requested").update(
        event="resubmitted"
    )
    rows.filter(to_status="submitted").update(event="submitted")
    rows.filter(to_status="validated", from_status="validated").update(event="enrolled")
    for status in ("validated", "correction_requested", "rejected"):
        rows.filter(to_status=status).update(event=status)


class Migration(migrations.Migration):
    dependencies = [("associations", "0006_search_name_apostrophes")]

    operations = [
        migrations.AddField(
            model_name="statuschange",
            name="event",
            field=models.CharField(default="", max_length=24, verbose_name="évènement"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_events, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="statuschange",
            name="event",
            field=models.CharField(
                choices=[
                    ("started", "Inscription commencée"),
                    ("submitted", "Dossier envoyé"),
                    ("resubmitted", "Corrections envoyées"),
                    ("correction_requested", "Correction demandée"),
                    ("validated", "Validée"),
                    ("rejected", "Refusée"),
                    ("enrolled", "Enrôlée dans un programme"),
                    ("unenrolled", "Retirée d’un programme"),
                ],
                max_length=24,
                verbose_name="évènement",
            ),
        ),
        migrations.AddConstraint(
            model_name="statuschange",
            constraint=models.CheckConstraint(
                condition=Q(
                    event__in=[
                        "started",
                        "submitted",
                        "resubmitted",
                        "correction_requested",
                        "validated",
                        "rejected",
                        "enrolled",
                        "unenrolled",
                    ]
                ),
                name="status_change_event_valid",
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="association",
            field=models.ForeignKey(
                on_delete=models.deletion.PROTECT,
                related_name="history",
                to="associations.association",
                verbose_name="association",
            ),
        ),
    ]
