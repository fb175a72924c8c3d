import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def camera_dates(apps, schema_editor):
    """Every date stored so far came from the camera."""
    Photo = apps.get_model("photos", "Photo")
    Photo.objects.filter(taken_at__isnull=False).update(taken_at_source="camera")


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0006_device_deletion_stages"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="photo",
            name="taken_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When it was taken: from the camera, or stated by the uploader (taken_at_source).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="photo",
            name="taken_at_source",
            field=models.CharField(
                blank=True,
                choices=[("camera", "From the camera"), ("stated", "Stated by the uploader")],
                default="",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="photo",
            name="taken_at_stated_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(camera_dates, migrations.RunPython.noop),
    ]
