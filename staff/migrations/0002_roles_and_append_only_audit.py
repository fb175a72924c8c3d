"""Create the role groups, and make the audit table append-only in the database."""

from django.db import migrations

ROLES = ["coordinator", "photographer", "staff", "social_admin", "ceo"]

PG_FORWARD = """
CREATE OR REPLACE FUNCTION staff_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'staff_auditevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER staff_auditevent_no_update_or_delete
    BEFORE UPDATE OR DELETE ON staff_auditevent
    FOR EACH ROW EXECUTE FUNCTION staff_auditevent_append_only();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS staff_auditevent_no_update_or_delete ON staff_auditevent;
DROP FUNCTION IF EXISTS staff_auditevent_append_only();
"""
# SQLite (the local demo database) blocks UPDATE only: the test runner empties
# tables with DELETE there, while PostgreSQL uses TRUNCATE, which the trigger allows.
SQLITE_FORWARD = """
CREATE TRIGGER staff_auditevent_no_update BEFORE UPDATE ON staff_auditevent
BEGIN SELECT RAISE(ABORT, 'staff_auditevent is append-only'); END;
"""
SQLITE_REVERSE = "DROP TRIGGER IF EXISTS staff_auditevent_no_update;"


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def append_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def drop_append_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(append_only, drop_append_only),
    ]
