"""Staff app models: the user, the append-only audit trail, policy versions and
acknowledgements, breach reports and virtual home visits."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from fig_safety.append_only import AppendOnlyError, AppendOnlyModel

_TITLES = {"mr", "mrs", "miss", "ms", "mx", "dr", "prof", "rev", "sir", "dame"}


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_superuser", False)
        extra.setdefault("is_staff", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_superuser=True, is_staff=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Email is the login; roles are groups (see staff.roles)."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        "can use the Django admin",
        default=False,
        help_text="Only for administrators who manage accounts and reference data.",
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        words = [w for w in self.full_name.split() if w.rstrip(".").lower() not in _TITLES]
        return (words or [self.email])[0]


AuditImmutableError = AppendOnlyError


class AuditEvent(AppendOnlyModel):
    """One thing that happened. Written only by staff.services.audit_record; never changed.

    PostgreSQL refuses UPDATE and DELETE on this table with a trigger (see the
    migration), so not even raw SQL from the application can rewrite history.
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.target_repr}".strip()


class PolicyVersion(models.Model):
    """A published version of the eSafety policy. Never edited: a change is a new version."""

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200, default="eSafety policy")
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    summary_of_changes = models.TextField(blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-number"]
        get_latest_by = "number"

    def __str__(self) -> str:
        return f"{self.title}, version {self.number}"

    @staticmethod
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PolicyAcknowledgement(models.Model):
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_acknowledgements")
    acknowledged_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "user"], name="one_ack_per_user_and_version")]

    def __str__(self) -> str:
        return f"{self.user} acknowledged version {self.version.number}"


class PolicyReminder(models.Model):
    """Stamps that a reminder about a version went to a user, so it is sent once."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "user"], name="one_reminder_per_user_and_version")]

    def __str__(self) -> str:
        return f"Reminder to {self.user} about version {self.version_id}"


class BreachReport(models.Model):
    """A suspected breach of the eSafety policy. Seen only by its reporter and the CEO."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        INVESTIGATING = "investigating", "Being investigated"
        CLOSED = "closed", "Closed"

    # None for a possible breach FiG Safety found by itself (staff.services.breach_report_record_found).
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="breach_reports"
    )
    occurred_on = models.DateField("when it happened")
    where = models.CharField(
        "where it happened",
        max_length=200,
        help_text="For example: a private Facebook post, a group chat, a home visit.",
    )
    description = models.TextField("what happened")
    people_involved = models.TextField(
        "people involved", blank=True, help_text="Staff or volunteers involved, if you know."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    outcome = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Breach report #{self.pk}"


class ApprovedPlatform(models.Model):
    """A video platform the administrators have checked for appropriate security."""

    name = models.CharField(max_length=100, unique=True)
    security_notes = models.TextField(blank=True, help_text="Why it is approved: encryption, waiting rooms, etc.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VirtualVisit(models.Model):
    """A video home visit and the policy checklist the member of staff confirmed for it."""

    staff_member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="virtual_visits")
    family_reference = models.CharField(max_length=32, help_text="The family's reference code (never a name).")
    held_at = models.DateTimeField()
    platform = models.ForeignKey(ApprovedPlatform, on_delete=models.PROTECT, related_name="visits")
    confidential_space = models.BooleanField()
    not_overheard_or_interrupted = models.BooleanField()
    guidance_given = models.BooleanField()
    notes = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_at"]

    def __str__(self) -> str:
        return f"Video visit with {self.family_reference} on {self.held_at:%Y-%m-%d}"


class OutboxEmail(models.Model):
    """An email waiting to go, written in the same transaction as the change it reports.

    The outbox is what makes notices survive a broker outage: a row exists if and
    only if its transaction committed, and a row is stamped sent only after the
    mail server took it. Nothing about delivery lives in Redis.
    """

    subject = models.CharField(max_length=300)
    body = models.TextField()
    to = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Claimed for delivery: the mail server is called after this commits, with no row locked; a claim
    # older than notifications.CLAIM_LEASE was interrupted (a worker that died) and may be taken again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Email #{self.pk}: {self.subject}"
