"""Staff app models: the user, the append-only audit trail, policy versions and
acknowledgements, breach reports and virtual home visits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from fig_safety.append_only import AppendOnlyError, AppendOnlyModel
from fig_safety.times import LONDON

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


class PolicyNudge(models.Model):
    """A reminder the CEO sent by hand ("Remind them now") to someone who had not acknowledged the current
    version. One a person a London day: the unique constraint keeps two clicks (or two CEOs) from sending
    a second."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_nudges")
    sent_on = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "sent_on"], name="one_policy_nudge_per_user_and_day")]

    def __str__(self) -> str:
        return f"Reminder to {self.user} on {self.sent_on}"


# The ICO must be told of a reportable personal data breach within 72 hours of FiG becoming aware of it
# (UK GDPR article 33). The CEO is reminded this long before the deadline (each stamped on the report, by
# the name of its stamp), and once when it has passed (ico_overdue_sent_at).
ICO_DEADLINE = timedelta(hours=72)
ICO_REMINDERS = {"ico_reminded_24h_at": timedelta(hours=24), "ico_reminded_4h_at": timedelta(hours=4)}


@dataclass(frozen=True)
class IcoClock:
    """Where a report stands against the ICO's 72 hours, as the pages say it."""

    deadline: datetime
    now: datetime

    @property
    def overdue(self) -> bool:
        return self.now >= self.deadline

    @property
    def deadline_text(self) -> str:
        """'Tue 8 Dec 14:05', on London's clock."""
        local = timezone.localtime(self.deadline, LONDON)
        return f"{local:%a} {local.day} {local:%b %H:%M}"

    @property
    def left_text(self) -> str:
        """'31 hours left', 'overdue by 5 hours'; minutes under an hour."""
        gap = abs(self.deadline - self.now)
        hours, minutes = int(gap.total_seconds() // 3600), int(gap.total_seconds() // 60)
        amount = (
            f"{hours} hour{'s' if hours != 1 else ''}" if hours else f"{minutes} minute{'s' if minutes != 1 else ''}"
        )
        return f"overdue by {amount}" if self.overdue else f"{amount} left"

    def __str__(self) -> str:
        return f"ICO deadline: {self.deadline_text} ({self.left_text})"


class BreachReport(models.Model):
    """A suspected breach of the eSafety policy. Seen only by its reporter and the CEO.

    The CEO's assessment (severity, a child's data, whether the ICO must be told), the ICO's 72-hour clock,
    who else must be told and the timeline are the CEO's alone; the reporter sees the status and outcome.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        INVESTIGATING = "investigating", "Being investigated"
        CLOSED = "closed", "Closed"

    class Severity(models.TextChoices):
        NOT_ASSESSED = "", "Not assessed yet"
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    # "High: a real risk to…": each reads after its level.
    SEVERITY_DESCRIPTIONS = {
        Severity.LOW: "little risk to anyone, and contained at once: for example an email sent to the wrong "
        "colleague and deleted unread.",
        Severity.MEDIUM: "some risk to someone's privacy or safety: for example a photo shared in the wrong "
        "group and taken down within hours.",
        Severity.HIGH: "a real risk to a child's or a family's safety, wellbeing or rights: for example a "
        "child's photo, name or address made public.",
    }

    class Reportable(models.TextChoices):
        UNDECIDED = "undecided", "Not decided yet"
        YES = "yes", "Yes"
        NO = "no", "No"

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

    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.NOT_ASSESSED, blank=True)
    # None until the CEO knows.
    child_data_involved = models.BooleanField("personal data of a child is involved", null=True, blank=True)
    reportable_to_ico = models.CharField(
        "must the ICO be told", max_length=10, choices=Reportable.choices, default=Reportable.UNDECIDED
    )
    reportable_reason = models.TextField("why", blank=True)
    # The ICO's 72 hours run from here: the report's creation unless the CEO knows FiG was aware earlier.
    became_aware_at = models.DateTimeField("when FiG became aware", default=timezone.now)
    ico_reported_at = models.DateTimeField("when the ICO was told", null=True, blank=True)
    ico_reference = models.CharField("the ICO's reference", max_length=100, blank=True)
    # Stamps: each reminder to the CEO about the ICO's deadline goes once (staff.sweeps.ico_deadline_sweep).
    ico_reminded_24h_at = models.DateTimeField(null=True, blank=True)
    ico_reminded_4h_at = models.DateTimeField(null=True, blank=True)
    ico_overdue_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Breach report #{self.pk}"

    @property
    def ico_deadline(self) -> datetime:
        return self.became_aware_at + ICO_DEADLINE

    @property
    def ico_clock_running(self) -> bool:
        """The 72 hours matter while the ICO may have to be told and has not been, and the report is open."""
        return (
            self.reportable_to_ico != self.Reportable.NO
            and self.ico_reported_at is None
            and self.status != self.Status.CLOSED
        )

    def ico_clock(self, now: datetime | None = None) -> IcoClock | None:
        if not self.ico_clock_running:
            return None
        return IcoClock(deadline=self.ico_deadline, now=now or timezone.now())

    @property
    def severity_description(self) -> str:
        return self.SEVERITY_DESCRIPTIONS.get(self.severity, "")


class BreachContact(models.Model):
    """Someone besides the ICO who must be told about a breach, and the day they were told."""

    class Party(models.TextChoices):
        FAMILY = "family", "The family affected"
        POLICE = "police", "The police"
        LADO = "lado", "The local authority designated officer (LADO)"
        CHARITY_COMMISSION = "charity_commission", "The Charity Commission (serious incident report)"
        INSURERS = "insurers", "FiG's insurers"

    report = models.ForeignKey(BreachReport, on_delete=models.CASCADE, related_name="people_to_tell")
    party = models.CharField(max_length=30, choices=Party.choices)
    told_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["report", "party"], name="one_contact_per_report_and_party")]

    def __str__(self) -> str:
        return f"{self.get_party_display()} ({self.report})"


class BreachAction(AppendOnlyModel):
    """One line of a breach report's timeline: something the CEO did, or a change of status or decision.
    Written only by staff.services; never changed (the migration installs the append-only trigger)."""

    report = models.ForeignKey(BreachReport, on_delete=models.PROTECT, related_name="actions")
    at = models.DateTimeField(default=timezone.now)
    # None for FiG Safety itself (a breach it found, a reminder it sent).
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    what = models.TextField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.what[:60]}"


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
    # Files built when the email is sent, named as {"kind": ..., ids}: notifications.ATTACHMENT_BUILDERS says
    # how. The row never holds the file, which would keep personal data (a signed consent) in the outbox.
    attachments = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Email #{self.pk}: {self.subject}"
