"""Backups of the whole site (the database and every vault blob) and putting one back: `manage.py backup`
and `manage.py restore` are thin wrappers around `backup_write` and `backup_restore`.

How it is made, and why:

- The database is read in one transaction that sees a single moment (PostgreSQL: REPEATABLE READ, READ ONLY;
  SQLite: the transaction's lock keeps writers out until it ends) and written with Django's serializers as
  JSON Lines, gzipped. Not pg_dump: the app image has no PostgreSQL client, and one matching the server's
  version would have to be kept in step with it; this way one code path serves PostgreSQL and SQLite, and
  a backup loads into either. Sessions are left out, so a leaked backup signs nobody in; everyone signs in
  again after a restore.
- The vault blobs are the ones that moment's rows name (fig_safety.vault_references, the same list key
  rotation re-seals), read inside the same transaction and copied as stored: still sealed, never decrypted.
  The backup needs no vault key and holds none; the manifest lists the ids of the keys the blobs were sealed
  with, nothing more. A blob a row names but storage lacks is reported (`BackupReport.missing`, a non-zero
  exit) and the rest is still written. Blobs stored after that moment belong to rows the backup does not
  have, so they are not needed.
- `manifest.json`, written last, gives the format version, when, the applied migrations, the database
  engine, the rows per table, the key ids and every file with its size and SHA-256. A folder without it is an
  unfinished backup. The files are private to the owner (0600, folders 0700): the database is personal data
  in clear, so wherever backups are kept must be encrypted and restricted.
- Backups are kept FIG_BACKUP_KEEP_DAYS (30 by default): `--prune` deletes older ones beside the new one, so
  what is erased from the site is gone from the backups within that time (docs/production.md).

A restore changes nothing until everything has been checked: every file against the manifest, every blob
against the vault keys in FIG_VAULT_KEYS (it must open, so a wrong key copy is found in a drill, not in a
disaster), the migrations against this code's (a backup is restored by the release that made it, then that
release is upgraded as usual), the database (it must have no tables at all) and the vault storage (it must
hold none of the backup's blob names). Then it migrates, loads the rows with their own ids, writes the blobs,
records the restore in the audit trail and runs the retention and erasure sweeps (RESTORE_SWEEPS), so
nothing past its time comes back when the site opens.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from fig_safety.vault import VaultError, blob_key_id, unseal
from fig_safety.vault_references import BLOB_FIELDS, vault_references  # noqa: F401 - BLOB_FIELDS for the tests

FORMAT = "fig-safety-backup"
VERSION = 1
MANIFEST = "manifest.json"
# Present while a backup is being written; replaced by the manifest when it is done.
UNFINISHED = "backup-unfinished.json"
DATABASE = "database.jsonl.gz"
BLOBS = "blobs"
CHUNK = 2000
# Tables left out: live sign-ins. A backup that leaks should not sign anyone in.
EXCLUDED = ("sessions.session", "usersessions.usersession")
# A blob name as vault_save makes them ("photos/1a2b/<random>.bin"), or any plain relative path: never
# absolute, no part starting with a dot (so no ".."), so a manifest cannot reach outside the backup or the vault.
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")


class BackupError(Exception):
    """The backup cannot be written or restored; the message says why and what to do."""


@dataclass
class BackupReport:
    out: Path
    rows: dict[str, int]
    blobs: int
    blob_bytes: int
    key_ids: list[str]
    missing: list[str] = field(default_factory=list)  # "name (where): why" for blobs that could not be copied
    pruned: list[Path] = field(default_factory=list)


@dataclass
class RestoreReport:
    created_at: str
    rows: dict[str, int]
    blobs: int
    missing: list[dict[str, str]]
    sweeps: dict[str, int]


# --- what a backup holds ---------------------------------------------------------------------------------------


def backed_up_models() -> list[type[models.Model]]:
    """Every concrete table Django manages, but the excluded ones, in a stable order."""
    return sorted(
        (
            model
            for model in apps.get_models()
            if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in EXCLUDED
        ),
        key=lambda model: model._meta.label_lower,
    )


def applied_migrations() -> list[str]:
    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def code_migrations() -> list[str]:
    """The migrations this code leaves recorded on an empty database once migrated (a squashed migration is
    recorded with the ones it replaces)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    nodes: set[tuple[str, str]] = set()
    for leaf in graph.leaf_nodes():
        nodes.update(graph.forwards_plan(leaf))
    for node in list(nodes):
        nodes.update(graph.nodes[node].replaces or [])
    return sorted(f"{app}.{name}" for app, name in nodes)


