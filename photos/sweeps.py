"""Periodic vault work: device deletion in stages (reminders, escalation, possible breach), the deletion
queue, retention, stuck uploads, and blobs no row names any more.

Reads deadline columns from the database, claims due rows under a row lock
(skip_locked) and stamps them, so a sweep run twice sends nothing twice.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from consents.models import Family
from consents.selectors import who_to_tell
from fig_safety.sweeps import claim_and_stamp
from fig_safety.times import LONDON, when
from fig_safety.vault_references import vault_references
from photos.models import Photo, UploadBatch
from photos.selectors import families_of_photos
from photos.services import photo_check_faces, photo_delete
from staff.models import User
from staff.notifications import notify
from staff.roles import Role
from staff.selectors import emails_of
from staff.services import NoCEO, breach_report_record_found

log = logging.getLogger(__name__)

# Rows claimed in one transaction; a sweep takes batch after batch until nothing is due (claim_and_stamp).
BATCH = 500
LIVE = [Photo.Status.PROCESSING, Photo.Status.READY]


def device_reminders(now: datetime | None = None) -> int:
    """A daily reminder to the photographer while a photo's device deletion is unconfirmed past its due time."""
    now = now or timezone.now()
    due = (
        Photo.objects.select_related("uploaded_by")
        .filter(status__in=LIVE, device_deleted_at__isnull=True, device_deletion_due_at__lte=now)
        .filter(Q(device_reminder_sent_at__isnull=True) | Q(device_reminder_sent_at__lte=now - timedelta(hours=24)))
        # One reminder a day per person: photos uploaded at other times of day wait for the next one. Each
        # batch is read after the one before it committed, so this leaves out the people it reminded too:
        # nobody is emailed twice in one sweep. Taken person by person (the order), so only the last person
        # of a full batch can have due photos left over; as before, those wait for tomorrow's reminder.
        .exclude(
            uploaded_by__in=Photo.objects.filter(device_reminder_sent_at__gt=now - timedelta(hours=24)).values(
                "uploaded_by"
            )
        )
        .order_by("uploaded_by_id", "pk")
    )

    def remind(photos: list[Photo]) -> None:
        by_person = defaultdict(list)
        for photo in photos:
            by_person[photo.uploaded_by].append(photo)
        for person, theirs in by_person.items():
            notify(
                to=[person.email],
                subject=f"Please delete {len(theirs)} photo(s) from your device",
                template="photos/email/device_reminder.txt",
                context={"count": len(theirs), "link": settings.FIG_SITE_URL + reverse("photos:my_uploads")},
            )

    return claim_and_stamp(due, stamp="device_reminder_sent_at", now=now, handle=remind, batch=BATCH)


def device_escalations(now: datetime | None = None) -> int:
    """Tell the coordinators of every family a photo belongs to (in_families), once, about photos unconfirmed
    after FIG_DEVICE_ESCALATE_HOURS: one message a family."""
    now = now or timezone.now()
    due = (
        Photo.objects.select_related("uploaded_by")
        .filter(
            status__in=LIVE,
            device_deleted_at__isnull=True,
            device_escalated_at__isnull=True,
            uploaded_at__lte=now - timedelta(hours=settings.FIG_DEVICE_ESCALATE_HOURS),
        )
        # Taken family by family (the family uploaded for), so only the last family of a full batch is told in
        # two messages. A group photo is told to each of its families, in the batch that claims it.
        .order_by("family_id", "pk")
    )

    def escalate(photos: list[Photo]) -> None:
        families = families_of_photos(photos)
        by_family = defaultdict(list)
        for photo in photos:
            for family in families[photo.pk]:
                by_family[family].append(photo)
        for family, theirs in sorted(by_family.items(), key=lambda item: item[0].reference):
            tell = who_to_tell(family)
            notify(
                to=tell.emails,
                subject=f"Photos of family {family.reference} may still be on a device"
                + ("" if tell.coordinated else " (the family has no coordinator)"),
                template="photos/email/device_escalation.txt",
                context={
                    "family": family,
                    "photos": theirs,
                    "no_coordinator": not tell.coordinated,
                    "link": settings.FIG_SITE_URL
                    + (
                        reverse("photos:unconfirmed")
                        if tell.coordinated
                        else reverse("consents:family_detail", args=[family.reference])
                    ),
                },
                separately=True,
            )

    return claim_and_stamp(due, stamp="device_escalated_at", now=now, handle=escalate, batch=BATCH)


@dataclass(frozen=True)
class OverdueUpload:
    """One upload in a possible-breach report: its photos still unconfirmed and the families they belong to."""

    batch: UploadBatch
    photos: list[Photo]
    families: list[Family]


