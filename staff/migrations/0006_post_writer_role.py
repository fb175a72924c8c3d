"""Create the "post_writer" role group: the staff chosen to write FiG's social media posts, who (with the social
media administrators) see and attach the photos that may be posted. Volunteers hold only "staff"."""

from django.db import migrations


def create_role(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="post_writer")


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0005_breach_found_by_the_app"),
    ]

    # Undoing the migration leaves the group (and whoever holds it) in place, as 0002 does for the other roles:
    # the code before this role ignores a group it does not name.
    operations = [
        migrations.RunPython(create_role, migrations.RunPython.noop),
    ]
