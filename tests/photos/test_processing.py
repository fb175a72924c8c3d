"""Processing: every upload is checked by content, turned upright and re-encoded from pixels alone.

The first half drives `photos.processing.process_upload` directly; the second
drives the services (upload, then the task at commit) and looks in the vault
folder to prove a refused file leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from PIL import GdImageFile, Image, ImageFile, UnidentifiedImageError

from consents.models import Purpose
from fig_safety.vault import vault_read
from photos import processing
from photos.models import Photo, UploadBatch
from photos.processing import THUMBNAIL_SIZE, PhotoRefused, process_upload
from photos.services import UploadError, photo_process, photo_upload
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import ChildFactory, all_answers, assign, family_with_child, give, withdraw
from tests.photos import images
from tests.photos.fixtures import consented_child, vault_files
from tests.services import SERVICES

NOT_A_PHOTO = "This is not a JPEG, PNG, WebP or HEIC photo."
DAMAGED = "The file is damaged or incomplete, so it cannot be read as a photo."


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_no_metadata(data: bytes, *secrets: bytes) -> None:
    """Nothing but pixels: no EXIF (GPS included), no XMP, no comment, no named text chunk."""
    image = opened(data)
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert not {"exif", "xmp", "comment", "icc_profile", "XML:com.adobe.xmp"} & set(image.info)
    assert b"Exif\x00\x00" not in data
    assert b"GPS" not in data
    assert b"FiG test camera" not in data  # the EXIF Make tag every test image carries
    assert b"http://ns.adobe.com/xap/1.0/" not in data and b"xpacket" not in data and b"xmpmeta" not in data
    assert b"\xff\xfe" not in data.split(b"\xff\xda", 1)[0]  # no COM segment before the scan
    for secret in secrets:
        assert secret not in data
    assert data.endswith(b"\xff\xd9")  # ends where the JPEG ends: nothing trails it


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


@contextmanager
def forbid_decoding() -> Iterator[list[str]]:
    """Record any attempt to decode pixels (the test then asserts there was none).

    Both load methods: Image.Image's and ImageFile's (which every file format uses).
    """
    calls: list[str] = []

    def refuse(image, *args, **kwargs):
        calls.append(type(image).__name__)
        raise AssertionError("pixels were decoded")

    with mock.patch.object(Image.Image, "load", refuse), mock.patch.object(ImageFile.ImageFile, "load", refuse):
        yield calls


# --- metadata -----------------------------------------------------------------


def test_it_removes_gps_exif_xmp_and_the_comment_from_a_jpeg():
    secret = b"Ava Demo lives at 12 Acacia Road, BS1 4DJ"
    data = images.jpeg(exif_gps=True, comment=secret, xmp=True, taken_at=images.TAKEN_AT)
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(0x8825)  # the test image really carries GPS...
    assert secret in data and b"xpacket" in data  # ...and the comment and XMP

    result = process_upload(data)

    assert_no_metadata(result.original, secret, b"Ava Demo")
    assert_no_metadata(result.thumbnail, secret, b"Ava Demo")


@pytest.mark.parametrize(
    "make",
    [
        lambda: images.png(exif_gps=True, comment="Ava Demo lives at 12 Acacia Road"),
        lambda: images.png(transparent=True, exif_gps=True, comment="Ava Demo lives at 12 Acacia Road"),
        lambda: images.webp(exif_gps=True),
    ],
    ids=["png", "png-transparent", "webp"],
)
def test_it_removes_metadata_from_png_and_webp(make):
    data = make()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)

    result = process_upload(data)

    assert_no_metadata(result.original, b"Ava Demo", b"Acacia")
    assert_no_metadata(result.thumbnail, b"Ava Demo", b"Acacia")


def test_orientation_6_is_stored_upright_without_the_tag():
    data = images.jpeg(64, 48, orientation=6)
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == 6

    result = process_upload(data)

    upright = opened(result.original)
    assert (result.width, result.height) == (48, 64) == upright.size
    assert len(upright.getexif()) == 0
    # The red marker was top-left as stored; turned 90° clockwise it is top-right.
    assert near(upright.getpixel((48 - 4, 4)), images.MARKER)
    assert near(upright.getpixel((4, 4)), images.GREY)
    assert near(upright.getpixel((48 - 4, 64 - 4)), images.GREY)
    assert opened(result.thumbnail).size == (48, 64)


def test_an_upright_photo_keeps_its_marker_where_it_was():
    result = process_upload(images.jpeg(64, 48))
    image = opened(result.original)
    assert image.size == (64, 48)
    assert near(image.getpixel((4, 4)), images.MARKER)
    assert near(image.getpixel((60, 4)), images.GREY)


@pytest.mark.parametrize(
    "payload",
    [images.HTML_PAYLOAD, images.zip_payload()],
    ids=["html", "zip"],
)
def test_a_payload_appended_to_a_jpeg_is_gone(payload):
    data = images.with_trailer(images.jpeg(), payload)

    result = process_upload(data)

    for part in (payload, payload[:24], payload[-24:], b"<html", b"<script", b"PK\x03\x04", b"PK\x05\x06", b"payload"):
        assert part not in result.original
        assert part not in result.thumbnail
    assert result.original.endswith(b"\xff\xd9")
    assert result.upload_sha256 == hashlib.sha256(data).hexdigest()


# --- refused before decoding -----------------------------------------------------


def test_the_decoding_guard_notices_a_decode():
    data = images.jpeg()
    with forbid_decoding() as decoded, pytest.raises(PhotoRefused):
        process_upload(data)  # an ordinary photo must be decoded, so the guard trips
    assert decoded


def test_a_20000_by_20000_png_of_a_few_kb_is_refused_without_decoding():
    bomb = images.bomb_png(20000, 20000)
    assert len(bomb) < 4096

    with forbid_decoding() as decoded, pytest.raises(PhotoRefused, match="too many pixels") as refused:
        process_upload(bomb)

    assert "megapixels" in str(refused.value)
    assert decoded == []


def test_a_complete_bomb_is_refused_without_decoding_too():
    bomb = images.bomb_png(20000, 20000, complete=True)
    assert len(bomb) < 64_000

    with forbid_decoding() as decoded, pytest.raises(PhotoRefused, match="too many pixels"):
        process_upload(bomb)
    assert decoded == []


def test_an_image_over_the_pixel_limit_is_refused_by_its_header(settings):
    """Our own limit, not only Pillow's: a 3-megapixel JPEG against a 1-megapixel limit."""
    settings.FIG_PHOTO_MAX_PIXELS = 1_000_000
    data = images.jpeg(2000, 1500)

    with forbid_decoding() as decoded, pytest.raises(PhotoRefused) as refused:
        process_upload(data)

    assert str(refused.value) == "The image is 2000 × 1500 pixels, more than the 1 megapixels accepted."
    assert decoded == []


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_9000_by_9000_png_is_refused_with_its_size():
    bomb = images.bomb_png(9000, 9000)
    with forbid_decoding() as decoded, pytest.raises(PhotoRefused, match="9000 × 9000 pixels"):
        process_upload(bomb)
    assert decoded == []


