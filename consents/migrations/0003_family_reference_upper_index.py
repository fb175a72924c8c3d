"""An index for finding a family by its reference in any case (the register's family filter)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consents", "0002_append_only_records"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="family",
            index=models.Index(django.db.models.functions.text.Upper("reference"), name="consents_family_ref_upper"),
        ),
    ]
