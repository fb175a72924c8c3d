"""Writes for the vault: upload, processing, tags, device deletion, deletion and retention.

Every write records an audit event in the same transaction. Processing runs in a
Celery task queued after the upload commits; the task takes the photo's id.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from consents.hooks import Withdrawal
from consents.models import Child, Family, Purpose
from consents.selectors import children_without_group_photo_words, consents_for_children, families_managed_by
from consents.uses import TAG_PURPOSES, lacking
from fig_safety.queueing import queue_after_commit
from fig_safety.times import when
from fig_safety.vault import VaultError, blobs_removed_on_failure, vault_delete, vault_read, vault_save
from photos.access import can_manage_photo
from photos.faces import FaceBox, find_faces
from photos.hooks import Effect, run_photos_deleted_handlers
from photos.models import Photo, PhotoAccess, PhotoTag, UploadBatch
from photos.processing import PhotoRefused, process_upload
from photos.selectors import can_upload_for, tag_families
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record, client_ip

log = logging.getLogger(__name__)


class UploadError(Exception):
    """The upload cannot go ahead; the message is for the person uploading."""


def check_taggable(*, by: User, children: Iterable[Child], families: QuerySet[Family] | None = None) -> list[Child]:
    """The children, if every one is in a family `by` may upload photos for (can_upload_for: any family for
    a photographer, their own for a coordinator) and may be photographed and kept now. A group photo may
    tag children of several families."""
    children = list(dict.fromkeys(children))  # the same child named twice is one tag
    allowed = can_upload_for(by) if families is None else families
    wanted = {c.family_id for c in children}
    if wanted and allowed.filter(pk__in=wanted).count() != len(wanted):
        raise UploadError("A tagged child is not in a family you may upload photos for.")
    closed = sorted(Family.objects.filter(pk__in=wanted, closed_at__isnull=False).values_list("reference", flat=True))
    if closed:
        raise UploadError(f"Family {' and '.join(closed)} is closed: FiG no longer takes photos of its children.")
    positions = consents_for_children([c.pk for c in children])
    missing = [c for c in children if lacking(positions[c.pk], TAG_PURPOSES)]
    if missing:
        names = ", ".join(f"{c.first_name} {c.last_name}" for c in missing)
        raise UploadError(
            f"No current consent for {names} to be photographed and kept in the vault, so they cannot be tagged."
        )
    return children


def check_group_words(children: Iterable[Child]) -> None:
    """A photo of children of several families is seen by each family's coordinators: every child's parents
    must have signed a form that says so (consents.formtext.GROUP_PHOTOS). UploadError naming who has not."""
    children = list(children)
    if len({c.family_id for c in children}) < 2:
        return
    missing = children_without_group_photo_words(c.pk for c in children)
    if missing:
        names = " and ".join(f"{c.first_name} {c.last_name}" for c in children if c.pk in missing)
        raise UploadError(
            f"The consent form signed for {names} says that only their own family's coordinators see their "
            "photos, so they cannot be tagged in a photo with children of other families. Ask their parent or "
            "carer to sign the current form first."
        )


# A camera clock a few minutes fast is not "the future"; a date later than this after the upload is wrong.
CLOCK_SLACK = timedelta(minutes=10)


def taken_without_consent(children: Iterable[Child], moment: datetime, *, photos: str = "This photo was") -> str:
    """Why a photo of `children` taken at `moment` may not be kept, or "" if it may: every child must have had
    consent to be photographed then (given before, and not withdrawn at the time)."""
    children = list(children)
    positions = consents_for_children([c.pk for c in children], at=moment)
    missing = [c for c in children if lacking(positions[c.pk], [Purpose.PHOTOGRAPHED])]
    if not missing:
        return ""
    names = " and ".join(f"{c.first_name} {c.last_name}" for c in missing)
    return (
        f"{photos} taken on {when(moment, year=True)}, when there was no consent for {names} to be "
        "photographed (it had not been given yet, or had been withdrawn)."
    )


WRONG_CLOCK = "If the camera's clock was wrong, upload it again giving the real date and time."


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
    taken_at: datetime | None = None,
) -> UploadBatch:
    """Accept files into the vault (encrypted at once) and queue each for processing after commit.

    "No child can be identified" is the uploader's claim; processing checks it: a file in which faces are
    found is refused, unless `blur_faces` asked for only a version with every face blurred to be kept.

    `taken_at`: when the photos were really taken, stated by the uploader because the camera's clock was
    wrong (audited with who stated it); it replaces the camera's date. A photo taken when a tagged child had
    no consent to be photographed is refused (here for a stated date, in processing for the camera's).

    With `queue=False` nothing is queued: the caller runs `photo_process` for each
    photo once this has returned (vault_import does, so it needs no worker).
    """
    if not can_upload_for(by).filter(pk=family.pk).exists():
        raise UploadError(f"You may not upload photos for family {family.reference}.")
    children = check_taggable(by=by, children=children)
    check_group_words(children)
    if not children and not no_child_identifiable:
        raise UploadError("Tag the children in the photos, or confirm that no child can be identified in them.")
    if blur_faces and children:
        raise UploadError("Keeping only a blurred version is for photos in which no child is tagged.")
    if not files:
        raise UploadError("Choose at least one photo.")
    if taken_at is not None:
        if taken_at > timezone.now() + CLOCK_SLACK:
            raise UploadError("The date and time the photos were taken cannot be in the future.")
        problem = taken_without_consent(children, taken_at, photos="These photos were")
        if problem:
            raise UploadError(f"{problem} Nothing was uploaded.")
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
                device_deletion_due_at=batch.created_at + timedelta(hours=settings.FIG_DEVICE_REMINDER_HOURS),
                no_child_identifiable=not children,
                blurred_only=blur_faces,
                upload_sha256=incoming.sha256,
                upload_size=len(data),
                incoming_blob=incoming.name,
                incoming_key_id=incoming.key_id,
                taken_at=taken_at,
                taken_at_source="stated" if taken_at else "",
                taken_at_stated_by=by if taken_at else None,
            )
            PhotoTag.objects.bulk_create([PhotoTag(photo=photo, child=c, tagged_by=by) for c in children])
            if queue:
                queue_after_commit(process_photo, photo.pk)
        audit_record(
            action="photo.uploaded",
            actor=by,
            target=family,
            request=request,
            details={
                "batch": str(batch.public_id),
                "files": len(files),
                "children": [c.pk for c in children],
                **({"taken_at_stated": taken_at.isoformat()} if taken_at else {}),
            },
        )
        if taken_at:
            audit_record(
                action="photo.taken_at_stated",
                actor=by,
                target=batch,
                request=request,
                details={"taken_at": taken_at.isoformat(), "files": len(files)},
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
            if photo.taken_at_source != "stated":
                # The camera's date, unless it is later than the upload (a clock set wrong): then the upload's.
                camera = result.taken_at
                if camera is not None and camera > photo.uploaded_at + CLOCK_SLACK:
                    camera = None
                photo.taken_at, photo.taken_at_source = camera, "camera" if camera else ""
            # With no date, the upload time counts: photo_upload checked every child's consent then.
            problem = photo.taken_at and taken_without_consent(
                Child.objects.filter(photo_tags__photo=photo), photo.taken_at
            )
            if problem:
                raise PhotoRefused(f"{problem} It was not kept. {WRONG_CLOCK}")
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
        photo.width, photo.height = result.width, result.height
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
    blobs_delete_after_commit(old)


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
    """Set the children tagged in the photo, as far as `by` may (photos.selectors.tag_families: its uploader
    while fixing its tags, then each coordinator for their own families): the tags of children in those
    families become `children`; tags of other families' children (a coordinator fixing a group photo that
    also shows children of families they do not coordinate) stay as they are, so nobody can take a child of
    another family out of a photo and with it that child's consent rules."""
    editable = tag_families(by, photo)
    children = check_taggable(by=by, children=children, families=editable)
    with transaction.atomic():
        locked = Photo.objects.select_for_update().get(pk=photo.pk)
        before = sorted(locked.tags.values_list("child_id", flat=True))
        others = list(locked.tags.exclude(child__family__in=editable).values_list("child_id", flat=True))
        after = sorted({c.pk for c in children} | set(others))
        check_group_words(Child.objects.filter(pk__in=after))
        problem = taken_without_consent(
            [c for c in children if c.pk not in before], locked.taken_at or locked.uploaded_at
        )
        if problem:
            raise UploadError(f"{problem} They cannot be tagged in it.")
        if not after and not no_child_identifiable:
            raise UploadError("Tag the children in the photo, or confirm that no child can be identified in it.")
        if not after and locked.face_count and not locked.blurred_only:
            raise UploadError(
                "FiG Safety found faces in this photo, so it cannot be marked as one in which no child can be "
                "identified. Tag the children in it."
            )
        locked.tags.exclude(child_id__in=others).delete()
        PhotoTag.objects.bulk_create(
            [PhotoTag(photo=locked, child=c, tagged_by=by) for c in children if c.pk not in others]
        )
        locked.no_child_identifiable = not after
        locked.save(update_fields=["no_child_identifiable"])
        audit_record(
            action="photo.retagged",
            actor=by,
            target=locked,
            request=request,
            details={"before": before, "after": after},
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
        # The reason answers the withdrawal of the children who may no longer be photographed or kept: in a
        # group photo, only a coordinator of each of their families may give it, not one of another family.
        _require_coordinator_of(
            locked,
            by,
            lacking_consent_for=TAG_PURPOSES,
            to="record a reason to keep this photo: the consent it was queued for is theirs",
        )
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
    blobs_delete_after_commit(old)


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
            full, thumbnail = encode_version(unidentifiable_image(image, faces, all_found=True, in_place=True))
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
        if confirmed:
            # It decides whether the children whose parents agreed to photos online, but not to a
            # recognisable face, may be published in it.
            _require_coordinator_of(
                locked,
                by,
                lacking_consent_for=[Purpose.FACE_ONLINE],
                to="confirm the blurred version: it decides whether their child's photo may go online",
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


def _require_coordinator_of(photo: Photo, by: User, *, lacking_consent_for: Iterable[str], to: str) -> None:
    """A decision that answers for the tagged children lacking consent for `lacking_consent_for` (for an
    untagged photo, for the family it was uploaded for): in a group photo, only a coordinator of each of their
    families may make it, not one of another family. UploadError saying whose it is otherwise."""
    tagged = list(Child.objects.filter(photo_tags__photo=photo).select_related("family"))
    positions = consents_for_children([c.pk for c in tagged])
    theirs = {c.family for c in tagged if lacking(positions[c.pk], lacking_consent_for)} if tagged else {photo.family}
    managed = set(families_managed_by(by).filter(pk__in=[f.pk for f in theirs]).values_list("pk", flat=True))
    strangers = sorted(f.reference for f in theirs if f.pk not in managed)
    if strangers:
        raise UploadError(f"Only a coordinator of family {' and '.join(strangers)} can {to}.")


def photo_delete(*, photo_id: int, reason: str, by: User | None = None) -> bool:
    """Delete a photo for good. The row stays (status deleted) so the audit trail stays whole; its blobs are
    removed from storage once the transaction commits, so a rollback leaves the photo as it was, blobs and
    all. True when deleted now; False when it already was, which changes nothing."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo_id)
        if photo.status == Photo.Status.DELETED:
            return False
        blobs_delete_after_commit(
            [
                photo.original_blob,
                photo.thumbnail_blob,
                photo.incoming_blob,
                photo.unidentifiable_blob,
                photo.unidentifiable_thumbnail_blob,
            ]
        )
        photo.original_blob = photo.original_key_id = photo.thumbnail_blob = photo.thumbnail_key_id = ""
        photo.unidentifiable_blob = photo.unidentifiable_key_id = ""
        photo.unidentifiable_thumbnail_blob = photo.unidentifiable_thumbnail_key_id = ""
        photo.incoming_blob = photo.incoming_key_id = ""
        photo.status, photo.deleted_at, photo.deletion_reason = Photo.Status.DELETED, timezone.now(), reason[:300]
        photo.save()
        audit_record(action="photo.deleted", actor=by, target=photo, details={"reason": reason})
    return True


def blobs_delete_after_commit(names: Iterable[str]) -> None:
    """Remove these blobs from storage once the transaction commits; never if it rolls back, as the rows then
    still name them. One that cannot be removed is logged and left: no row names it any more, so the orphan
    sweep (photos.sweeps.delete_orphan_blobs) removes it a day later. Outside a transaction, at once."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: _delete_blobs(names))


def _delete_blobs(names: list[str]) -> None:
    for name in names:
        try:
            vault_delete(name=name)
        except Exception:  # noqa: BLE001 - the others must still go; the orphan sweep retries this one
            log.exception("Could not delete vault blob %s; the orphan sweep will.", name)


# A reason to delete a photo at once is a few words at least: it is what the audit trail keeps of the decision.
DELETE_NOW_REASON_MIN = 10


@dataclass(frozen=True)
class DeletedNow:
    """What photo_delete_now did: whether it deleted the photo (False: it already was, and nothing changed),
    and what that changed outside the vault (photos.hooks)."""

    deleted: bool
    effects: list[Effect]


def photo_delete_now(*, photo: Photo, reason: str, by: User, request: HttpRequest | None = None) -> DeletedNow:
    """A coordinator of a family the photo belongs to (can_manage_photo: for a group photo, of any tagged
    child's family, as deleting protects every child in it) deletes it at once, giving a reason. Its blobs go
    after commit (photo_delete), and what used it is told through photos.hooks, in the same transaction:
    posts waiting to go out go back to their authors, published ones get a takedown. Deleting a photo
    already deleted changes nothing (a double submit)."""
    reason = reason.strip()
    with transaction.atomic():
        locked = Photo.objects.select_for_update().get(pk=photo.pk)
        if not can_manage_photo(by, locked):
            raise UploadError("Only a coordinator of a family this photo belongs to can delete it.")
        if locked.status == Photo.Status.DELETED:
            return DeletedNow(deleted=False, effects=[])
        if len(reason) < DELETE_NOW_REASON_MIN:
            raise UploadError("Say why this photo is being deleted (a few words at least). The reason is recorded.")
        photo_delete(photo_id=locked.pk, reason=reason, by=by)
        effects = run_photos_deleted_handlers([locked.pk])
        audit_record(
            action="photo.deleted_now",
            actor=by,
            target=locked,
            request=request,
            details={"reason": reason, "effects": [f"{effect.what}: {effect.done}" for effect in effects]},
        )
    return DeletedNow(deleted=True, effects=effects)


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
    photos_queue_for_deletion(
        child_id=withdrawal.child_id,
        reason="Consent to be photographed or kept was withdrawn.",
        requeued_reason="Consent to be photographed or kept was withdrawn again after this photo was kept. "
        "The reason recorded then answered the earlier withdrawal, not this one.",
        newly_lost=lambda: _newly_withdrawn(withdrawal),
        cause={"withdrawal": withdrawal.record_id},
        email_template="photos/email/deletion_queued.txt",
    )


@dataclass(frozen=True)
class Queued:
    """What photos_queue_for_deletion queued: every photo, those of them kept before, and when they go."""

    photos: list[int]
    requeued_after_keep: list[int]
    due: datetime


def photos_queue_for_deletion(
    *,
    child_id: int,
    reason: str,
    requeued_reason: str,
    newly_lost: Callable[[], bool],
    cause: dict[str, Any],
    email_template: str | None,
    now: datetime | None = None,
) -> Queued:
    """The one way a child's loss of consent to be photographed or kept (a withdrawal, a lapse) reaches the
    vault: the child's photos not already queued are queued for deletion FIG_WITHDRAWN_PHOTO_GRACE_DAYS
    after `now` (default now), with `reason`. Photos already queued keep their date.

    A kept photo (a lawful reason recorded) is queued again, with `requeued_reason`, only if
    `newly_lost()` says this takes away consent the child had just before (asked only when there is a
    kept photo); its reason stays in the audit trail. Records photo.deletion_queued with `cause` in its
    details, and emails the family's coordinators with `email_template` (None: the caller tells them).
    Precondition: inside the transaction that records the loss.
    """
    due = (now or timezone.now()) + timedelta(days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS)
    not_queued = Photo.objects.filter(
        tags__child_id=child_id,
        status__in=[Photo.Status.PROCESSING, Photo.Status.READY],
        deletion_due_at__isnull=True,
    )
    ids, kept = [], []
    for photo_id, keep_reason in not_queued.values_list("pk", "keep_reason"):
        (kept if keep_reason else ids).append(photo_id)
    if kept and not newly_lost():
        kept = []
    if not ids and not kept:
        return Queued([], [], due)
    Photo.objects.filter(pk__in=ids, deletion_due_at__isnull=True).update(deletion_due_at=due, deletion_reason=reason)
    Photo.objects.filter(pk__in=kept, deletion_due_at__isnull=True).update(
        deletion_due_at=due, keep_reason="", keep_recorded_by=None, deletion_reason=requeued_reason
    )
    audit_record(
        action="photo.deletion_queued",
        details={"photos": ids + kept, "requeued_after_keep": kept, "child": child_id, **cause},
    )
    queued = Queued(ids + kept, kept, due)
    if email_template is None:
        return queued
    family = Child.objects.select_related("family").get(pk=child_id).family
    from consents.selectors import coordinators_of

    notify(
        to=list(coordinators_of(family).values_list("email", flat=True)),
        subject=f"Photos queued for deletion in family {family.reference}",
        template=email_template,
        context={
            "family": family,
            "count": len(queued.photos),
            "kept": len(kept),
            "due": due,
            "link": settings.FIG_SITE_URL + reverse("photos:deletion_queue"),
        },
    )
    return queued
