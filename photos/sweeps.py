"""Periodic vault work: device-deletion reminders, the deletion queue, retention, stuck uploads.

Reads deadline columns from the database, claims due rows under a row lock
(skip_locked) and stamps them, so a sweep run twice sends nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from consents.selectors import coordinators_of
from fig_safety.sweeps import claim_and_stamp
from photos.models import Photo
from photos.services import photo_check_faces, photo_delete
from staff.notifications import notify
from staff.roles import Role
from staff.selectors import emails_of

# Rows claimed in one transaction; a sweep takes batch after batch until nothing is due (claim_and_stamp).
BATCH = 500
LIVE = [Photo.Status.PROCESSING, Photo.Status.READY]


def device_reminders(now: datetime | None = None) -> int:
    """A daily reminder to the photographer while a photo's device deletion is unconfirmed after 24 hours."""
    now = now or timezone.now()
    due = (
        Photo.objects.select_related("uploaded_by")
        .filter(
            status__in=LIVE,
            device_deleted_at__isnull=True,
            uploaded_at__lte=now - timedelta(hours=settings.FIG_DEVICE_REMINDER_HOURS),
        )
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
    """Tell the family's coordinators, once, about photos unconfirmed after 72 hours."""
    now = now or timezone.now()
    due = (
        Photo.objects.select_related("family", "uploaded_by")
        .filter(
            status__in=LIVE,
            device_deleted_at__isnull=True,
            device_escalated_at__isnull=True,
            uploaded_at__lte=now - timedelta(hours=settings.FIG_DEVICE_ESCALATE_HOURS),
        )
        # Taken family by family, so only the last family of a full batch is told in two messages.
        .order_by("family_id", "pk")
    )

    def escalate(photos: list[Photo]) -> None:
        by_family = defaultdict(list)
        for photo in photos:
            by_family[photo.family].append(photo)
        for family, theirs in by_family.items():
            coordinators = list(coordinators_of(family).values_list("email", flat=True))
            # A family nobody coordinates: the CEO is told, so the escalation is not stamped as sent to nobody.
            to = coordinators or emails_of(Role.CEO)
            notify(
                to=to,
                subject=f"Photos of family {family.reference} may still be on a device"
                + ("" if coordinators else " (the family has no coordinator)"),
                template="photos/email/device_escalation.txt",
                context={
                    "family": family,
                    "photos": theirs,
                    "no_coordinator": not coordinators,
                    "link": settings.FIG_SITE_URL
                    + (
                        reverse("photos:unconfirmed")
                        if coordinators
                        else reverse("consents:family_detail", args=[family.reference])
                    ),
                },
                separately=True,
            )

    return claim_and_stamp(due, stamp="device_escalated_at", now=now, handle=escalate, batch=BATCH)


def delete_due(now: datetime | None = None) -> int:
    """Delete photos whose deletion date has come (consent withdrawn, no lawful reason recorded)."""
    now = now or timezone.now()
    due = Photo.objects.filter(status__in=LIVE, deletion_due_at__lte=now, keep_reason="")
    return _delete_each(due, reason="Consent withdrawn; grace period over.")


def apply_retention(now: datetime | None = None) -> int:
    """Delete photos older than the retention period, blobs and all. The audit trail stays."""
    now = now or timezone.now()
    due = Photo.objects.filter(
        status__in=LIVE, uploaded_at__lte=now - timedelta(days=settings.FIG_PHOTO_RETENTION_DAYS)
    )
    return _delete_each(due, reason=f"Retention period of {settings.FIG_PHOTO_RETENTION_DAYS} days is over.")


def _delete_each(due: QuerySet[Photo], *, reason: str) -> int:
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


def vault_sweep(now: datetime | None = None) -> dict[str, int]:
    return {
        "device_reminders": device_reminders(now),
        "device_escalations": device_escalations(now),
        "deleted": delete_due(now),
        "retention": apply_retention(now),
        "requeued": requeue_stuck(now),
        "faces_checked": check_faces(now),
    }