def test_a_file_over_the_size_limit_is_refused_before_it_is_opened(settings):
    settings.FIG_PHOTO_MAX_BYTES = 1000
    data = images.jpeg(200, 200, noise=True)

    with mock.patch.object(processing.Image, "open") as opens, pytest.raises(PhotoRefused, match="larger than"):
        process_upload(data)
    opens.assert_not_called()


def test_an_empty_file_is_refused():
    with pytest.raises(PhotoRefused, match="empty"):
        process_upload(b"")


# --- refused by content -----------------------------------------------------------


def test_the_disguised_files_are_really_what_they_claim():
    """The fakes are real files of their kind, so refusing them proves the content check."""
    assert Image.open(io.BytesIO(images.fits())).format == "FITS"
    assert GdImageFile.open(io.BytesIO(images.gd())).size == (64, 48)
    assert images.pdf().startswith(b"%PDF")
    assert b"<svg" in images.svg()


@pytest.mark.parametrize(
    "make",
    [
        images.svg,
        images.pdf,
        images.fits,
        images.gd,
        lambda: images.other_format("GIF"),
        lambda: images.other_format("BMP"),
        lambda: images.other_format("TIFF"),
    ],
    ids=["svg", "pdf", "fits", "gd", "gif", "bmp", "tiff"],
)
def test_other_kinds_of_file_renamed_jpg_are_refused(make):
    upload = images.upload(make(), name="holiday.jpg", content_type="image/jpeg")  # as a browser would send it
    data = upload.read()

    with forbid_decoding() as decoded, pytest.raises(PhotoRefused) as refused:
        process_upload(data)

    assert str(refused.value) == NOT_A_PHOTO
    assert decoded == []


