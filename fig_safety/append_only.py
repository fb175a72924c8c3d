"""Append-only tables: rows are written once and never changed or deleted by the application.

Two layers: the model refuses updates and deletes in Python (so a mistake fails
loudly in development), and a migration installs a database trigger (so not even
raw SQL from the application can rewrite history). Used for the audit trail and
signed consent records.

One exception, for the law rather than the application: personal data is not kept
for ever. Inside `minimising()` (the erasure and retention code, and nothing else)
rows may be redacted or deleted; the database lets them through only while the
transaction has set `fig.minimising`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.db import connections, migrations, models


class AppendOnlyError(Exception):
    """Raised on any attempt to update or delete an append-only row."""


_state = threading.local()


def _minimising() -> bool:
    return getattr(_state, "depth", 0) > 0


@contextmanager
def minimising(using: str = "default") -> Iterator[None]:
    """Inside a transaction: let the erasure and retention code redact or delete append-only rows.

    On PostgreSQL the triggers let changes through while `fig.minimising` is on (SET LOCAL: it ends with
    the transaction whatever happens); on SQLite (the demo) the triggers are dropped and made again, in
    the same transaction.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise AppendOnlyError("Minimising append-only rows must happen inside a transaction.")
    tables = [model._meta.db_table for model in append_only_models()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL fig.minimising = 'on'")
        elif connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(_sqlite_reverse(table))
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1
        if connection.vendor == "postgresql" and not _minimising():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL fig.minimising = 'off'")
        elif connection.vendor == "sqlite" and not _minimising() and connection.in_atomic_block:
            with connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(_sqlite_forward(table))


def append_only_models() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if issubclass(model, AppendOnlyModel)]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if _minimising():
            return super().update(**kwargs)
        raise AppendOnlyError(f"{self.model._meta.label} rows are append-only and cannot be updated.")

    def delete(self):
        if _minimising():
            return super().delete()
        raise AppendOnlyError(f"{self.model._meta.label} rows are append-only and cannot be deleted.")


class AppendOnlyModel(models.Model):
    """Integrity guard, not business logic: an existing row is never rewritten or removed."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding and not _minimising():
            raise AppendOnlyError(f"{self._meta.label} rows are append-only and cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if not _minimising():
            raise AppendOnlyError(f"{self._meta.label} rows are append-only and cannot be deleted.")
        return super().delete(*args, **kwargs)


def _pg_function(table: str, *, strict: bool) -> str:
    """The trigger function; not strict: changes made inside minimising() go through."""
    exception = (
        ""
        if strict
        else """
    IF current_setting('fig.minimising', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;"""
    )
    return f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN{exception}
    RAISE EXCEPTION '{table} is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _pg_forward(table: str) -> str:
    return (
        _pg_function(table, strict=True)
        + f"""
CREATE TRIGGER {table}_no_update_or_delete
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
"""
    )


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


def allow_minimising(*tables: str) -> migrations.RunPython:
    """A migration operation that (re)writes the trigger functions of `tables` with the `minimising()`
    exception. On SQLite the triggers are unchanged: minimising() drops and remakes them there."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(_pg_function(table, strict=False), params=None)

    def reverse(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(_pg_function(table, strict=True), params=None)

    return migrations.RunPython(forward, reverse)
