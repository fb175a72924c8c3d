"""Storage: what reaches the disk or the bucket is sealed and randomly named; keys rotate without loss.

The S3 path runs against moto in server mode on loopback (a real HTTP S3 API,
through django-storages and boto3), not a mock of boto3: tests/s3_server.py.
"""

from __future__ import annotations

import io
import os
import re
import stat
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from consents.models import ConsentRecord
from fig_safety import vault
from fig_safety.vault import MAGIC, vault_read
from fig_safety.vault_references import vault_references
from photos.management.commands.vault_rotate_key import KINDS
from photos.models import Photo
from photos.services import photo_confirm_unidentifiable, photo_delete, photo_process, photo_upload
from social.inbox import services as inbox_services
from social.inbox.attachments import attachments_fetch
from social.inbox.meta import Attachment, Event
from staff.models import AuditEvent
from tests import factories, s3_server
from tests.consents.factories import EVIDENCE, all_answers, request_for, sign
from tests.photos import images
from tests.photos.fixtures import consented_child, ready_photo, unique_jpeg, vault_files
from tests.s3_server import bucket_objects
from tests.social.fake_graph import page_graph

NAME = re.compile(r"(photos|thumbnails|incoming|signatures|consent-scans)/[0-9a-f]{4}/[A-Za-z0-9_-]{32}\.bin")
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


def raw(name: str) -> bytes:
    with storages["vault"].open(name, "rb") as handle:
        return handle.read()


def assert_sealed(blob: bytes) -> None:
    """Not an image by any reading: no image signature at the start, Pillow cannot open it."""
    assert blob.startswith(MAGIC)
    assert not blob.startswith(IMAGE_SIGNATURES)
    assert b"JFIF" not in blob[:64] and b"Exif" not in blob[:64]
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(blob))


# --- the local private folder ----------------------------------------------------------


def test_originals_and_thumbnails_are_not_readable_images_in_storage(photographer):
    family, child, _carer = consented_child()
    photos = [
        ready_photo(family, [child], photographer, data=data)
        for data in (images.jpeg(320, 240, noise=True), images.png(transparent=True), images.heic())
    ]

    for photo in photos:
        for name, key_id in (
            (photo.original_blob, photo.original_key_id),
            (photo.thumbnail_blob, photo.thumbnail_key_id),
        ):
            assert_sealed(raw(name))
            clear = vault_read(name=name, key_id=key_id)
            assert clear.startswith(b"\xff\xd8\xff")  # the vault opens it: a clean JPEG
            assert Image.open(io.BytesIO(clear)).format == "JPEG"


def test_the_files_on_disk_are_sealed_too(photographer):
    """Read straight from the folder, past Django's storage API."""
    before = vault_files()
    family, child, _carer = consented_child()
    ready_photo(family, [child], photographer, data=images.jpeg(exif_gps=True))

    new = vault_files() - before
    assert len(new) == 2
    for path in new:
        assert_sealed(Path(path).read_bytes())


def test_stored_names_are_random_and_never_the_uploaded_name(photographer):
    family, child, _carer = consented_child()
    first = ready_photo(family, [child], photographer)
    second = ready_photo(family, [child], photographer)

    names = [first.original_blob, first.thumbnail_blob, second.original_blob, second.thumbnail_blob]
    assert len(set(names)) == 4
    for name in names:
        assert NAME.fullmatch(name), name
        assert first.upload_sha256 not in name and str(first.public_id) not in name
        assert child.first_name.lower() not in name.lower() and family.reference.lower() not in name.lower()


def test_the_vault_folder_is_private_to_the_process_owner(photographer):
    family, child, _carer = consented_child()
    photo = ready_photo(family, [child], photographer)

    root = Path(django_settings.FIG_VAULT_DIR)
    path = root / photo.original_blob
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert django_settings.STORAGES["vault"]["OPTIONS"]["base_url"] is None


# --- S3-compatible, through moto's server on loopback -------------------------------------

s3_vault = s3_server.s3_vault  # the fixture (tests/s3_server.py), shared with the backup tests