def test_jpeg_magic_in_front_of_something_else_is_refused():
    with pytest.raises(PhotoRefused):
        process_upload(b"\xff\xd8\xff\xe0" + images.svg())
    with pytest.raises(PhotoRefused):
        process_upload(b"\xff\xd8\xff\xe0" + images.png()[4:])


def test_a_png_that_claims_to_be_a_jpeg_by_its_first_bytes_is_refused():
    """The sniffed kind and Pillow's reading must agree."""
    with pytest.raises(PhotoRefused):
        process_upload(b"\xff\xd8\xff" + images.png())


def test_a_truncated_jpeg_is_refused():
    data = images.truncated_jpeg()
    assert data.startswith(b"\xff\xd8\xff")

    with pytest.raises(PhotoRefused) as refused:
        process_upload(data)
    assert str(refused.value) == DAMAGED


@pytest.mark.parametrize("cut", [3, 20, 120], ids=["magic-only", "header-only", "no-image-data"])
def test_a_jpeg_cut_off_early_is_refused(cut):
    with pytest.raises(PhotoRefused):
        process_upload(images.jpeg()[:cut])


def test_a_decoder_that_raises_something_odd_still_gives_a_clear_refusal(monkeypatch):
    """A hostile file can make a decoder raise anything; the photo must not be left stuck in processing."""

    def explode(image, **kwargs):
        raise IndexError("broken Huffman table")

    monkeypatch.setattr(processing.ImageOps, "exif_transpose", explode)
    with pytest.raises(PhotoRefused, match="damaged"):
        process_upload(images.jpeg())


# --- accepted ---------------------------------------------------------------------


def test_a_png_with_transparency_is_accepted_and_flattened_onto_white():
    result = process_upload(images.png(64, 48, transparent=True))

    image = opened(result.original)
    assert result.source_format == "PNG"
    assert image.mode == "RGB" and image.size == (64, 48)
    assert near(image.getpixel((4, 4)), images.MARKER)
    assert near(image.getpixel((10, 30)), images.GREY)
    assert near(image.getpixel((60, 30)), (255, 255, 255))  # the see-through half


@pytest.mark.parametrize(
    ("make", "source_format"),
    [(images.jpeg, "JPEG"), (images.png, "PNG"), (images.webp, "WebP"), (images.heic, "HEIC")],
    ids=["jpeg", "png", "webp", "heic"],
)
def test_each_accepted_format_becomes_a_clean_jpeg(make, source_format):
    data = make(64, 48)

    result = process_upload(data)

    assert result.source_format == source_format
    assert (result.width, result.height) == (64, 48)
    image = opened(result.original)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert near(image.getpixel((4, 4)), images.MARKER, tolerance=60)
    assert_no_metadata(result.original)


def test_a_phone_jpeg_with_a_second_picture_inside_is_accepted_as_a_jpeg():
    """Phones write depth and HDR gain maps as extra pictures (Pillow calls it MPO); only the first is kept."""
    first, second = images.picture(64, 48), images.picture(32, 24, colour=(0, 0, 255))
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second])
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"

    result = process_upload(data)

    assert result.source_format == "JPEG"
    assert opened(result.original).size == (64, 48)
    assert len(result.original) < len(data) * 2
    assert_no_metadata(result.original)


def test_the_thumbnail_is_small():
    data = images.jpeg(2000, 1500, noise=True, quality=70)

    result = process_upload(data)

    thumbnail = opened(result.thumbnail)
    assert max(thumbnail.size) <= max(THUMBNAIL_SIZE)
    assert thumbnail.size == (480, 360)  # proportions kept
    assert len(result.thumbnail) < len(result.original) / 5
    assert (result.width, result.height) == (2000, 1500)


def test_the_sha256_is_of_the_upload_not_of_the_clean_copy():
    data = images.jpeg(exif_gps=True)

    result = process_upload(data)

    assert result.upload_sha256 == hashlib.sha256(data).hexdigest()
    assert result.upload_sha256 != hashlib.sha256(result.original).hexdigest()


def test_date_time_original_is_read_into_taken_at():
    result = process_upload(images.jpeg(taken_at=images.TAKEN_AT, exif_gps=True))

    assert result.taken_at == timezone.make_aware(datetime(2024, 5, 17, 10, 30))
    assert timezone.is_aware(result.taken_at)


