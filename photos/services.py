"""Writes for the vault: upload, processing, tags, device deletion, deletion and retention.

Every write records an audit event in the same transaction. Processing runs in a
Celery task queued after the upload commits; the task takes the photo's id.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from consents.hooks import Withdrawal
from consents.models import Child, Family
from consents.selectors import consents_for_children
from consents.uses import TAG_PURPOSES, lacking
from fig_safety.vault import VaultError, blobs_removed_on_failure, vault_delete, vault_read, vault_save
from photos.faces import FaceBox, find_faces
from photos.models import Photo, PhotoAccess, PhotoTag, UploadBatch
from photos.processing import PhotoRefused, process_upload
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record, client_ip


class UploadError(Exception):
    """The upload cannot go ahead; the message is for the person uploading."""


def check_taggable(*, family: Family, children: Iterable[Child]) -> list[Child]:
    """The children, if every one is in the family and may be photographed and kept now."""
    children = list(dict.fromkeys(children))  # the same child named twice is one tag
    strangers = [c for c in children if c.family_id != family.pk]
    if strangers:
        raise UploadError("A tagged child is not in this family.")
    positions = consents_for_children([c.pk for c in children])
    missing = [c for c in children if lacking(positions[c.pk], TAG_PURPOSES)]
    if missing:
        names = ", ".join(f"{c.first_name} {c.last_name}" for c in missing)
        raise UploadError(
            f"No current consent for {names} to be photographed and kept in the vault, so they cannot be tagged."
        )
    return children


def photo_upload(
    *,
    family: Family,
    children: Iterable[Child],
    files: list[bytes],
    no_child_identifiable: bool,
    by: User,
    request: HttpRequest | None = None,
    queue: bool = True,
    blur_faces: bool = False,
) -> UploadBatch:
    """Accept files into the vault (encrypted at once) and queue each for processing after commit.

    "No child can be identified" is the uploader's claim; processing checks it: a file in which faces are
    found is refused, unless `blur_faces` asked for only a version with every face blurred to be kept.

    With `queue=False` nothing is queued: the caller runs `photo_process` for each
    photo once this has returned (vault_import does, so it needs no worker).
    """
    children = check_taggable(family=family, children=children)
    if not children and not no_child_identifiable:
        raise UploadError("Tag the children in the photos, or confirm that no child can be identified in them.")
    if blur_faces and children:
        raise UploadError("Keeping only a blurred version is for photos in which no child is tagged.")
    if not files:
        raise UploadError("Choose at least one photo.")
    too_big = [i for i, data in enumerate(files, 1) if len(data) > settings.FIG_PHOTO_MAX_BYTES]
    if too_big:
        raise UploadError(f"File {too_big[0]} is larger than {settings.FIG_PHOTO_MAX_BYTES // 1_000_000} MB.")
    from photos.tasks import process_photo

    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        batch = UploadBatch.objects.create(family=family, uploaded_by=by)
        for data in files:
            incoming = vault_save(data, folder="incoming")
            new_blobs.append(incoming.name)
            photo = Photo.objects.create(
                family=family,
                batch=batch,
                uploaded_by=by,
                no_child_identifiable=not children,
                blurred_only=blur_faces,
                upload_sha256=incoming.sha256,
                upload_size=len(data),
                incoming_blob=incoming.name,
                incoming_key_id=incoming.key_id,
            )
            PhotoTag.objects.bulk_create([PhotoTag(photo=photo, child=c, tagged_by=by) for c in children])
            if queue:
                transaction.on_commit(lambda photo_id=photo.pk: process_photo.delay(photo_id))
        audit_record(
            action="photo.uploaded",
            actor=by,
            target=family,
            request=request,
            details={"batch": str(batch.public_id), "files": len(files), "children": [c.pk for c in children]},
        )
    return batch


def photo_process(*, photo_id: int) -> Photo:
    """Check, clean, encrypt and store one uploaded photo. Safe to run twice: a done photo is left alone."""
    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo_id)
        if photo.status != Photo.Status.PROCESSING:
            return photo
        _lock_same_upload(photo.upload_sha256)
        try:
            data = vault_read(name=photo.incoming_blob, key_id=photo.incoming_key_id)
            duplicate = (
                Photo.objects.filter(family=photo.family, upload_sha256=photo.upload_sha256, status=Photo.Status.READY)
                .exclude(pk=photo.pk)
                .first()
            )
            if duplicate is not None:
                raise PhotoRefused("This photo is already in the vault.")
            result = process_upload(data, blurred_only=photo.blurred_only)
            if result.faces and not photo.blurred_only and not photo.tags.exists():
                raise PhotoRefused(faces_need_tags(len(result.faces)))
        except (PhotoRefused, VaultError) as problem:
            _discard_incoming(photo)
            photo.status, photo.refusal_reason = Photo.Status.REFUSED, str(problem)[:300]
            photo.upload_sha256 = ""  # nothing of a refused file is kept
            photo.save(update_fields=["status", "refusal_reason", "upload_sha256", "incoming_blob", "incoming_key_id"])
            audit_record(action="photo.refused", target=photo, details={"reason": photo.refusal_reason})
            return photo
        original = vault_save(result.original, folder="photos")
        new_blobs.append(original.name)
        thumbnail = vault_save(result.thumbnail, folder="thumbnails")
        new_blobs.append(thumbnail.name)
        if result.unidentifiable is not None:
            _store_unidentifiable(photo, result.unidentifiable, result.unidentifiable_thumbnail, new_blobs)
        _discard_incoming(photo)
        photo.status = Photo.Status.READY
        photo.original_blob, photo.original_key_id = original.name, original.key_id
        photo.thumbnail_blob, photo.thumbnail_key_id = thumbnail.name, thumbnail.key_id
        photo.width, photo.height, photo.taken_at = result.width, result.height, result.taken_at
        photo.faces = [box.as_dict() for box in result.faces]
        photo.face_count, photo.faces_checked_at = len(result.faces), timezone.now()
        photo.save()
        audit_record(
            action="photo.stored",
            target=photo,
            details={"format": result.source_format, "faces": len(result.faces), "blurred_only": photo.blurred_only},
        )
    return photo


def faces_need_tags(count: int) -> str:
    faces = "a face" if count == 1 else f"{count} faces"
    return (
        f"FiG Safety found {faces} in this photo, so it cannot be kept as one in which no child can be identified. "
        "Tag the children in it, or upload it again choosing to keep only a version with every face blurred."
    )


def _store_unidentifiable(photo: Photo, full: bytes, thumbnail: bytes, new_blobs: list[str]) -> None:
    """Seal a new unidentifiable version (and its thumbnail) for `photo`, replacing any earlier one once the
    transaction commits. Precondition: the row is locked."""
    old = [name for name in (photo.unidentifiable_blob, photo.unidentifiable_thumbnail_blob) if name]
    stored = vault_save(full, folder="unidentifiable")
    new_blobs.append(stored.name)
    small = vault_save(thumbnail, folder="unidentifiable-thumbnails")
    new_blobs.append(small.name)
    photo.unidentifiable_blob, photo.unidentifiable_key_id = stored.name, stored.key_id
    photo.unidentifiable_thumbnail_blob, photo.unidentifiable_thumbnail_key_id = small.name, small.key_id
    for name in old:
        transaction.on_commit(lambda name=name: vault_delete(name=name))


def _lock_same_upload(sha256: str) -> None:
    """Until this transaction ends, hold up any other processing of the same file, so that of two copies
    processed at the same moment (two workers) the second waits, sees the first ready and is refused as a
    duplicate. Only identical files wait for each other.

    On PostgreSQL, a transaction-level advisory lock on the SHA-256. SQLite needs none: it takes the
    database's write lock as each transaction starts (transaction_mode IMMEDIATE), one at a time.
    """
    if connection.vendor != "postgresql" or not sha256:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(bytes.fromhex(sha256[:16]), signed=True)])


def _discard_incoming(photo: Photo) -> None:
    """Delete the uploaded file now. Should the transaction then fail, the photo names a file that is gone,
    and the stuck-upload sweep refuses it as unreadable: nothing of it lingers, which is the side to err on."""
    if photo.incoming_blob:
        vault_delete(name=photo.incoming_blob)
    photo.incoming_blob = photo.incoming_key_id = ""


def photo_retag(
    *,
    photo: Photo,
    children: Iterable[Child],
    no_child_identifiable: bool,
    by: User,
    request: HttpRequest | None = None,
) -> None:
    children = check_taggable(family=photo.family, children=children)
    if not children and not no_child_identifiable:
        raise UploadError("Tag the children in the photo, or confirm that no child can be identified in it.")
    with transaction.atomic():
        locked = Photo.objects.select_for_update().get(pk=photo.pk)
        if not children and locked.face_count and not locked.blurred_only:
            raise UploadError(
                "FiG Safety found faces in this photo, so it cannot be marked as one in which no child can be "
                "identified. Tag the children in it."
            )
        before = sorted(locked.tags.values_list("child_id", flat=True))
        locked.tags.all().delete()
        PhotoTag.objects.bulk_create([PhotoTag(photo=locked, child=c, tagged_by=by) for c in children])
        locked.no_child_identifiable = not children
        locked.save(update_fields=["no_child_identifiable"])
        audit_record(
            action="photo.retagged",
            actor=by,
            target=locked,
            request=request,
            details={"before": before, "after": sorted(c.pk for c in children)},
        )


def photo_access_record(*, photo: Photo, user: User, action: str, request: HttpRequest | None = None) -> None:
    PhotoAccess.objects.create(photo=photo, user=user, action=action, ip_address=client_ip(request))


def photos_confirm_device_deleted(*, photos: Iterable[Photo], by: User, request: HttpRequest | None = None) -> int:
    """The photographer confirms these photos are gone from the device that took them."""
    ids = [p.pk for p in photos if p.uploaded_by_id == by.pk]
    with transaction.atomic():
        count = Photo.objects.filter(pk__in=ids, device_deleted_at__isnull=True).update(
            device_deleted_at=timezone.now()
        )
        if count:
            audit_record(
                action="photo.device_deleted", actor=by, request=request, details={"photos": ids, "count": count}
            )
    return count


def photo_keep(*, photo: Photo, reason: str, by: User, request: HttpRequest | None = None) -> None:
    """A coordinator records a lawful reason to keep a photo queued for deletion."""
    reason = reason.strip()
    if len(reason) < 10:
        raise UploadError("Write the lawful reason for keeping this photo (at least a sentence).")
    with transaction.atomic():
        locked = Photo.objects.select_for_update().get(pk=photo.pk)
        # Only a queued photo can be kept: a reason recorded beforehand would silently stop a
        # later withdrawal from queueing it (and its coordinators from hearing about it).
        if locked.status == Photo.Status.DELETED:
            raise UploadError("This photo has already been deleted.")
        if locked.deletion_due_at is None:
            raise UploadError("This photo is not waiting to be deleted, so there is nothing to keep it from.")
        locked.keep_reason, locked.keep_recorded_by, locked.deletion_due_at = reason, by, None
        locked.save(update_fields=["keep_reason", "keep_recorded_by", "deletion_due_at"])
        audit_record(action="photo.kept", actor=by, target=locked, request=request, details={"reason": reason})


def photo_add_face(*, photo: Photo, box: FaceBox, by: User, request: HttpRequest | None = None) -> Photo:
    """A coordinator draws a face the detector missed: it is blurred in the unidentifiable version (or, for
    a photo kept only blurred, in the stored image itself), which then needs confirming again."""
    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        locked = Photo.objects.select_for_update().get(pk=photo.pk)
        if locked.status != Photo.Status.READY:
            raise UploadError("This photo is not in the vault any more.")
        if box.x + box.w > locked.width or box.y + box.h > locked.height:
            raise UploadError("Draw the box inside the photo.")
        locked.drawn_faces = [*locked.drawn_faces, box.as_dict()]
        locked.face_count = len(locked.faces) + len(locked.drawn_faces)
        _remake_unidentifiable(locked, new_blobs)
        was_confirmed = locked.marked_unidentifiable
        locked.marked_unidentifiable, locked.marked_unidentifiable_by, locked.marked_unidentifiable_at = (
            False,
            None,
            None,
        )
        locked.save()
        audit_record(
            action="photo.face_drawn",
            actor=by,
            target=locked,
            request=request,
            details={"box": box.as_dict(), "confirmation_withdrawn": was_confirmed},
        )
    return locked


def _remake_unidentifiable(locked: Photo, new_blobs: list[str]) -> None:
    """Blur every box, found and drawn. A photo kept only blurred has its stored image blurred again: there is
    no original to start from. Precondition: the row is locked."""
    from photos.processing import encode_version, unidentifiable_image

    source = vault_read(name=locked.original_blob, key_id=locked.original_key_id)
    with Image.open(io.BytesIO(source)) as opened:
        image = opened.convert("RGB")
    boxes = [FaceBox.from_dict(box) for box in (*locked.faces, *locked.drawn_faces)]
    full, thumbnail = encode_version(unidentifiable_image(image, boxes))
    if not locked.blurred_only:
        _store_unidentifiable(locked, full, thumbnail, new_blobs)
        return
    old = [locked.original_blob, locked.thumbnail_blob]
    stored, small = vault_save(full, folder="photos"), vault_save(thumbnail, folder="thumbnails")
    new_blobs.extend([stored.name, small.name])
    locked.original_blob, locked.original_key_id = stored.name, stored.key_id
    locked.thumbnail_blob, locked.thumbnail_key_id = small.name, small.key_id
    for name in old:
        transaction.on_commit(lambda name=name: vault_delete(name=name))


def photo_check_faces(*, photo_id: int) -> Photo:
    """Find the faces of a photo stored before every photo was checked for them, and make its unidentifiable
    version. Safe to run twice: a checked photo is left alone."""
    from photos.processing import encode_version, unidentifiable_image

    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo_id)
        if photo.status != Photo.Status.READY or photo.faces_checked_at is not None:
            return photo
        with Image.open(io.BytesIO(vault_read(name=photo.original_blob, key_id=photo.original_key_id))) as opened:
            image = opened.convert("RGB")
        faces = find_faces(image)
        if faces:
            full, thumbnail = encode_version(unidentifiable_image(image, faces))
            _store_unidentifiable(photo, full, thumbnail, new_blobs)
        photo.faces = [box.as_dict() for box in faces]
        photo.face_count, photo.faces_checked_at = len(faces) + len(photo.drawn_faces), timezone.now()
        photo.save()
        audit_record(action="photo.faces_checked", target=photo, details={"faces": len(faces)})
    return photo


def photo_confirm_unidentifiable(
    *, photo: Photo, confirmed: bool, by: User, request: HttpRequest | None = None
) -> None:
    """A coordinator confirms, having checked it, that no child can be recognised in the photo's
    unidentifiable version (or takes that back). Only a confirmed version counts: it may then be published
    online with consent to publish alone, without consent for a recognisable face."""
    with transaction.atomic():
        locked = Photo.objects.select_for_update().get(pk=photo.pk)
        if confirmed and not (locked.unidentifiable_blob or locked.blurred_only):
            raise UploadError(
                "There is no version with faces blurred to confirm: FiG Safety found no face in this photo. "
                "Draw a box over each face it missed first."
            )
        if locked.marked_unidentifiable == confirmed:
            return
        locked.marked_unidentifiable = confirmed
        locked.marked_unidentifiable_by = by if confirmed else None
        locked.marked_unidentifiable_at = timezone.now() if confirmed else None
        locked.save(update_fields=["marked_unidentifiable", "marked_unidentifiable_by", "marked_unidentifiable_at"])
        audit_record(
            action="photo.unidentifiable_confirmed" if confirmed else "photo.unidentifiable_unconfirmed",
            actor=by,
            target=locked,
            request=request,
            details={"faces": locked.face_count, "drawn": len(locked.drawn_faces)},
        )


def photo_delete(*, photo_id: int, reason: str, by: User | None = None) -> None:
    """Delete a photo's blobs for good. The row stays (status deleted) so the audit trail stays whole."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo_id)
        if photo.status == Photo.Status.DELETED:
            return
        blobs = (
            photo.original_blob,
            photo.thumbnail_blob,
            photo.incoming_blob,
            photo.unidentifiable_blob,
            photo.unidentifiable_thumbnail_blob,
        )
        for name in blobs:
            if name:
                vault_delete(name=name)
        photo.original_blob = photo.original_key_id = photo.thumbnail_blob = photo.thumbnail_key_id = ""
        photo.unidentifiable_blob = photo.unidentifiable_key_id = ""
        photo.unidentifiable_thumbnail_blob = photo.unidentifiable_thumbnail_key_id = ""
        photo.incoming_blob = photo.incoming_key_id = ""
        photo.status, photo.deleted_at, photo.deletion_reason = Photo.Status.DELETED, timezone.now(), reason[:300]
        photo.save()
        audit_record(action="photo.deleted", actor=by, target=photo, details={"reason": reason})


