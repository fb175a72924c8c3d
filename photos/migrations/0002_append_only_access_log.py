"""The photo access log is append-only in the database too."""

from django.db import migrations

from fig_safety.append_only import make_append_only


class Migration(migrations.Migration):
    dependencies = [("photos", "0001_initial")]

    operations = [make_append_only("photos_photoaccess")]
