"""Enrollment moves to cagnotte (issue 10: one home for the campaign rules).

State only: the table ``associations_enrollment`` stays as it is (cagnotte's model keeps
``db_table``), with its rows, indexes and constraints; cagnotte 0007 takes the model over.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("associations", "0008_status_change_append_only")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Enrollment")], database_operations=[]
        )
    ]
