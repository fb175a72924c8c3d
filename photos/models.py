"""The photo vault: encrypted photos of children, their tags, access log and device-deletion tracking."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from consents.models import Child, Family
from fig_safety.append_only import AppendOnlyModel


class UploadBatch(models.Model):
    """The files one photographer uploaded together for one family (one visit or session)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="upload_batches")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="upload_batches")
    created_at = models.DateTimeField(default=timezone.now)
    # Set once, when the upload is recorded in the breach register as a possible breach (photos/sweeps.py).
    device_breach_reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.public_id} for {self.family_id}"


class Photo(models.Model):
    """One photo. Its bytes live only in the vault, encrypted; this row says whose, and what may be done."""

    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        REFUSED = "refused", "Refused"
        DELETED = "deleted", "Deleted"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="photos")
    batch = models.ForeignKey(UploadBatch, on_delete=models.PROTECT, related_name="photos")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="photos")
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    children = models.ManyToManyField(Child, through="PhotoTag", related_name="photos")
    no_child_identifiable = models.BooleanField(
        default=False, help_text="The uploader confirmed no child can be identified in this photo."
    )
    marked_unidentifiable = models.BooleanField(
        default=False,
        help_text="A coordinator checked the unidentifiable version (every face blurred) and confirmed no child "
        "can be recognised in it.",
    )
    marked_unidentifiable_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    marked_unidentifiable_at = models.DateTimeField(null=True, blank=True)
    # Faces: positions only (photos/faces.py), never a template, an embedding or who anyone is.
    faces = models.JSONField(default=list, blank=True, help_text="Boxes the face detector found.")
    drawn_faces = models.JSONField(default=list, blank=True, help_text="Boxes a coordinator drew for faces it missed.")
    face_count = models.PositiveIntegerField(default=0, help_text="Faces found and drawn.")
    faces_checked_at = models.DateTimeField(null=True, blank=True)
    blurred_only = models.BooleanField(
        default=False, help_text="Only a version with every face blurred was kept: the original was never stored."
    )
    unidentifiable_blob = models.CharField(max_length=200, blank=True)
    unidentifiable_key_id = models.CharField(max_length=32, blank=True)
    unidentifiable_thumbnail_blob = models.CharField(max_length=200, blank=True)
    unidentifiable_thumbnail_key_id = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSING, db_index=True)
    refusal_reason = models.CharField(max_length=300, blank=True)
    upload_sha256 = models.CharField(max_length=64, db_index=True)
    upload_size = models.PositiveBigIntegerField(default=0)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    taken_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was taken: from the camera, or stated by the uploader (taken_at_source).",
    )
    taken_at_source = models.CharField(
        max_length=8,
        blank=True,
        default="",
        choices=[("camera", "From the camera"), ("stated", "Stated by the uploader")],
    )
    taken_at_stated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    incoming_blob = models.CharField(max_length=200, blank=True)
    incoming_key_id = models.CharField(max_length=32, blank=True)
    original_blob = models.CharField(max_length=200, blank=True)
    original_key_id = models.CharField(max_length=32, blank=True)
    thumbnail_blob = models.CharField(max_length=200, blank=True)
    thumbnail_key_id = models.CharField(max_length=32, blank=True)
    device_deleted_at = models.DateTimeField(null=True, blank=True)
    # When the photographer should have confirmed deleting it from the device: its upload plus
    # FIG_DEVICE_REMINDER_HOURS, fixed at upload so a changed setting does not move the deadlines already set.
    device_deletion_due_at = models.DateTimeField(null=True, blank=True)
    device_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    device_escalated_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deletion_reason = models.CharField(max_length=300, blank=True)
    keep_reason = models.TextField(blank=True, help_text="The lawful reason a coordinator recorded for keeping it.")
    keep_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [
            models.Index(fields=["family", "status", "uploaded_at"]),
            # The gallery: ready photos newest first, read in order until a page (and its capped count) is full.
            models.Index(fields=["status", "-uploaded_at", "-id"], name="photo_status_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"Photo {self.public_id}"

    @property
    def face_boxes(self) -> list[dict]:
        """Every face box, found and drawn, each with where it came from."""
        return [{**box, "drawn": False} for box in self.faces] + [{**box, "drawn": True} for box in self.drawn_faces]


class PhotoTag(models.Model):
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="tags")
    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="photo_tags")
    tagged_at = models.DateTimeField(default=timezone.now)
    tagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["photo", "child"], name="one_tag_per_child_and_photo")]

    def __str__(self) -> str:
        return f"{self.child_id} in {self.photo_id}"


class PhotoAccess(AppendOnlyModel):
    """Every view and download of a photo's bytes. Append-only."""

    class Action(models.TextChoices):
        THUMBNAIL = "thumbnail", "Thumbnail shown"
        VIEW = "view", "Viewed"
        DOWNLOAD = "download", "Downloaded"
        EXPORT = "export", "Exported"
        PUBLICATION = "publication", "Fetched by a platform to publish a post"
        PARENT = "parent", "Seen by a parent or carer of the child"

    photo = models.ForeignKey(Photo, on_delete=models.PROTECT, related_name="accesses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=12, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.photo_id} by {self.user_id}"