def test_the_s3_vault_stores_sealed_privately_named_objects(s3_vault, photographer, django_capture_on_commit_callbacks):
    family, child, _carer = consented_child(at=timezone.now() - timedelta(hours=2))
    local_before = vault_files()
    data = images.jpeg(200, 150, exif_gps=True, taken_at=images.an_hour_ago()[1])

    with django_capture_on_commit_callbacks(execute=True):
        batch = photo_upload(
            family=family, children=[child], files=[data], no_child_identifiable=False, by=photographer
        )
    photo = batch.photos.get()

    assert photo.status == Photo.Status.READY, photo.refusal_reason
    objects = bucket_objects(s3_vault)
    assert set(objects) == {f"vault/{photo.original_blob}", f"vault/{photo.thumbnail_blob}"}  # incoming is gone
    for key, blob in objects.items():
        assert NAME.fullmatch(key.removeprefix("vault/")), key
        assert_sealed(blob)
        grants = s3_vault.get_object_acl(Bucket=s3_vault.bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
        assert grants[0]["Grantee"]["Type"] == "CanonicalUser"  # the owner only: no AllUsers, no AuthenticatedUsers
    assert vault_files() == local_before  # nothing went to the local folder

    clear = vault_read(name=photo.original_blob, key_id=photo.original_key_id)
    assert Image.open(io.BytesIO(clear)).size == (200, 150)
    assert b"Exif" not in clear

    with django_capture_on_commit_callbacks(execute=True):  # the blobs go once the deletion commits
        photo_delete(photo_id=photo.pk, reason="test")
    assert bucket_objects(s3_vault) == {}


def test_a_refused_file_leaves_nothing_in_the_bucket(s3_vault, photographer, django_capture_on_commit_callbacks):
    family, child, _carer = consented_child()

    with django_capture_on_commit_callbacks(execute=True):
        batch = photo_upload(
            family=family,
            children=[child],
            files=[images.truncated_jpeg()],
            no_child_identifiable=False,
            by=photographer,
        )

    assert batch.photos.get().status == Photo.Status.REFUSED
    assert bucket_objects(s3_vault) == {}


def test_key_rotation_works_on_the_s3_vault(s3_vault, photographer, settings):
    settings.FIG_VAULT_KEYS = {"k1": os.urandom(32)}
    family, child, _carer = consented_child()
    photo = ready_photo(family, [child], photographer)
    settings.FIG_VAULT_KEYS = {"k2": os.urandom(32), **settings.FIG_VAULT_KEYS}

    call_command("vault_rotate_key", stdout=StringIO())

    photo.refresh_from_db()
    settings.FIG_VAULT_KEYS = {"k2": settings.FIG_VAULT_KEYS["k2"]}
    assert photo.original_key_id == photo.thumbnail_key_id == "k2"
    assert vault_read(name=photo.original_blob, key_id="k2").startswith(b"\xff\xd8\xff")
    assert set(bucket_objects(s3_vault)) == {f"vault/{photo.original_blob}", f"vault/{photo.thumbnail_blob}"}


# --- key rotation --------------------------------------------------------------------------


@pytest.fixture
def keys(settings):
    k1, k2 = os.urandom(32), os.urandom(32)
    settings.FIG_VAULT_KEYS = {"k1": k1}
    return {"k1": k1, "k2": k2}


@pytest.fixture
def vault_contents(keys, photographer, settings):
    """Everything the vault holds, all sealed with k1: photos (one still processing, one with a confirmed
    version with its face blurred), a signature, a scan and an attachment sent to FiG's inbox."""
    family, child, carer = consented_child()
    ready = [ready_photo(family, [child], photographer) for _ in range(3)]
    faces = ready_photo(family, [child], photographer, data=images.astronaut())
    photo_confirm_unidentifiable(photo=faces, confirmed=True, by=photographer)
    waiting = photo_upload(
        family=family,
        children=[child],
        files=[unique_jpeg()],
        no_child_identifiable=False,
        by=photographer,
        queue=False,
    ).photos.get()
    signed = sign(request_for(child, carer), all_answers())
    from consents.services import signing as consent_services

    scanned = consent_services.consent_record_offline(
        child=child,
        carer=carer,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="A. Coordinator",
        by=None,
        scan=(images.pdf(), "application/pdf"),
        evidence=EVIDENCE,
    )
    with page_graph(settings) as fake:
        url = fake.add_attachment("/cdn/photo.jpg", images.jpeg(), "image/jpeg")
        message = inbox_services.event_ingest(
            Event(
                platform="messenger",
                kind="message",
                action="add",
                platform_id="m-rotate",
                person_id="psid-1",
                person_name="",
                text="A photo for you",
                at=timezone.now() - timedelta(minutes=1),
                attachments=(Attachment(type="image", url=url),),
            )
        )
        assert attachments_fetch(message_id=message.pk) == 1
    faces.refresh_from_db()
    message.refresh_from_db()
    assert signed.signature_blob and scanned.scan_blob and message.attachments[0]["blob"]
    assert faces.unidentifiable_blob and faces.unidentifiable_thumbnail_blob and faces.marked_unidentifiable
    return {
        "ready": ready,
        "faces": faces,
        "waiting": waiting,
        "signature": signed,
        "scan": scanned,
        "message": message,
    }


def all_blobs() -> list[tuple[str, str, str]]:
    """(kind, name, recorded key id) for every blob the database names: the list backups copy."""
    return [(reference.kind, reference.name, reference.key_id) for reference in vault_references()]


def rotate() -> str:
    out = StringIO()
    call_command("vault_rotate_key", stdout=out)
    return out.getvalue()


def test_key_rotation_reseals_everything_and_keeps_it_readable(vault_contents, keys, settings):
    before = all_blobs()
    kinds = {"original", "thumbnail", "incoming", "unidentifiable", "unidentifiable_thumbnail", "signature", "scan"}
    assert {what for what, _n, _k in before} == kinds | {"attachment"} == set(KINDS)  # one of every kind
    assert {key for _w, _n, key in before} == {"k1"}
    clear = {name: vault_read(name=name, key_id=key) for _w, name, key in before}
    sealed = {name: raw(name) for _w, name, _k in before}

    settings.FIG_VAULT_KEYS = {"k2": keys["k2"], "k1": keys["k1"]}  # the new key first
    output = rotate()

    assert "originals   re-sealed:      4" in output
    assert "thumbnails  re-sealed:      4" in output
    assert "incomings   re-sealed:      1" in output
    assert "unidentifiable versions re-sealed:      1" in output
    assert "unidentifiable thumbnails re-sealed:      1" in output
    assert "signatures  re-sealed:      1" in output
    assert "scans       re-sealed:      1" in output
    assert "attachments re-sealed:      1" in output
    assert f"Re-sealed {len(before)} blob(s) with key k2; 0 were already on it." in output
    after = all_blobs()
    assert [name for _w, name, _k in after] == [name for _w, name, _k in before]  # same names, new seals
    for what, name, key in after:
        assert raw(name) != sealed[name]
        assert vault.blob_key_id(raw(name)) == "k2"
        assert vault_read(name=name, key_id=key) == clear[name]
        # Photo rows and attachments record the new key; signed consent rows are append-only and keep the key
        # they were made with.
        assert key == ("k1" if what in {"signature", "scan"} else "k2")
    assert AuditEvent.objects.filter(action="vault.key_rotated").count() == 1

    # Running it again changes nothing.
    resealed = {name: raw(name) for _w, name, _k in after}
    again = rotate()
    assert f"Re-sealed 0 blob(s) with key k2; {len(before)} were already on it." in again
    assert {name: raw(name) for _w, name, _k in after} == resealed
    assert all_blobs() == after

    # The old key can go: everything still opens, and the waiting photo still processes.
    settings.FIG_VAULT_KEYS = {"k2": keys["k2"]}
    for _what, name, key in all_blobs():
        assert vault_read(name=name, key_id=key) == clear[name]
    processed = photo_process(photo_id=vault_contents["waiting"].pk)
    assert processed.status == Photo.Status.READY
    assert processed.original_key_id == "k2"
    faces = vault_contents["faces"]
    faces.refresh_from_db()
    assert faces.unidentifiable_key_id == faces.unidentifiable_thumbnail_key_id == "k2"
    assert faces.marked_unidentifiable  # the confirmation is the row's, untouched
    vault_contents["message"].refresh_from_db()
    [attachment] = vault_contents["message"].attachments
    assert attachment["key_id"] == "k2" and attachment["content_type"] == "image/jpeg"


def test_without_rotation_removing_the_old_key_loses_access(vault_contents, keys, settings):
    """The control for the test above: it is the rotation that keeps things readable."""
    photo = vault_contents["ready"][0]
    settings.FIG_VAULT_KEYS = {"k2": keys["k2"]}
    with pytest.raises(vault.VaultError, match="not configured"):
        vault_read(name=photo.original_blob, key_id=photo.original_key_id)


def test_rotating_with_nothing_new_changes_nothing(vault_contents):
    sealed = {name: raw(name) for _w, name, _k in all_blobs()}

    output = rotate()

    assert "Re-sealed 0 blob(s) with key k1" in output
    assert {name: raw(name) for name in sealed} == sealed


def test_a_missing_blob_fails_the_rotation_loudly_but_the_rest_moves(vault_contents, keys, settings):
    lost, message = vault_contents["ready"][0], vault_contents["message"]
    storages["vault"].delete(lost.original_blob)
    storages["vault"].delete(message.attachments[0]["blob"])
    settings.FIG_VAULT_KEYS = {"k2": keys["k2"], "k1": keys["k1"]}

    err = StringIO()
    with pytest.raises(CommandError, match="2 blob\\(s\\) could not be re-sealed"):
        call_command("vault_rotate_key", stdout=StringIO(), stderr=err)

    assert f"photo {lost.public_id} original" in err.getvalue()
    assert f"message {message.pk} attachment 0" in err.getvalue()
    lost.refresh_from_db()
    assert lost.original_key_id == "k1" and lost.thumbnail_key_id == "k2"
    message.refresh_from_db()
    assert message.attachments[0]["key_id"] == "k1"
    other = vault_contents["ready"][1]
    other.refresh_from_db()
    assert other.original_key_id == "k2"
