"""Families, children, carers, consent form versions, requests and signed consent records.

Signed records and published form versions are append-only (fig_safety.append_only): a
withdrawal or a new answer is a new row, and a change of wording is a new version, so the
history of every decision stays provable.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from fig_safety.append_only import AppendOnlyModel

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_family_reference() -> str:
    return "FIG-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def new_request_nonce() -> str:
    """128 random bits, 22 characters: fits the column (token_urlsafe()'s default 43 did not)."""
    return secrets.token_urlsafe(16)


class Purpose(models.TextChoices):
    PHOTOGRAPHED = "photographed", "Photographed at FiG groups and home visits"
    STORED = "stored", "Photos kept in FiG's secure store and shared with the family's coordinators"
    TRAINING = "training", "Photos used in staff training"
    PRINT = "print", "Photos used in printed marketing"
    ONLINE = "online", "Photos published online (FiG website and social media)"
    FACE_ONLINE = "face_online", "Face may be recognisable in what is published online"


PURPOSES: list[str] = [choice.value for choice in Purpose]


class Family(models.Model):
    """A family FiG works with. Known by its reference code; staff also see its display name beside it."""

    reference = models.CharField(max_length=16, unique=True, default=new_family_reference)
    # What staff call the family, for example "Demo family (Priya)": shown to staff beside the reference,
    # never to parents, and erased with the family (it often holds a carer's name).
    display_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True, help_text="Practical notes for coordinators. Never shown to parents.")
    # FiG stopped working with the family: links stop, parents' accounts are off, retention clocks run.
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_reason = models.TextField(blank=True)
    # Its personal data erased (on request, or when a closed family's records reached their time).
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reference"]
        verbose_name_plural = "families"
        permissions = [("manage_family", "Can manage the family, its consents and photos")]
        # The register finds a family by its reference in any case (iexact, UPPER(reference)), which the
        # unique index cannot answer.
        indexes = [models.Index(Upper("reference"), name="consents_family_ref_upper")]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class FamilyUserObjectPermission(UserObjectPermissionBase):
    """django-guardian's direct foreign key: 'this coordinator manages this family', joinable in SQL."""

    content_object = models.ForeignKey(Family, on_delete=models.CASCADE)


class FamilyGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Family, on_delete=models.CASCADE)