@pytest.mark.parametrize("value", [None, "not a date", "0000:00:00 00:00:00", ""])
def test_a_missing_or_odd_date_is_none(value):
    data = images.jpeg() if value is None else images.jpeg(taken_at=value)
    assert process_upload(data).taken_at is None


# --- through the services -----------------------------------------------------------


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def family_child(db):
    family, child, _carer = consented_child()
    return family, child


def upload_and_process(
    django_capture_on_commit_callbacks, *, family, children, files, by, no_child_identifiable=False
) -> list[Photo]:
    """The web upload's path: the service commits, and the task runs at commit (eager Celery in tests)."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        batch = photo_upload(
            family=family, children=children, files=files, no_child_identifiable=no_child_identifiable, by=by
        )
    assert len(callbacks) == len(files)
    return list(batch.photos.order_by("pk"))


def test_an_accepted_upload_is_processed_at_commit_and_stored(django_capture_on_commit_callbacks, photographer):
    family, child, _carer = consented_child(at=timezone.now() - timedelta(hours=2))
    taken_at, camera_says = images.an_hour_ago()
    before = vault_files()

    [photo] = upload_and_process(
        django_capture_on_commit_callbacks,
        family=family,
        children=[child],
        files=[images.jpeg(taken_at=camera_says)],
        by=photographer,
    )

    assert photo.status == Photo.Status.READY
    assert photo.refusal_reason == ""
    assert photo.original_blob and photo.thumbnail_blob and not photo.incoming_blob
    assert (photo.taken_at, photo.taken_at_source) == (taken_at, "camera")
    assert (photo.width, photo.height) == (64, 48)
    new = vault_files() - before
    assert len(new) == 2  # original and thumbnail; the incoming copy is gone
    assert {n.split("/vault/", 1)[1].split("/", 1)[0] for n in new} == {"photos", "thumbnails"}
    assert AuditEvent.objects.filter(action="photo.stored", target_id=str(photo.pk)).exists()


def test_nothing_is_processed_before_the_upload_commits(django_capture_on_commit_callbacks, family_child, photographer):
    family, child = family_child
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch = photo_upload(
            family=family, children=[child], files=[images.jpeg()], no_child_identifiable=False, by=photographer
        )
    assert len(callbacks) == 1
    assert batch.photos.get().status == Photo.Status.PROCESSING


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: images.bomb_png(20000, 20000), "too many pixels"),
        (images.truncated_jpeg, "damaged or incomplete"),
        (images.svg, "not a JPEG, PNG, WebP or HEIC"),
        (images.fits, "not a JPEG, PNG, WebP or HEIC"),
    ],
    ids=["bomb", "truncated", "svg", "fits"],
)
def test_a_refused_file_leaves_no_blob_in_the_vault(
    django_capture_on_commit_callbacks, family_child, photographer, make, reason
):
    family, child = family_child
    before = vault_files()

    [photo] = upload_and_process(
        django_capture_on_commit_callbacks, family=family, children=[child], files=[make()], by=photographer
    )

    assert photo.status == Photo.Status.REFUSED
    assert reason in photo.refusal_reason
    assert vault_files() == before
    assert photo.incoming_blob == photo.original_blob == photo.thumbnail_blob == ""
    assert photo.upload_sha256 == ""
    assert AuditEvent.objects.filter(action="photo.refused", target_id=str(photo.pk)).exists()


class DatabaseDown(Exception):
    pass


def test_a_failed_upload_transaction_leaves_no_blob_in_the_vault(family_child, photographer, monkeypatch):
    """The files were sealed into the vault before the rows failed: they go again, nothing names them."""
    from photos import services

    family, child = family_child
    before = vault_files()

    def fail(**kwargs):
        raise DatabaseDown

    monkeypatch.setattr(services, "audit_record", fail)  # the last write of the upload's transaction
    with pytest.raises(DatabaseDown):
        photo_upload(
            family=family,
            children=[child],
            files=[images.jpeg(), images.png()],
            by=photographer,
            no_child_identifiable=False,
        )
    assert vault_files() == before
    assert not Photo.objects.exists()


def test_a_failed_processing_transaction_leaves_no_new_blob_in_the_vault(
    django_capture_on_commit_callbacks, family_child, photographer, monkeypatch
):
    from photos import services

    family, child = family_child
    batch = photo_upload(
        family=family,
        children=[child],
        files=[images.jpeg()],
        by=photographer,
        no_child_identifiable=False,
        queue=False,
    )
    photo = batch.photos.get()
    with_incoming = vault_files()

    real_save = Photo.save

    def save_fails_once_ready(self, *args, **kwargs):
        if self.status == Photo.Status.READY:
            raise DatabaseDown
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Photo, "save", save_fails_once_ready)
    with pytest.raises(DatabaseDown):
        services.photo_process(photo_id=photo.pk)
    # The original and thumbnail sealed for it are gone again (and the upload, deleted as it was read, too:
    # the stuck-upload sweep refuses the photo later); its row is as it was.
    assert vault_files() <= with_incoming
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PROCESSING and photo.original_blob == photo.thumbnail_blob == ""


def test_one_refused_file_does_not_stop_the_others(django_capture_on_commit_callbacks, family_child, photographer):
    family, child = family_child
    before = vault_files()

    good, bad, also_good = upload_and_process(
        django_capture_on_commit_callbacks,
        family=family,
        children=[child],
        by=photographer,
        files=[images.jpeg(colour=(10, 200, 10)), images.truncated_jpeg(), images.png()],
    )

    assert [good.status, bad.status, also_good.status] == ["ready", "refused", "ready"]
    assert len(vault_files() - before) == 4


def test_a_duplicate_of_a_photo_already_in_the_family_is_refused(
    django_capture_on_commit_callbacks, family_child, photographer
):
    family, child = family_child
    data = images.jpeg(colour=(1, 2, 3))
    [first] = upload_and_process(
        django_capture_on_commit_callbacks, family=family, children=[child], files=[data], by=photographer
    )
    after_first = vault_files()

    [second] = upload_and_process(
        django_capture_on_commit_callbacks, family=family, children=[child], files=[data], by=photographer
    )

    assert first.status == Photo.Status.READY
    assert second.status == Photo.Status.REFUSED
    assert second.refusal_reason == "This photo is already in the vault."
    assert vault_files() == after_first


def test_the_same_file_twice_in_one_upload_keeps_one(django_capture_on_commit_callbacks, family_child, photographer):
    family, child = family_child
    data = images.jpeg(colour=(9, 9, 9))
    first, second = upload_and_process(
        django_capture_on_commit_callbacks, family=family, children=[child], files=[data, data], by=photographer
    )
    assert [first.status, second.status] == ["ready", "refused"]


@pytest.mark.django_db(transaction=True)
def test_two_copies_processed_at_the_same_moment_by_two_workers_keep_one():
    # Two workers, each with its own connection, take the two copies of one file at once. The first is
    # held inside its processing (not yet ready) until the second has had every chance to run its
    # duplicate check; without a lock the second finds nothing ready, and both end up in the vault.
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time anyway")
    photographer = factories.staff_user("photographer")
    family, child, _ = consented_child()
    data = images.jpeg(colour=(7, 7, 7))
    before = vault_files()
    with mock.patch("photos.tasks.process_photo.delay"):  # the two workers below take them instead
        first, second = (
            photo_upload(
                family=family, children=[child], files=[data], no_child_identifiable=False, by=photographer
            ).photos.get()
            for _ in range(2)
        )
    real_process_upload = processing.process_upload
    first_inside, let_first_finish = threading.Event(), threading.Event()

    def hold_the_first(upload: bytes, **options):
        if not first_inside.is_set():
            first_inside.set()
            assert let_first_finish.wait(timeout=20)
        return real_process_upload(upload, **options)

    errors: list[BaseException] = []

    def worker(photo_id: int) -> None:
        try:
            photo_process(photo_id=photo_id)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    def second_waits_for_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return cursor.fetchone()[0] > 0

    with mock.patch("photos.services.process_upload", hold_the_first):
        workers = [threading.Thread(target=worker, args=(photo.pk,)) for photo in (first, second)]
        try:
            workers[0].start()
            assert first_inside.wait(timeout=20)
            workers[1].start()
            deadline = time.monotonic() + 10
            while workers[1].is_alive() and not second_waits_for_a_lock() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            let_first_finish.set()
            for thread in workers:
                thread.join(timeout=30)

    assert not errors, errors
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Photo.Status.READY, Photo.Status.REFUSED)
    assert second.refusal_reason == "This photo is already in the vault."
    assert not second.incoming_blob
    assert vault_files() - before == {
        str(django_settings.FIG_VAULT_DIR / name) for name in (first.original_blob, first.thumbnail_blob)
    }


def test_the_same_photo_in_another_family_is_not_a_duplicate(django_capture_on_commit_callbacks, photographer):
    data = images.jpeg(colour=(4, 5, 6))
    family, child, _ = consented_child()
    other_family, other_child, _ = consented_child()
    [first] = upload_and_process(
        django_capture_on_commit_callbacks, family=family, children=[child], files=[data], by=photographer
    )
    [second] = upload_and_process(
        django_capture_on_commit_callbacks, family=other_family, children=[other_child], files=[data], by=photographer
    )
    assert first.status == second.status == Photo.Status.READY


def test_processing_twice_changes_nothing(django_capture_on_commit_callbacks, family_child, photographer):
    family, child = family_child
    [photo] = upload_and_process(
        django_capture_on_commit_callbacks, family=family, children=[child], files=[images.jpeg()], by=photographer
    )
    files = vault_files()

    again = photo_process(photo_id=photo.pk)

    assert again.status == Photo.Status.READY
    assert (again.original_blob, again.thumbnail_blob) == (photo.original_blob, photo.thumbnail_blob)
    assert vault_files() == files


def assert_nothing_stored(before: set[str]) -> None:
    assert Photo.objects.count() == 0
    assert UploadBatch.objects.count() == 0
    assert vault_files() == before


def test_tagging_a_child_without_consent_is_refused_and_stores_nothing(photographer):
    family, child, _carers = family_with_child()  # no consent recorded at all
    child.first_name, child.last_name = "Ava", "Demo"
    child.save()
    before = vault_files()

    with pytest.raises(UploadError) as refused:
        photo_upload(
            family=family, children=[child], files=[images.jpeg()], no_child_identifiable=False, by=photographer
        )

    assert str(refused.value) == (
        "No current consent for Ava Demo to be photographed and kept in the vault, so they cannot be tagged."
    )
    assert_nothing_stored(before)


@pytest.mark.parametrize("missing", [Purpose.PHOTOGRAPHED, Purpose.STORED], ids=["photographed", "kept"])
def test_consent_to_be_photographed_and_to_be_kept_are_both_needed(photographer, missing):
    family, child, [carer] = family_with_child()
    give(child, carer, all_answers(**{missing.value: False}))
    before = vault_files()

    with pytest.raises(UploadError, match="No current consent for .* to be photographed and kept"):
        photo_upload(
            family=family, children=[child], files=[images.jpeg()], no_child_identifiable=False, by=photographer
        )
    assert_nothing_stored(before)


def test_a_child_whose_consent_was_withdrawn_cannot_be_tagged(photographer):
    family, child, [carer] = family_with_child()
    give(child, carer)
    withdraw(child, carer, [Purpose.PHOTOGRAPHED])
    before = vault_files()

    with pytest.raises(UploadError, match="No current consent"):
        photo_upload(
            family=family, children=[child], files=[images.jpeg()], no_child_identifiable=False, by=photographer
        )
    assert_nothing_stored(before)


def test_one_child_without_consent_stops_the_whole_upload_and_names_only_them(photographer):
    family, child, carer = consented_child()
    unconsented = ChildFactory(family=family, first_name="Ben", last_name="Nobody")
    before = vault_files()

    with pytest.raises(UploadError) as refused:
        photo_upload(
            family=family,
            children=[child, unconsented],
            files=[images.jpeg()],
            no_child_identifiable=False,
            by=photographer,
        )

    assert "Ben Nobody" in str(refused.value)
    assert child.first_name not in str(refused.value)
    assert_nothing_stored(before)


def test_a_coordinator_cannot_tag_a_child_of_a_family_they_do_not_coordinate(coordinator):
    family, _child, _carer = consented_child()
    _other_family, stranger_child, _ = consented_child()
    assign(coordinator, family)
    before = vault_files()

    with pytest.raises(UploadError, match="not in a family you may upload photos for"):
        photo_upload(
            family=family,
            children=[stranger_child],
            files=[images.jpeg()],
            no_child_identifiable=False,
            by=coordinator,
        )
    assert_nothing_stored(before)


def test_a_coordinator_cannot_upload_for_a_family_they_do_not_coordinate(coordinator):
    family, child, _carer = consented_child()
    before = vault_files()

    with pytest.raises(UploadError, match=f"You may not upload photos for family {family.reference}"):
        photo_upload(
            family=family, children=[child], files=[images.jpeg()], no_child_identifiable=False, by=coordinator
        )
    assert_nothing_stored(before)


def test_no_child_and_not_marked_unidentifiable_is_refused(photographer):
    family, _child, _carer = consented_child()
    before = vault_files()

    with pytest.raises(UploadError, match="confirm that no child can be identified"):
        photo_upload(family=family, children=[], files=[images.jpeg()], no_child_identifiable=False, by=photographer)
    assert_nothing_stored(before)


def test_no_child_marked_unidentifiable_is_accepted(django_capture_on_commit_callbacks, photographer):
    family, _child, _carer = consented_child()

    [photo] = upload_and_process(
        django_capture_on_commit_callbacks,
        family=family,
        children=[],
        by=photographer,
        files=[images.jpeg()],
        no_child_identifiable=True,
    )

    assert photo.status == Photo.Status.READY
    assert photo.no_child_identifiable is True
    assert not photo.tags.exists()


def test_no_files_is_refused(photographer):
    family, child, _carer = consented_child()
    with pytest.raises(UploadError, match="at least one photo"):
        photo_upload(family=family, children=[child], files=[], no_child_identifiable=False, by=photographer)
    assert UploadBatch.objects.count() == 0


def test_a_file_over_the_size_limit_stops_the_upload_before_anything_is_stored(photographer, settings):
    settings.FIG_PHOTO_MAX_BYTES = 1000
    family, child, _carer = consented_child()
    before = vault_files()

    with pytest.raises(UploadError, match="File 2 is larger than"):
        photo_upload(
            family=family,
            children=[child],
            files=[b"x" * 10, images.jpeg(200, 200, noise=True)],
            no_child_identifiable=False,
            by=photographer,
        )
    assert_nothing_stored(before)


def test_the_same_child_named_twice_is_tagged_once(django_capture_on_commit_callbacks, family_child, photographer):
    family, child = family_child
    [photo] = upload_and_process(
        django_capture_on_commit_callbacks,
        family=family,
        children=[child, child],
        files=[images.jpeg()],
        by=photographer,
    )
    assert list(photo.tags.values_list("child_id", flat=True)) == [child.pk]


def test_an_uploaded_file_is_already_sealed_while_it_waits_for_processing(family_child, photographer):
    """Between upload and processing the file is already sealed in the vault's incoming folder."""
    family, child = family_child
    batch = photo_upload(
        family=family, children=[child], files=[images.jpeg()], no_child_identifiable=False, by=photographer
    )
    photo = batch.photos.get()
    [incoming] = [p for p in vault_files() if photo.incoming_blob in p]
    with open(incoming, "rb") as handle, pytest.raises(UnidentifiedImageError):
        Image.open(handle)