def device_breaches(now: datetime | None = None) -> int:
    """Record each upload with photos still unconfirmed FIG_DEVICE_BREACH_DAYS after it was made in the breach
    register as a possible breach, and tell the CEO: once an upload (stamped on the upload), in one report per
    photographer a sweep. Returns how many uploads were reported.

    With no active CEO nothing is recorded or stamped (nobody could read the report): the uploads wait, and
    are reported by the first sweep after a CEO is appointed.
    """
    now = now or timezone.now()
    if not emails_of(Role.CEO):
        log.warning("No active CEO: possible breaches (photos not deleted from a device) are not recorded.")
        return 0
    overdue = Photo.objects.filter(
        status__in=LIVE,
        device_deleted_at__isnull=True,
        uploaded_at__lte=now - timedelta(days=settings.FIG_DEVICE_BREACH_DAYS),
    )
    due = (
        UploadBatch.objects.select_related("uploaded_by")
        .filter(Exists(overdue.filter(batch=OuterRef("pk"))), device_breach_reported_at__isnull=True)
        # Taken photographer by photographer, so only the last one of a full batch gets two reports.
        .order_by("uploaded_by_id", "created_at", "pk")
    )

    def report(batches: list[UploadBatch]) -> None:
        photos = list(overdue.filter(batch__in=batches).order_by("pk"))
        families = families_of_photos(photos)
        by_batch = defaultdict(list)
        for photo in photos:
            by_batch[photo.batch_id].append(photo)
        by_person = defaultdict(list)
        for batch in batches:
            theirs = by_batch[batch.pk]
            if theirs:  # all confirmed since the batch was claimed: nothing to report
                found = {family for photo in theirs for family in families[photo.pk]}
                by_person[batch.uploaded_by].append(
                    OverdueUpload(batch, theirs, sorted(found, key=lambda family: family.reference))
                )
        for person, uploads in by_person.items():
            _report_possible_breach(person=person, uploads=uploads)

    try:
        return claim_and_stamp(due, stamp="device_breach_reported_at", now=now, handle=report, batch=BATCH)
    except NoCEO:  # the last CEO left since the check above: that batch rolled back and waits, as above
        log.warning("No active CEO: possible breaches (photos not deleted from a device) are not recorded.")
        return 0


def _report_possible_breach(*, person: User, uploads: list[OverdueUpload]) -> None:
    """One report in the breach register for one photographer's overdue uploads, and an email to the CEO that
    leaves the details (and every name) out, as a person's breach report does."""
    count = sum(len(upload.photos) for upload in uploads)
    references = sorted({family.reference for upload in uploads for family in upload.families})
    due = min(photo.device_deletion_due_at or photo.uploaded_at for upload in uploads for photo in upload.photos)
    description = render_to_string(
        "photos/device_breach_description.txt",
        {
            "person": person,
            "uploads": [
                {
                    "when": when(upload.batch.created_at, year=True),
                    "count": len(upload.photos),
                    "families": [family.reference for family in upload.families],
                    "reminded": _latest(photo.device_reminder_sent_at for photo in upload.photos),
                    "escalated": _latest(photo.device_escalated_at for photo in upload.photos),
                }
                for upload in uploads
            ],
            "count": count,
            "days": settings.FIG_DEVICE_BREACH_DAYS,
        },
    ).strip()
    report = breach_report_record_found(
        occurred_on=timezone.localtime(due, LONDON).date(),
        where="On the phone or camera that took the photos",
        description=description,
        people_involved=f"{person} ({person.email}), who took and uploaded the photos",
        details={
            "kind": "photos.device_not_deleted",
            "photographer": person.pk,
            "uploads": [str(upload.batch.public_id) for upload in uploads],
            "photos": [photo.pk for upload in uploads for photo in upload.photos],
            "families": references,
        },
    )
    notify(
        to=emails_of(Role.CEO),
        subject=f"Possible breach #{report.pk}: photos not confirmed deleted from a device",
        template="photos/email/device_breach.txt",
        context={
            "report": report,
            "count": count,
            "uploads": len(uploads),
            "days": settings.FIG_DEVICE_BREACH_DAYS,
            "link": settings.FIG_SITE_URL + reverse("staff:breach_detail", args=[report.pk]),
        },
        separately=True,
    )


def _latest(moments) -> str:
    stamped = [moment for moment in moments if moment is not None]
    return when(max(stamped), year=True) if stamped else ""


def delete_due(now: datetime | None = None) -> int:
    """Delete photos whose deletion date has come (consent withdrawn, no lawful reason recorded)."""
    now = now or timezone.now()
    due = Photo.objects.filter(status__in=LIVE, deletion_due_at__lte=now, keep_reason="")
    return delete_each(due, reason="Consent withdrawn; grace period over.")


def apply_retention(now: datetime | None = None) -> int:
    """Delete photos older than the retention period, blobs and all. The audit trail stays."""
    now = now or timezone.now()
    due = Photo.objects.filter(
        status__in=LIVE, uploaded_at__lte=now - timedelta(days=settings.FIG_PHOTO_RETENTION_DAYS)
    )
    return delete_each(due, reason=f"Retention period of {settings.FIG_PHOTO_RETENTION_DAYS} days is over.")


