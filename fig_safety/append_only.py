"""Append-only tables: rows are written once and never changed or deleted by the application.

Two layers: the model refuses updates and deletes in Python (so a mistake fails
loudly in development), and a migration installs a database trigger (so not even
raw SQL from the application can rewrite history). Used for the audit trail and
signed consent records.
"""

from __future__ import annotations

from django.db import migrations, models


class AppendOnlyError(Exception):
    """Raised on any attempt to update or delete an append-only row."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.label} rows are append-only and cannot be updated.")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.label} rows are append-only and cannot be deleted.")


class AppendOnlyModel(models.Model):
    """Integrity guard, not business logic: an existing row is never rewritten or removed."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} rows are append-only and cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.label} rows are append-only and cannot be deleted.")


def _pg_forward(table: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_no_update_or_delete
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
"""


def _pg_reverse(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS {table}_no_update_or_delete ON {table};
DROP FUNCTION IF EXISTS {table}_append_only();
"""


# SQLite (the local demo database) blocks UPDATE only: the test runner empties
# tables with DELETE there, while PostgreSQL uses TRUNCATE, which the trigger allows.
def _sqlite_forward(table: str) -> str:
    return f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"


def _sqlite_reverse(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_no_update;"


def make_append_only(table: str) -> migrations.RunPython:
    """A migration operation that installs the database trigger for `table`."""

    def forward(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(_pg_forward(table), params=None)
        elif vendor == "sqlite":
            schema_editor.execute(_sqlite_forward(table), params=None)

    def reverse(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(_pg_reverse(table), params=None)
        elif vendor == "sqlite":
            schema_editor.execute(_sqlite_reverse(table), params=None)

    return migrations.RunPython(forward, reverse)