def _newly_withdrawn(withdrawal: Withdrawal) -> bool:
    """Whether the child could be photographed and kept just before this record was signed."""
    from consents.models import ConsentRecord

    signed_at = ConsentRecord.objects.values_list("signed_at", flat=True).get(pk=withdrawal.record_id)
    before = consents_for_children([withdrawal.child_id], at=signed_at - timedelta(microseconds=1))[withdrawal.child_id]
    return not lacking(before, TAG_PURPOSES)


def photos_on_consent_withdrawn(withdrawal: Withdrawal) -> None:
    """Withdrawal handler: uses narrow at once (they are computed live); photos a child may no
    longer be photographed or kept in go to the deletion queue after the grace period.

    A photo a coordinator kept goes back in the queue too when this record newly takes the child's
    consent away: the lawful reason answered an earlier withdrawal (perhaps another child's in a group
    photo), not this one, so it is decided again. A record that only repeats a "no" already in force
    leaves it kept. The reason they gave stays in the audit trail (photo.kept).
    """
    if not withdrawal.purposes & set(TAG_PURPOSES):
        return
    due = timezone.now() + timedelta(days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS)
    not_queued = Photo.objects.filter(
        tags__child_id=withdrawal.child_id,
        status__in=[Photo.Status.PROCESSING, Photo.Status.READY],
        deletion_due_at__isnull=True,
    )
    ids, kept = [], []
    for photo_id, keep_reason in not_queued.values_list("pk", "keep_reason"):
        (kept if keep_reason else ids).append(photo_id)
    if kept and not _newly_withdrawn(withdrawal):
        kept = []
    if not ids and not kept:
        return
    Photo.objects.filter(pk__in=ids, deletion_due_at__isnull=True).update(
        deletion_due_at=due, deletion_reason="Consent to be photographed or kept was withdrawn."
    )
    Photo.objects.filter(pk__in=kept, deletion_due_at__isnull=True).update(
        deletion_due_at=due,
        keep_reason="",
        keep_recorded_by=None,
        deletion_reason="Consent to be photographed or kept was withdrawn again after this photo was kept. "
        "The reason recorded then answered the earlier withdrawal, not this one.",
    )
    audit_record(
        action="photo.deletion_queued",
        details={
            "photos": ids + kept,
            "requeued_after_keep": kept,
            "child": withdrawal.child_id,
            "withdrawal": withdrawal.record_id,
        },
    )
    family = Child.objects.select_related("family").get(pk=withdrawal.child_id).family
    from consents.selectors import coordinators_of

    notify(
        to=list(coordinators_of(family).values_list("email", flat=True)),
        subject=f"Photos queued for deletion in family {family.reference}",
        template="photos/email/deletion_queued.txt",
        context={
            "family": family,
            "count": len(ids) + len(kept),
            "kept": len(kept),
            "due": due,
            "link": settings.FIG_SITE_URL + reverse("photos:deletion_queue"),
        },
    )
