from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0008_photo_access_publication"),
    ]

    operations = [
        migrations.AlterField(
            model_name="photoaccess",
            name="action",
            field=models.CharField(
                choices=[
                    ("thumbnail", "Thumbnail shown"),
                    ("view", "Viewed"),
                    ("download", "Downloaded"),
                    ("export", "Exported"),
                    ("publication", "Fetched by a platform to publish a post"),
                    ("parent", "Seen by a parent or carer of the child"),
                ],
                max_length=12,
            ),
        ),
    ]
