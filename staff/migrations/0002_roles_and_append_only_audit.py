"""Create the role groups, and make the audit table append-only in the database."""

from django.db import migrations

from fig_safety.append_only import make_append_only

ROLES = ["coordinator", "photographer", "staff", "social_admin", "ceo"]


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        make_append_only("staff_auditevent"),
    ]
