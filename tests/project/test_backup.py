"""Backup and restore, proven: a populated site is backed up, wiped and restored into a new PostgreSQL database,
with the vault in the local folder and on the S3 server; every photo, signature, scan and attachment opens to
the same bytes, every consent record's text hash matches, the audit trail is whole, and what fell due is swept.
A backup that was changed, a wrong key copy, or a database or vault that is not empty is refused unchanged.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path

import psycopg2
import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from consents.formtext import render_form_text
from consents.models import ConsentRecord
from consents.services.signing import consent_record_offline
from fig_safety import backup
from fig_safety.vault import vault_read
from photos.models import Photo
from social.inbox import services as inbox_services
from social.inbox.meta import Attachment, Event
from social.models import Message
from staff.models import AuditEvent, OutboxEmail
from tests import factories, s3_server
from tests.consents.factories import EVIDENCE, all_answers, request_for, sign
from tests.photos import images
from tests.photos.fixtures import consented_child, ready_photo
from tests.processes import fresh_environment
from tests.social.fake_graph import page_graph

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

s3_vault = s3_server.s3_vault  # the fixture (tests/s3_server.py), shared with the storage tests
PHOTO_BLOBS = [(blob, key) for label, blob, key in backup.BLOB_FIELDS if label == "photos.photo"]


@pytest.fixture
def keys(settings) -> dict[str, bytes]:
    """Two vault keys; the site starts with b1 alone."""
    chosen = {"b1": os.urandom(32), "b2": os.urandom(32)}
    settings.FIG_VAULT_KEYS = {"b1": chosen["b1"]}
    return chosen


@pytest.fixture(params=["local", "s3"])
def vault(request) -> str:
    if request.param == "s3":
        request.getfixturevalue("s3_vault")
    return request.param


# --- a populated site -------------------------------------------------------------------------------------------


def populate(keys: dict[str, bytes], settings) -> dict[str, object]:
    """Photos, an unidentifiable version, a drawn signature, a scanned paper form, an inbox attachment, each
    through the services; blobs sealed with two keys; one photo past retention and one old sent email."""
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    family, child, carer = consented_child()
    signed = sign(request_for(child, carer), all_answers())
    scanned = consent_record_offline(
        child=child,
        carer=carer,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="A. Coordinator",
        by=None,
        scan=(images.pdf(), "application/pdf"),
        evidence=EVIDENCE,
    )
    photos = [ready_photo(family, [child], photographer) for _ in range(2)]
    settings.FIG_VAULT_KEYS = {"b2": keys["b2"], "b1": keys["b1"]}  # a rotation began: new blobs go under b2
    faces = ready_photo(family, [child], photographer, data=images.astronaut())
    expired = ready_photo(
        family, [child], photographer, at=timezone.now() - timedelta(days=settings.FIG_PHOTO_RETENTION_DAYS + 1)
    )
    with page_graph(settings) as fake:
        url = fake.add_attachment("/cdn/photo.jpg", b"\xff\xd8\xff\xe0 a photo sent to FiG", "image/jpeg")
        message = inbox_services.event_ingest(
            Event(
                platform="messenger",
                kind="message",
                action="add",
                platform_id="m-backup",
                person_id="psid-1",
                person_name="",
                text="Here is the photo",
                at=timezone.now() - timedelta(minutes=1),
                attachments=(Attachment(type="image", url=url),),
            )
        )
    message.refresh_from_db()
    long_ago = timezone.now() - timedelta(days=settings.FIG_OUTBOX_KEEP_DAYS + 1)
    OutboxEmail.objects.create(subject="Long sent", body="An old link", to=["a@example.org"], sent_at=long_ago)

    assert signed.signature_blob and scanned.scan_blob and faces.unidentifiable_blob
    assert message.attachments[0]["blob"]
    return {"photos": [*photos, faces], "expired": expired, "message": message}


def opened(photo: Photo) -> dict[str, bytes]:
    return {
        blob: vault_read(name=getattr(photo, blob), key_id=getattr(photo, key))
        for blob, key in PHOTO_BLOBS
        if getattr(photo, blob)
    }


def site_state() -> dict[str, object]:
    """What a restore must give back, read through the models and the vault keys."""
    records = []
    for record in ConsentRecord.objects.select_related("form_version", "child").order_by("pk"):
        assert ConsentRecord.digest(record.text_shown) == record.text_sha256
        if record.form_version is not None:
            assert record.text_shown == render_form_text(record.form_version, record.child)
        records.append(
            (
                record.pk,
                record.text_sha256,
                record.evidence_sha256,
                record.signature_blob and vault_read(name=record.signature_blob, key_id=record.signature_key_id),
                record.scan_blob and vault_read(name=record.scan_blob, key_id=record.scan_key_id),
            )
        )
    return {
        "photos": {photo.public_id: opened(photo) for photo in Photo.objects.filter(status=Photo.Status.READY)},
        "records": records,
        "attachments": {
            message.pk: [vault_read(name=a["blob"], key_id=a["key_id"]) for a in message.attachments]
            for message in Message.objects.exclude(attachments=[])
        },
        "audit": list(AuditEvent.objects.order_by("pk").values()),
    }


def stored_names(vault: str, before: set[str] = frozenset()) -> set[str]:
    """The blob names in the vault storage (for the local folder, less those there before this test)."""
    if vault == "s3":
        client = storages["vault"].connection.meta.client
        bucket = storages["vault"].bucket_name
        listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {item["Key"].removeprefix("vault/") for item in listing}
    root = Path(django_settings.FIG_VAULT_DIR)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} - before


# --- a new, empty database on the same server -------------------------------------------------------------------


def _server(sql: str) -> None:
    config = connection.settings_dict
    admin = psycopg2.connect(
        dbname="postgres",
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql)
    finally:
        admin.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Point Django at a new, empty database (no tables) beside the test one, and drop it afterwards."""
    default = connections["default"]
    original = default.settings_dict["NAME"]
    name = f"{original}_restored"
    _server(f'DROP DATABASE IF EXISTS "{name}"')
    _server(f'CREATE DATABASE "{name}"')
    default.close()
    default.settings_dict["NAME"] = name
    try:
        assert connection.introspection.table_names() == []
        yield name
    finally:
        default.close()
        default.settings_dict["NAME"] = original
        _server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backup(out: Path, *options: str) -> str:
    stdout = StringIO()
    call_command("backup", "--out", str(out), *options, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def run_restore(source: Path) -> str:
    stdout = StringIO()
    call_command("restore", str(source), stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def dumped_blob_names(folder: Path) -> set[str]:
    """The blob names the rows in the backup's database file hold."""
    names = set()
    fields = {(label, blob) for label, blob, _key in backup.BLOB_FIELDS}
    with gzip.open(folder / "database.jsonl.gz", "rt") as stream:
        for line in stream:
            row = json.loads(line)
            names |= {value for name, value in row["fields"].items() if (row["model"], name) in fields and value}
            if row["model"] == "social.message":
                names |= {a["blob"] for a in row["fields"]["attachments"] if a.get("blob")}
    return names


# --- the round trip ---------------------------------------------------------------------------------------------


def test_it_backs_up_wipes_and_restores_a_populated_site(vault, keys, settings, tmp_path):
    already = stored_names(vault)
    site = populate(keys, settings)
    before = site_state()
    rows_before = {model._meta.label_lower: model._base_manager.count() for model in backup.backed_up_models()}
    assert len(before["photos"]) == 4 and len(before["records"]) == 3 and before["attachments"]
    out = tmp_path / "backup"

    output = run_backup(out)

    manifest = manifest_of(out)
    assert "Backup written to" in output
    assert manifest["format"] == "fig-safety-backup" and manifest["version"] == 1
    assert manifest["database"]["engine"] == "postgresql"
    assert manifest["database"]["rows"] == rows_before
    assert "staff.0001_initial" in manifest["migrations"]
    assert manifest["vault"]["key_ids"] == ["b1", "b2"] and manifest["vault"]["missing"] == []
    blobs = {entry["blob"] for entry in manifest["files"] if "blob" in entry}
    # Every blob the site stored, and exactly the ones its rows name.
    assert blobs == stored_names(vault, already) == dumped_blob_names(out)
    for entry in manifest["files"]:
        data = (out / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    assert_no_key_material(out, keys)
    assert_private(out)

    for name in blobs:  # the disaster: the vault is gone, and the site restarts on a new database
        storages["vault"].delete(name)
    assert stored_names(vault, already) == set()
    with fresh_database():
        output = run_restore(out)

        assert "Restored the backup" in output
        after = site_state()
        assert after["photos"] == {p: v for p, v in before["photos"].items() if p != site["expired"].public_id}
        assert after["records"] == before["records"]
        assert after["attachments"] == before["attachments"]
        # The audit trail is whole, then records the restore and what the sweeps did after it.
        assert after["audit"][: len(before["audit"])] == before["audit"]
        added = after["audit"][len(before["audit"]) :]
        assert [event["action"] for event in added] == ["backup.restored", "photo.deleted"]
        assert added[0]["id"] == before["audit"][-1]["id"] + 1  # the id sequences carry on where they were
        # Retention ran before the site opened: the expired photo and the old sent email are gone.
        expired = Photo.objects.get(pk=site["expired"].pk)
        assert expired.status == Photo.Status.DELETED
        assert not OutboxEmail.objects.filter(subject="Long sent").exists()
        assert stored_names(vault, already) == blobs - _names(site["expired"])
        # Everything else is as it was, row for row.
        for label, count in rows_before.items():
            if label not in {"staff.auditevent", "staff.outboxemail"}:
                assert apps.get_model(label)._base_manager.count() == count, label


def _names(photo: Photo) -> set[str]:
    return {getattr(photo, blob) for blob, _key in PHOTO_BLOBS if getattr(photo, blob)}


def assert_no_key_material(folder: Path, keys: dict[str, bytes]) -> None:
    """No vault key, in any encoding, in any file of the backup (the database file read unzipped too)."""
    secrets = []
    for key in keys.values():
        secrets += [key, base64.urlsafe_b64encode(key), base64.b64encode(key), key.hex().encode()]
        secrets += [base64.urlsafe_b64encode(key).rstrip(b"="), base64.b64encode(key).rstrip(b"=")]
    for path in folder.rglob("*"):
        if path.is_file():
            contents = [path.read_bytes()]
            if path.suffix == ".gz":
                contents.append(gzip.decompress(contents[0]))
            for data in contents:
                assert not any(secret in data for secret in secrets), path


def assert_private(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path


# --- consistency -----------------------------------------------------------------------------------------------


def test_the_backup_is_one_moment_even_while_the_site_is_used(keys, settings, tmp_path, monkeypatch):
    """A photo uploaded (by another connection) while the backup runs is in neither its rows nor its blobs."""
    photographer = factories.staff_user("photographer")
    family, child, _carer = consented_child()
    ready_photo(family, [child], photographer)
    references = backup.vault_references
    late: list[Photo] = []

    def upload_meanwhile():
        try:
            late.append(ready_photo(family, [child], photographer))
        finally:
            connection.close()

    def references_after_an_upload():
        thread = threading.Thread(target=upload_meanwhile)
        thread.start()
        thread.join()
        yield from references()

    monkeypatch.setattr(backup, "vault_references", references_after_an_upload)
    run_backup(tmp_path / "backup")

    manifest = manifest_of(tmp_path / "backup")
    assert late and Photo.objects.count() == 2
    assert manifest["database"]["rows"]["photos.photo"] == 1
    blobs = {entry["blob"] for entry in manifest["files"] if "blob" in entry}
    assert blobs == dumped_blob_names(tmp_path / "backup")
    assert not blobs & _names(late[0])


def test_every_field_holding_a_blob_name_is_backed_up():
    """A new `*_blob` field must be added to BLOB_FIELDS, or its blobs would be left out of every backup."""
    named = {
        (model._meta.label_lower, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if field.name.endswith("_blob")
    }
    assert named == {(label, blob) for label, blob, _key in backup.BLOB_FIELDS}


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.fixture
def small_backup(keys, settings, tmp_path) -> Path:
    photographer = factories.staff_user("photographer")
    family, child, carer = consented_child()
    sign(request_for(child, carer), all_answers())
    ready_photo(family, [child], photographer)
    out = tmp_path / "backup"
    run_backup(out)
    return out


def _blob_entries(folder: Path) -> list[dict]:
    return [entry for entry in manifest_of(folder)["files"] if "blob" in entry]


def test_a_changed_or_incomplete_backup_is_refused_and_nothing_changes(small_backup):
    blob = _blob_entries(small_backup)[0]
    stored = {entry["blob"]: storages["vault"].exists(entry["blob"]) for entry in _blob_entries(small_backup)}

    def refused(match: str) -> None:
        with fresh_database():
            with pytest.raises(CommandError, match=match):
                run_restore(small_backup)
            assert connection.introspection.table_names() == []

    changed = bytearray((small_backup / blob["path"]).read_bytes())
    changed[-1] ^= 1
    (small_backup / blob["path"]).write_bytes(bytes(changed))
    refused(f"failed its checks, so nothing was changed:\n  {blob['path']}: its size or checksum does not match")

    (small_backup / blob["path"]).unlink()
    refused(f"{blob['path']}: missing")

    database = small_backup / "database.jsonl.gz"
    database.write_bytes(database.read_bytes() + b"\0")
    refused("database.jsonl.gz: its size or checksum does not match")

    (small_backup / "manifest.json").unlink()
    refused("has no manifest.json: it is not a backup, or one that never finished")
    assert {name: storages["vault"].exists(name) for name in stored} == stored


def test_a_missing_or_wrong_key_copy_is_found_before_anything_changes(small_backup, keys, settings):
    settings.FIG_VAULT_KEYS = {"b2": keys["b2"]}
    with fresh_database():
        with pytest.raises(CommandError, match="FIG_VAULT_KEYS has no key b1"):
            run_restore(small_backup)
        settings.FIG_VAULT_KEYS = {"b1": keys["b2"]}  # the right id, the wrong key
        with pytest.raises(CommandError, match="does not open with the vault keys"):
            run_restore(small_backup)
        assert connection.introspection.table_names() == []


def test_a_restore_goes_only_into_an_empty_database_and_vault(small_backup):
    # This database is the site's own, tables and all.
    with pytest.raises(CommandError, match=r"already has \d+ table\(s\): a restore goes into an empty one"):
        run_restore(small_backup)
    # An empty database, but the vault still holds the blobs.
    with fresh_database():
        with pytest.raises(CommandError, match="The vault storage already holds 3 of this backup's blobs"):
            run_restore(small_backup)
        assert connection.introspection.table_names() == []


def test_a_backup_from_another_release_is_refused(small_backup):
    manifest = manifest_of(small_backup)
    manifest["migrations"].append("photos.9999_from_the_future")
    (small_backup / "manifest.json").write_text(json.dumps(manifest))
    with fresh_database():
        with pytest.raises(CommandError, match="restore it with the release that made it.*photos.9999_from_the_future"):
            run_restore(small_backup)
        assert connection.introspection.table_names() == []


def test_a_blob_missing_from_storage_fails_the_backup_loudly_but_the_rest_is_written(keys, tmp_path):
    photographer = factories.staff_user("photographer")
    family, child, _carer = consented_child()
    lost, kept = ready_photo(family, [child], photographer), ready_photo(family, [child], photographer)
    storages["vault"].delete(lost.original_blob)
    out = tmp_path / "backup"

    with pytest.raises(CommandError, match="1 blob\\(s\\) the database names could not be copied"):
        run_backup(out)

    manifest = manifest_of(out)
    assert [item["blob"] for item in manifest["vault"]["missing"]] == [lost.original_blob]
    assert manifest["vault"]["missing"][0]["where"] == f"photos.photo {lost.pk} original_blob"
    assert {entry["blob"] for entry in _blob_entries(out)} == {lost.thumbnail_blob} | _names(kept)


def test_a_backup_goes_into_a_new_folder(keys, tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "something").write_text("")
    with pytest.raises(CommandError, match="already exists and is not an empty folder"):
        run_backup(tmp_path / "backup")


def test_prune_deletes_only_backups_older_than_the_keep_days(keys, settings, tmp_path):
    settings.FIG_BACKUP_KEEP_DAYS = 30
    now = timezone.now()

    def made(name: str, days: int, marker: str = "manifest.json", key: str = "created_at") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / marker).write_text(
            json.dumps({"format": "fig-safety-backup", key: (now - timedelta(days)).isoformat()})
        )
        return folder

    old, recent = made("old", 31), made("recent", 29)
    unfinished = made("unfinished", 40, marker="backup-unfinished.json", key="started_at")
    other = tmp_path / "not-a-backup"
    other.mkdir()

    output = run_backup(tmp_path / "today", "--prune")

    assert not old.exists() and not unfinished.exists()
    assert recent.exists() and other.exists() and (tmp_path / "today" / "manifest.json").exists()
    assert f"Deleted an old backup: {old}" in output


# --- SQLite (`make run`) ------------------------------------------------------------------------------------------


def test_it_restores_the_demo_site_on_sqlite(tmp_path):
    """The same commands on `make run`'s database: the demo backed up from one folder, restored into another."""
    key = "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode()

    def manage(var: str, *args: str) -> str:
        env = fresh_environment(FIG_VAR_DIR=str(tmp_path / var), FIG_VAULT_KEYS=key, DJANGO_DEBUG="1")
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("site", "migrate", "-v0")
    manage("site", "seed_demo")
    manage("site", "backup", "--out", str(tmp_path / "backup"))
    output = manage("restored", "restore", str(tmp_path / "backup"))

    manifest = manifest_of(tmp_path / "backup")
    assert manifest["database"]["engine"] == "sqlite" and manifest["vault"]["blobs"] > 0
    assert f"Vault: {manifest['vault']['blobs']} blobs." in output
    check = (
        "from photos.models import Photo; from fig_safety.vault import vault_read; "
        "from staff.models import AuditEvent; "
        "print(sum(len(vault_read(name=p.original_blob, key_id=p.original_key_id)) > 0 for p in Photo.objects.all()), "
        "AuditEvent.objects.count())"
    )
    photos, events = manage("restored", "shell", "-v0", "-c", check).strip().splitlines()[-1].split()
    assert int(photos) == manifest["database"]["rows"]["photos.photo"] > 0
    assert int(events) == manifest["database"]["rows"]["staff.auditevent"] + 1  # and the restore's own