# --- writing a backup ------------------------------------------------------------------------------------------


def backup_write(*, out: Path, prune_after_days: int | None = None) -> BackupReport:
    """Write a backup into `out` (new or empty). `prune_after_days`: then delete the backups beside it made
    longer ago than that, if this one is complete. Precondition: no transaction open (the snapshot is its own)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty folder: give a new folder for each backup.")
    if connection.in_atomic_block:
        raise BackupError("A backup reads the database in a transaction of its own: run it outside any other.")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    created_at = timezone.now()
    _write_json(out / UNFINISHED, {"format": FORMAT, "version": VERSION, "started_at": created_at.isoformat()})

    files: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    with _snapshot():
        migrations = applied_migrations()
        rows = _write_database(out / DATABASE)
        files.append({"path": DATABASE, **_describe(out / DATABASE)})
        blobs = _copy_blobs(out, files, missing)

    key_ids = sorted({entry["key_id"] for entry in blobs})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": created_at.isoformat(),
        "database": {"engine": connection.vendor, "file": DATABASE, "rows": rows, "excluded": list(EXCLUDED)},
        "migrations": migrations,
        "vault": {
            "storage": type(storages["vault"]).__name__,
            "blobs": len(blobs),
            "key_ids": key_ids,
            "missing": missing,
        },
        "keep_days": settings.FIG_BACKUP_KEEP_DAYS,
        "files": files,
    }
    _write_json(out / MANIFEST, manifest)
    (out / UNFINISHED).unlink()

    report = BackupReport(
        out=out,
        rows=rows,
        blobs=len(blobs),
        blob_bytes=sum(entry["size"] for entry in blobs),
        key_ids=key_ids,
        missing=[f"{item['blob']} ({item['where']}): {item['problem']}" for item in missing],
    )
    if prune_after_days is not None and not missing:
        report.pruned = backups_prune(parent=out.parent, keep_days=prune_after_days, keep=out)
    return report


@contextmanager
def _snapshot() -> Iterator[None]:
    """One read-only transaction that sees the database as it was when it began."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Must be the transaction's first statement; atomic() has sent none yet.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _write_database(path: Path) -> dict[str, int]:
    """Every row of every backed-up table, one JSON object a line, with its own primary key."""
    rows: dict[str, int] = {}
    serializer = serializers.get_serializer("jsonl")()
    with _private_file(path) as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        stream = io.TextIOWrapper(zipped, encoding="utf-8", newline="\n")
        for model in backed_up_models():
            queryset = model._base_manager.order_by("pk")
            many = [
                f.name for f in model._meta.many_to_many if f.remote_field.through._meta.auto_created
            ]  # prefetched, or the serializer queries each row's
            if many:
                queryset = queryset.prefetch_related(*many)
            counted = Counter()
            serializer.serialize(
                _counting(queryset.iterator(chunk_size=CHUNK), counted), stream=stream, cls=_ExactEncoder
            )
            rows[model._meta.label_lower] = counted["rows"]
        stream.flush()
        stream.detach()
    return rows


class _ExactEncoder(DjangoJSONEncoder):
    """Django's encoder cuts times to milliseconds (as JavaScript reads them); a backup keeps every microsecond,
    or a consent record's evidence hash, made over its exact signing time, would no longer match its row."""

    def default(self, o: Any) -> Any:
        if isinstance(o, (datetime, time)):
            return o.isoformat()
        return super().default(o)


def _counting(objects: Iterable[models.Model], counter: Counter) -> Iterator[models.Model]:
    for obj in objects:
        counter["rows"] += 1
        yield obj


