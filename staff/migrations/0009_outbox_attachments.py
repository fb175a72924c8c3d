"""Outbox emails can carry attachments, built when they are sent (a consent certificate, by record id)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0008_breach_assessment_and_timeline"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxemail",
            name="attachments",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