# --- a real worker -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_processes_an_upload(photographer):
    """The task path end to end: a worker process, with the same database and vault, picks the photo up by id."""
    family, child, _carer = consented_child()
    batch = photo_upload(
        family=family,
        children=[child],
        files=[images.jpeg(exif_gps=True)],
        no_child_identifiable=False,
        by=photographer,
        queue=False,
    )
    photo = batch.photos.get()
    database = urlsplit(SERVICES.postgres_url)._replace(path="/" + connection.settings_dict["NAME"])
    broker = SERVICES.redis_url.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(broker).flushdb()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "REDIS_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="fig_safety.settings",
        DJANGO_DEBUG="1",
        EMAIL_URL="consolemail://",
        DATABASE_URL=urlunsplit(database),
        REDIS_URL=broker,
        FIG_VAR_DIR=django_settings.FIG_TEST_VAR_DIR,
        FIG_CELERY_EAGER="0",
    )
    assert Path(env["FIG_VAR_DIR"]) / "vault" == Path(django_settings.FIG_VAULT_DIR)  # the worker sees the same vault
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "fig_safety",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        Celery("probe", set_as_current=False, broker=broker).send_task("photos.tasks.process_photo", args=[photo.pk])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            photo.refresh_from_db()
            if photo.status != Photo.Status.PROCESSING:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert photo.status == Photo.Status.READY, output[-3000:]
    assert not photo.incoming_blob
    assert_no_metadata(vault_read(name=photo.original_blob, key_id=photo.original_key_id))
