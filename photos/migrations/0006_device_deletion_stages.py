"""Device deletion in stages: each photo's due time for the confirmation (back-filled from its upload
time), and the stamp that an upload was recorded in the breach register as a possible breach."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def backfill_due_times(apps, schema_editor) -> None:
    Photo = apps.get_model("photos", "Photo")
    Photo.objects.filter(device_deletion_due_at__isnull=True).update(
        device_deletion_due_at=F("uploaded_at") + timedelta(hours=settings.FIG_DEVICE_REMINDER_HOURS)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0005_faces"),
    ]

    operations = [
        migrations.AddField(
            model_name="photo",
            name="device_deletion_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="uploadbatch",
            name="device_breach_reported_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill_due_times, migrations.RunPython.noop, elidable=True),
    ]