class Child(models.Model):
    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="children")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["family__reference", "first_name", "last_name"]
        verbose_name_plural = "children"

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Carer(models.Model):
    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="carers")
    full_name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    relationship = models.CharField(max_length=50, help_text="For example: mother, father, grandparent, foster carer.")
    has_parental_responsibility = models.BooleanField(
        default=False, help_text="Only a carer with parental responsibility can give or withdraw consent."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="carer_profiles"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["family__reference", "full_name"]

    def __str__(self) -> str:
        return self.full_name


class ConsentFormVersion(AppendOnlyModel):
    """The words a parent reads. Published once, never edited: a change is a new version.

    Append-only like the records (fig_safety.append_only): records point to the version they were
    signed on, so rewriting one would change what every earlier signature appears to have agreed to.
    """

    number = models.PositiveIntegerField(unique=True)
    introduction = models.TextField()
    purpose_texts = models.JSONField(help_text="Plain-English explanation for each purpose, keyed by purpose.")
    closing = models.TextField(help_text="Names never published, how long photos are kept, how to withdraw.")
    requires_reconsent = models.BooleanField(
        default=False,
        help_text="If the change is material, consents given on earlier versions stop counting.",
    )
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Photo consent form, version {self.number}"


class ConsentRequest(models.Model):
    """A request to one carer to complete the form for one child; answered at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SIGNED = "signed", "Signed"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="requests")
    carer = models.ForeignKey(Carer, on_delete=models.PROTECT, related_name="requests")
    form_version = models.ForeignKey(ConsentFormVersion, on_delete=models.PROTECT, related_name="requests")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    nonce = models.CharField(max_length=32, default=new_request_nonce, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    renews = models.OneToOneField(
        "ConsentRecord",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renewal_request",
        help_text="The consent this request renews before it expires (one renewal request per consent).",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Consent request #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING and self.expires_at > timezone.now()

    @property
    def display_status(self) -> str:
        if self.status == self.Status.PENDING and self.expires_at <= timezone.now():
            return self.Status.EXPIRED.label
        return self.get_status_display()


class ConsentRecord(AppendOnlyModel):
    """One decision by one carer for one child: consent given (with answers) or a withdrawal.

    Never edited or deleted. For each purpose, the carer's latest record that
    answers it is their current decision (see consents.selectors).
    """

    class Kind(models.TextChoices):
        GIVEN = "given", "Consent form"
        WITHDRAWAL = "withdrawal", "Withdrawal"

    class Method(models.TextChoices):
        ONLINE = "online", "Online"
        PAPER = "paper", "Paper form"
        PHONE = "phone", "By phone"

    class IdentifiedBy(models.TextChoices):
        EMAIL_LINK = "email_link", "Link sent to their email"
        CODE_SIGN_IN = "code_sign_in", "Signed in with an emailed code"
        STAFF = "staff", "Recorded by staff"

    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="consent_records")
    carer = models.ForeignKey(Carer, on_delete=models.PROTECT, related_name="consent_records")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.ONLINE)
    identified_by = models.CharField(max_length=16, choices=IdentifiedBy.choices)
    request = models.ForeignKey(ConsentRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="records")
    form_version = models.ForeignKey(
        ConsentFormVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    answers = models.JSONField(help_text="{purpose: true/false} for the purposes this record decides.")
    confirmed_parental_responsibility = models.BooleanField(default=False)
    text_shown = models.TextField(blank=True)
    text_sha256 = models.CharField(max_length=64, blank=True)
    typed_name = models.CharField(max_length=150, blank=True)
    signature_blob = models.CharField(max_length=200, blank=True)
    signature_key_id = models.CharField(max_length=32, blank=True)
    scan_blob = models.CharField(max_length=200, blank=True)
    scan_key_id = models.CharField(max_length=32, blank=True)
    scan_content_type = models.CharField(max_length=50, blank=True)
    taken_by = models.CharField(max_length=150, blank=True, help_text="Who took a paper or phone consent.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    signed_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    evidence_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["child", "carer", "signed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} for {self.child_id}"

    @staticmethod
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LapseNotice(models.Model):
    """One step taken, once, as a child's consent to be photographed and kept runs out without renewal.

    A row of its own rather than stamps on ConsentRecord, which is append-only (signed evidence is never
    rewritten). The unique constraint is what makes each step happen once: a sweep run twice, or two at
    once, inserts the row once and only the one that inserted it acts. A renewal moves the lapse to a
    new date, so nothing more is due for the old one.
    """

    class Step(models.TextChoices):
        NOTICE_30 = "notice_30", "Coordinators told 30 days before"
        NOTICE_7 = "notice_7", "Coordinators told 7 days before"
        LAPSED = "lapsed", "Lapsed: photos queued for deletion"

    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="lapse_notices")
    lapses_at = models.DateTimeField(help_text="When the child's consent to be photographed and kept runs out.")
    step = models.CharField(max_length=12, choices=Step.choices)
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-lapses_at", "child_id"]
        constraints = [
            models.UniqueConstraint(fields=["child", "lapses_at", "step"], name="consents_lapse_notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} for {self.child_id} ({self.lapses_at:%Y-%m-%d})"


class ErasureRequest(models.Model):
    """Someone asked FiG to erase a family's personal data (UK GDPR article 17). After a review period
    (FIG_ERASURE_REVIEW_DAYS) the erasure sweep does it, unless a coordinator cancelled it with a reason."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for its review period"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Erased"

    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="erasure_requests")
    asked_by = models.CharField(
        max_length=150, help_text="Who asked, in your words (for example: the mother, by phone)."
    )
    asked_at = models.DateTimeField(help_text="When they asked.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING, db_index=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["family"], condition=models.Q(status="waiting"), name="one_waiting_erasure_per_family"
            )
        ]

    def __str__(self) -> str:
        return f"Erasure request #{self.pk}"
