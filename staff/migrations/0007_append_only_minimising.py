"""The append-only tables let the erasure and retention code (fig_safety.append_only.minimising) redact or
delete rows whose time is over; nothing else."""

from django.db import migrations

from fig_safety.append_only import allow_minimising


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0006_post_writer_role"),
        ("consents", "0004_append_only_form_versions"),
        ("photos", "0002_append_only_access_log"),
    ]

    operations = [
        allow_minimising(
            "staff_auditevent", "consents_consentrecord", "consents_consentformversion", "photos_photoaccess"
        )
    ]
