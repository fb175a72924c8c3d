"""Signed consent records are append-only in the database too."""

from django.db import migrations

from fig_safety.append_only import make_append_only


class Migration(migrations.Migration):
    dependencies = [("consents", "0001_initial")]

    operations = [make_append_only("consents_consentrecord")]