def _copy_blobs(out: Path, files: list[dict[str, Any]], missing: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Copy each named blob, sealed as it is, into out/blobs/; note the ones that cannot be read."""
    storage = storages["vault"]
    copied: list[dict[str, Any]] = []
    seen: set[str] = set()
    for reference in vault_references():
        if reference.name in seen:
            continue
        seen.add(reference.name)
        if not safe_relative(reference.name):
            missing.append({"blob": reference.name, "where": reference.where, "problem": "not a vault blob name"})
            continue
        try:
            with storage.open(reference.name, "rb") as handle:
                blob = handle.read()
        except FileNotFoundError:
            missing.append({"blob": reference.name, "where": reference.where, "problem": "not in the vault storage"})
            continue
        except Exception as exc:  # noqa: BLE001 - one unreadable blob must not stop the rest being copied
            missing.append({"blob": reference.name, "where": reference.where, "problem": f"could not be read: {exc}"})
            continue
        try:
            key_id = blob_key_id(blob, key_id=reference.key_id)
        except VaultError as exc:
            missing.append({"blob": reference.name, "where": reference.where, "problem": str(exc)})
            continue
        path = f"{BLOBS}/{reference.name}"
        target = out / path
        _private_folders(out, target.parent)
        with _private_file(target) as handle:
            handle.write(blob)
        entry = {
            "path": path,
            "size": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "blob": reference.name,
            "key_id": key_id,
        }
        files.append(entry)
        copied.append(entry)
    return copied


def backups_prune(*, parent: Path, keep_days: int, keep: Path, now: datetime | None = None) -> list[Path]:
    """Delete the backups in `parent` made more than `keep_days` ago (and unfinished ones started then), but
    never `keep`. Only folders a backup wrote (with its manifest or unfinished marker) are touched."""
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    pruned = []
    for folder in sorted(parent.iterdir()):
        if folder.resolve() == keep.resolve() or not folder.is_dir() or folder.is_symlink():
            continue
        made = _made_at(folder)
        if made is not None and made < cutoff:
            shutil.rmtree(folder)
            pruned.append(folder)
    return pruned


def _made_at(folder: Path) -> datetime | None:
    for name, key in ((MANIFEST, "created_at"), (UNFINISHED, "started_at")):
        try:
            data = json.loads((folder / name).read_text())
            made = datetime.fromisoformat(data[key]) if data.get("format") == FORMAT else None
            if made is not None and made.tzinfo is not None:
                return made
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return None


# --- checking and restoring ------------------------------------------------------------------------------------


def backup_verify(*, source: Path) -> dict[str, Any]:
    """The manifest of the backup in `source`, once every file in it matches and every blob opens with the
    configured vault keys; BackupError listing every problem otherwise. Reads, never writes."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{source} has no {MANIFEST}: it is not a backup, or one that never finished.") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST} is not a FiG Safety backup manifest.")
    if manifest.get("version") != VERSION:
        raise BackupError(f"This backup is format version {manifest.get('version')}; this release reads {VERSION}.")

    keys = settings.FIG_VAULT_KEYS or {}
    lacking = sorted(set(manifest["vault"]["key_ids"]) - set(keys))
    if lacking:
        raise BackupError(
            f"FIG_VAULT_KEYS has no key {', '.join(lacking)}, which this backup's blobs are sealed with: "
            "put the key copy back in FIG_VAULT_KEYS first. Nothing was changed."
        )
    problems = []
    for entry in manifest["files"]:
        path = entry["path"]
        if not safe_relative(path):
            problems.append(f"{path}: not a file name a backup writes")
            continue
        try:
            data = (source / path).read_bytes()
        except FileNotFoundError:
            problems.append(f"{path}: missing")
            continue
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"{path}: its size or checksum does not match the manifest (changed or damaged)")
            continue
        if "blob" in entry:
            try:
                unseal(data, name=entry["blob"], key_id=entry["key_id"])
            except VaultError as exc:
                problems.append(f"{path}: does not open with the vault keys in FIG_VAULT_KEYS ({exc})")
    if problems:
        raise BackupError(
            f"The backup in {source} failed its checks, so nothing was changed:\n  " + "\n  ".join(problems)
        )
    return manifest


