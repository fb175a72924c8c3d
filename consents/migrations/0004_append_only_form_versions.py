"""Published consent form versions are append-only in the database too: a change is a new version."""

from django.db import migrations

from fig_safety.append_only import make_append_only


class Migration(migrations.Migration):
    dependencies = [("consents", "0003_family_reference_upper_index")]

    operations = [make_append_only("consents_consentformversion")]