def delete_each(due: QuerySet[Photo], *, reason: str) -> int:
    """Delete the photos of `due` until none is left, each in its own transaction: claimed under its row
    lock (skipping one another sweep, or a coordinator recording a reason to keep it, holds), read again
    under that lock, so a reason to keep recorded meanwhile saves it, and deleted by photo_delete while the
    lock is held. Deleting is the stamp: a deleted photo is no longer due. One at a time, not a batch, as
    the blobs it deletes do not come back if a later photo's transaction fails. Returns how many."""
    deleted = 0
    while True:
        with transaction.atomic():
            photo_id = due.select_for_update(skip_locked=True).values_list("pk", flat=True).first()
            if photo_id is None:
                return deleted
            photo_delete(photo_id=photo_id, reason=reason)
        deleted += 1


def requeue_stuck(now: datetime | None = None) -> int:
    """Photos still processing after 15 minutes lost their task (a broker restart): queue them again."""
    from photos.tasks import process_photo

    now = now or timezone.now()
    ids = list(
        Photo.objects.filter(status=Photo.Status.PROCESSING, uploaded_at__lte=now - timedelta(minutes=15)).values_list(
            "pk", flat=True
        )[:BATCH]
    )
    for photo_id in ids:
        process_photo.delay(photo_id)
    return len(ids)


# Photos stored before every photo was checked for faces, checked a few at a time (each takes a second or so).
FACE_CHECKS_PER_SWEEP = 20


def check_faces(now: datetime | None = None, limit: int = FACE_CHECKS_PER_SWEEP) -> int:
    """Find the faces of ready photos never checked for them (stored before the check existed), up to `limit`
    a sweep, each in its own transaction under its row lock (skipping one another sweep holds)."""
    unchecked = Photo.objects.filter(status=Photo.Status.READY, faces_checked_at__isnull=True).order_by("pk")
    checked = 0
    while checked < limit:
        with transaction.atomic():
            photo_id = unchecked.select_for_update(skip_locked=True).values_list("pk", flat=True).first()
            if photo_id is None:
                return checked
            photo_check_faces(photo_id=photo_id)
        checked += 1
    return checked


# A blob no row names is left alone this long: one just written belongs to a transaction that has not
# committed yet (an upload, a signature), and its row will name it.
ORPHAN_AGE = timedelta(days=1)
# What fig_safety.vault.vault_save writes: a folder, two random bytes in hex, a random name. Nothing else in
# the storage is the sweep's to delete.
VAULT_NAME = re.compile(r"[a-z][a-z-]*/[0-9a-f]{4}/[A-Za-z0-9_-]{32}\.bin")


def delete_orphan_blobs(now: datetime | None = None) -> int:
    """Delete the vault blobs that no row names (fig_safety.vault_references) and that were written more than
    ORPHAN_AGE ago: those a deletion could not remove after it committed (photos.services._delete_blobs logs
    them), or that a crash left behind. Returns how many.

    A blob written within ORPHAN_AGE of the wall clock is never touched, whatever `now` says: its row may not
    have committed yet. When the database names no blob at all, nothing is deleted and a warning is logged:
    a site pointed at the wrong (empty) database would otherwise have its whole vault swept away. The storage
    is listed before the rows are read, so a blob written meanwhile is not in the list."""
    cutoff = min(now or timezone.now(), timezone.now()) - ORPHAN_AGE
    storage = storages["vault"]
    stored = [name for name in _stored_names(storage) if VAULT_NAME.fullmatch(name)]
    if not stored:
        return 0
    referenced = {reference.name for reference in vault_references()}
    if not referenced:
        log.warning(
            "The database names no vault blob, but the vault holds %d: orphan blobs are not deleted. "
            "Check that the site uses the right database.",
            len(stored),
        )
        return 0
    deleted = 0
    for name in stored:
        if name in referenced:
            continue
        try:
            if storage.get_modified_time(name) > cutoff:
                continue
            storage.delete(name)
        except FileNotFoundError:  # removed meanwhile
            continue
        except Exception:  # noqa: BLE001 - one blob that cannot be removed must not stop the others
            log.exception("Could not delete orphan vault blob %s.", name)
            continue
        deleted += 1
    if deleted:
        log.info("Deleted %d orphan vault blob(s) that no row names.", deleted)
    return deleted


def _stored_names(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file in the storage under `folder`, as its name (FileSystemStorage and S3 list folders alike)."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:  # a local vault nothing was ever written to
        return
    for name in files:
        yield folder + name
    for sub in folders:
        yield from _stored_names(storage, f"{folder}{sub}/")


def vault_sweep(now: datetime | None = None) -> dict[str, int]:
    return {
        "device_reminders": device_reminders(now),
        "device_escalations": device_escalations(now),
        "device_breaches": device_breaches(now),
        "deleted": delete_due(now),
        "retention": apply_retention(now),
        "requeued": requeue_stuck(now),
        "faces_checked": check_faces(now),
        "orphan_blobs": delete_orphan_blobs(now),
    }