def backup_restore(*, source: Path) -> RestoreReport:
    """Check the backup in `source`, then put it into this (empty) database and vault storage and run the
    retention and erasure sweeps. Nothing is changed unless every check passes."""
    source = Path(source)
    manifest = backup_verify(source=source)
    ours, theirs = code_migrations(), manifest["migrations"]
    if ours != theirs:
        only_backup, only_code = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
        raise BackupError(
            "This backup was made by another release of FiG Safety: restore it with the release that made it, "
            "then upgrade that as usual. "
            + (f"Only the backup has migrations {', '.join(only_backup[:5])}. " if only_backup else "")
            + (f"Only this code has migrations {', '.join(only_code[:5])}. " if only_code else "")
            + "Nothing was changed."
        )
    tables = connection.introspection.table_names(include_views=True)
    if tables:
        raise BackupError(
            f"The database {connection.settings_dict['NAME']} already has {len(tables)} table(s): a restore goes "
            "into an empty one. Create a new database (or drop and recreate this one) and do not run migrate "
            "first. Nothing was changed."
        )
    storage = storages["vault"]
    blobs = [entry for entry in manifest["files"] if "blob" in entry]
    present = [entry["blob"] for entry in blobs if storage.exists(entry["blob"])]
    if present:
        raise BackupError(
            f"The vault storage already holds {len(present)} of this backup's blobs (e.g. {present[0]}): a restore "
            "goes into an empty vault. Nothing was changed."
        )

    call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
    _empty_tables()
    rows = _load_database(source / DATABASE)
    if rows != manifest["database"]["rows"]:
        differ = sorted(
            label
            for label in set(rows) | set(manifest["database"]["rows"])
            if rows.get(label, 0) != manifest["database"]["rows"].get(label, 0)
        )
        raise BackupError(f"The database file does not hold the rows the manifest lists ({', '.join(differ)}).")
    ContentType.objects.clear_cache()

    for entry in blobs:
        saved = storage.save(entry["blob"], ContentFile((source / entry["path"]).read_bytes()))
        if saved != entry["blob"]:
            raise BackupError(f"The vault storage stored {entry['blob']} as {saved}; the restore stopped there.")

    from staff.services import audit_record

    audit_record(
        action="backup.restored",
        details={
            "created_at": manifest["created_at"],
            "engine": manifest["database"]["engine"],
            "rows": sum(rows.values()),
            "blobs": len(blobs),
            "missing_blobs": len(manifest["vault"]["missing"]),
        },
    )
    sweeps = {name: sweep() for name, sweep in restore_sweeps()}
    return RestoreReport(
        created_at=manifest["created_at"],
        rows=rows,
        blobs=len(blobs),
        missing=manifest["vault"]["missing"],
        sweeps=sweeps,
    )


def _empty_tables() -> None:
    """Migrations and their signals add rows of their own (content types, roles, default terms); the backup
    has them all, with their ids, so those tables are emptied first. Only the tables with rows: emptying
    every table (`flush`) takes longer than the rest of a small restore."""
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    filled = []
    with connection.cursor() as cursor:
        for table in sorted(tables):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")  # noqa: S608
            if cursor.fetchone()[0]:
                filled.append(table)
    if filled:
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), filled, allow_cascade=True))


def _load_database(path: Path) -> dict[str, int]:
    """Insert every row of the database file with its own ids, in one transaction; then move each table's id
    sequence past them. The tables are empty, so each row is inserted, never updated (append-only tables
    refuse updates)."""
    rows: Counter[str] = Counter()
    loaded: set[type[models.Model]] = set()
    with transaction.atomic(), connection.constraint_checks_disabled():
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for deserialized in serializers.deserialize("jsonl", stream):
                deserialized.save(force_insert=True)
                model = type(deserialized.object)
                rows[model._meta.label_lower] += 1
                loaded.add(model)
        connection.check_constraints(table_names=[model._meta.db_table for model in loaded])
        statements = connection.ops.sequence_reset_sql(no_style(), sorted(loaded, key=lambda m: m._meta.label))
        if statements:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
    counted = {model._meta.label_lower: 0 for model in backed_up_models()}
    counted.update(rows)
    return counted


def restore_sweeps() -> list[tuple[str, Callable[[], int]]]:
    """What runs after a restore, before the site opens: whatever fell due while the backup sat on the shelf
    (or since the moment it was made) is erased now, not brought back. The same code beat runs."""
    from consents.retention import retention_sweep
    from consents.sweeps import act_on_lapses
    from photos.sweeps import apply_retention, delete_due
    from staff.notifications import prune_outbox

    return [
        ("consent lapses acted on", act_on_lapses),
        ("photos deleted as due (withdrawn or lapsed consent)", delete_due),
        ("photos deleted after the retention period", apply_retention),
        ("sent emails pruned from the outbox", prune_outbox),
        (
            "everything else past its retention period, and erasures past their review",
            lambda: sum(retention_sweep().values()),
        ),
    ]


# --- files -----------------------------------------------------------------------------------------------------


def _private_file(path: Path) -> io.BufferedWriter:
    """A new file only the owner can read (0600), refused if it exists."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _private_folders(root: Path, folder: Path) -> None:
    """Make `folder` and any folder between it and `root`, each only the owner can open (0700)."""
    for parent in [*reversed(folder.relative_to(root).parents), folder.relative_to(root)]:
        path = root / parent
        if not path.is_dir():
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)  # mkdir's mode is narrowed by the umask, never widened: set it exactly


def _describe(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with _private_file(path) as handle:
        handle.write(json.dumps(data, indent=1, sort_keys=True).encode())


def safe_relative(name: str) -> bool:
    return bool(SAFE_NAME.fullmatch(name))
