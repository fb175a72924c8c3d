"""Social media: the inbox of messages FiG receives, with the policy's one-week deadline, and takedowns."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from consents.models import Family
from fig_safety.times import LONDON

RESPONSE_DAYS = 7


def policy_due_at(received_at: datetime) -> datetime:
    """One week after the platform's own timestamp, at the same time of day on London's clock.

    Across the October clock change that is 169 hours, not 168: a message that
    came in at 10:00 is due at 10:00 a week later, as a person reading the
    policy would expect.
    """
    local = received_at.astimezone(LONDON)
    wall = local.replace(tzinfo=None) + timedelta(days=RESPONSE_DAYS)
    return timezone.make_aware(wall, LONDON)


class Platform(models.TextChoices):
    FACEBOOK = "facebook", "Facebook Page"
    MESSENGER = "messenger", "Messenger"
    INSTAGRAM = "instagram", "Instagram"
    X = "x", "X (Twitter)"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    OTHER = "other", "Other"


class Conversation(models.Model):
    """Everything one person sent FiG on one platform, and FiG's replies: their private messages (with button
    presses and story replies), or their comments on one post, or one post on the Page, mention or review.

    The policy's one-week clock runs from the oldest message not yet answered (`received_at`, `due_at`); a
    reply from FiG, wherever it was sent from, answers everything before it. The lists, the sweep's reminders
    and escalations and the dashboard count conversations.
    """

    class Kind(models.TextChoices):
        MESSAGE = "message", "Private message"
        COMMENT = "comment", "Public comment"
        VISITOR_POST = "visitor_post", "Post on the Page"
        MENTION = "mention", "Mention"
        REVIEW = "review", "Review"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed, no reply needed"

    platform = models.CharField(max_length=12, choices=Platform.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MESSAGE)
    thread = models.CharField(
        max_length=450,
        null=True,
        blank=True,
        help_text="What makes messages one conversation (social.inbox.threads); none for ones typed in.",
    )
    sender_id = models.CharField(max_length=200, blank=True)
    sender_name = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True, help_text="The person's latest message, for the lists and search.")
    permalink = models.URLField(max_length=500, blank=True)
    received_at = models.DateTimeField(
        help_text="When the oldest message not yet answered came (the platform's own time): the clock runs from here."
    )
    due_at = models.DateTimeField(db_index=True)
    stored_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who typed it in, for messages received another way.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_messages"
    )
    passed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="passed_messages"
    )
    passed_note = models.TextField(blank=True)
    passed_at = models.DateTimeField(null=True, blank=True)
    response_text = models.TextField(blank=True)
    response_link = models.URLField(max_length=500, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    urgent = models.BooleanField(default=False, db_index=True)
    flagged_names = models.JSONField(default=list, blank=True)
    flagged_families = models.ManyToManyField(Family, blank=True, related_name="flagged_messages")
    flagged_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Who opened the reply box last, and when: the page warns a second person for a few minutes.
    replying_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replying_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "thread"],
                condition=models.Q(thread__isnull=False),
                name="one_conversation_per_thread",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            # The inbox's open tabs in their order (urgent first, then the least time left), and their
            # counts read from the index alone: the open messages stay few while done ones pile up.
            models.Index(
                fields=["-urgent", "due_at", "id", "assignee", "passed_to"],
                condition=models.Q(status="open"),
                name="inbox_open_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.get_kind_display().lower()} #{self.pk}"

    @property
    def done_at(self) -> datetime | None:
        return self.responded_at or self.closed_at


class Message(models.Model):
    """One thing in a conversation: what the person sent, or a reply from FiG (sent from here, sent from
    Meta's own tools and seen as an echo, or made elsewhere and recorded here)."""

    class Event(models.TextChoices):
        MESSAGE = "message", "Message"
        COMMENT = "comment", "Comment"
        VISITOR_POST = "visitor_post", "Post on the Page"
        MENTION = "mention", "Mention of FiG"
        POSTBACK = "postback", "Button pressed"
        STORY_REPLY = "story_reply", "Reply to FiG's story"
        STORY_MENTION = "story_mention", "Mention in their story"
        REVIEW = "review", "Review"
        REPLY = "reply", "Reply sent from FiG Safety"
        ECHO = "echo", "Reply sent from Meta's own tools"
        RECORDED = "recorded", "Reply made elsewhere, recorded here"

    class SendAs(models.TextChoices):
        MESSAGE = "message", "Message"
        HUMAN_AGENT = "human_agent", "Message, with Meta's human agent tag"
        PUBLIC_REPLY = "public_reply", "Public reply to the comment"
        PRIVATE_REPLY = "private_reply", "Private message to the comment's author"

    class Sending(models.TextChoices):
        QUEUED = "queued", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"
        UNCERTAIN = "uncertain", "Not known whether it was sent"

    class Removed(models.TextChoices):
        UNSENT = "unsent", "Unsent by the person"
        REMOVED = "removed", "Removed from the platform"
        HIDDEN = "hidden", "Hidden on the platform"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    platform = models.CharField(max_length=12, choices=Platform.choices)
    platform_id = models.CharField(max_length=200, null=True, blank=True, help_text="The platform's own id.")
    event = models.CharField(max_length=15, choices=Event.choices)
    from_fig = models.BooleanField(default=False)
    text = models.TextField(blank=True)
    at = models.DateTimeField(help_text="The platform's own time; for a reply from here, when it was sent.")
    stored_at = models.DateTimeField(default=timezone.now)
    parent_id = models.CharField(max_length=200, blank=True, help_text="A comment's post or media.")
    reply_to = models.CharField(max_length=200, blank=True, help_text="The message or comment it answers.")
    permalink = models.URLField(max_length=500, blank=True)
    story_link = models.CharField(max_length=500, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    # [{"type", "title", "url" (Meta's, expires), "blob", "key_id", "content_type", "size", "error"}]
    attachments = models.JSONField(default=list, blank=True)
    attachments_fetched_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    earlier_texts = models.JSONField(default=list, blank=True, help_text="Texts before each edit, oldest first.")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_how = models.CharField(max_length=10, choices=Removed.choices, blank=True)
    urgent = models.BooleanField(default=False)
    flagged_names = models.JSONField(default=list, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    # A reply from FiG: who wrote it, how it goes, and where its sending stands (social.inbox.replies).
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    link = models.URLField(max_length=500, blank=True, help_text="Where a reply made elsewhere can be seen.")
    send_as = models.CharField(max_length=15, choices=SendAs.choices, blank=True)
    sending = models.CharField(max_length=10, choices=Sending.choices, blank=True, db_index=True)
    send_error = models.TextField(blank=True)
    send_requested_at = models.DateTimeField(null=True, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_id"],
                condition=models.Q(platform_id__isnull=False),
                name="one_message_per_platform_id",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "at", "id"]),
            # The sweep's search for messages whose flagging task was lost stays small.
            models.Index(fields=["stored_at"], condition=models.Q(flagged_at__isnull=True), name="inbox_unflagged"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} #{self.pk}"

    @property
    def is_private(self) -> bool:
        """Sent to FiG alone (a message, a button pressed, a story reply or mention), not shown in public."""
        return self.event in PRIVATE_EVENTS


PRIVATE_EVENTS = {
    Message.Event.MESSAGE,
    Message.Event.POSTBACK,
    Message.Event.STORY_REPLY,
    Message.Event.STORY_MENTION,
}


class PassOn(models.Model):
    """Every time a conversation was passed to someone, with the note: the latest is also on the conversation."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="pass_ons")
    to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Passed on #{self.pk}"


class ConversationNote(models.Model):
    """A note for FiG's staff on a conversation. Never sent to anyone."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Note #{self.pk}"


class SavedReply(models.Model):
    """A reply the social media administrators approved, to insert and adapt. {first_name} becomes the
    person's first name. Changed only through social.inbox.saved_replies, which audits each change."""

    title = models.CharField(max_length=100)
    text = models.TextField()
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("title"), condition=models.Q(is_active=True), name="one_active_saved_reply_per_title"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class WebhookDelivery(models.Model):
    """A Meta webhook delivery, stored as it came before anything is read from it, so that nothing is lost
    when ingesting it takes long or fails part of the way. Ingested once (social.inbox.ingest)."""

    body = models.BinaryField()
    received_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)
    ingest_started_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(null=True, blank=True)
    events = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["queued_at"], condition=models.Q(ingested_at__isnull=True), name="webhook_waiting"),
        ]

    def __str__(self) -> str:
        return f"Webhook delivery #{self.pk}"


class Takedown(models.Model):
    """A request to remove something identifying from FiG's social media, on its own short clock."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REMOVED = "removed", "Removed"
        CANCELLED = "cancelled", "Cancelled"

    class How(models.TextChoices):
        HIDDEN = "hidden", "Hidden through the Graph API"
        DELETED = "deleted", "Deleted through the Graph API"
        BY_HAND = "by_hand", "Removed by hand on the platform"
        ON_PLATFORM = "platform", "Removed or hidden on the platform (Meta reported it)"

    message = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.PROTECT, related_name="takedowns")
    item = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="takedowns",
        help_text="The comment or post in the conversation that must come down.",
    )
    post = models.ForeignKey("Post", null=True, blank=True, on_delete=models.PROTECT, related_name="takedowns")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The parent or carer who asked for it to come down, if one did.",
    )
    reason = models.TextField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    how = models.CharField(max_length=10, choices=How.choices, blank=True)
    notes = models.TextField(blank=True)
    last_escalated_at = models.DateTimeField(null=True, blank=True)
    # Removal through the Graph API happens after commit, outside any row lock (inbox.services.takedown_remove_send):
    # how it was asked for, by whom and when, when the call began, and why the last attempt failed.
    removal_requested_how = models.CharField(max_length=10, choices=How.choices, blank=True)
    removal_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removal_requested_at = models.DateTimeField(null=True, blank=True)
    removal_started_at = models.DateTimeField(null=True, blank=True)
    removal_error = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return f"Takedown #{self.pk}"


class DigestSent(models.Model):
    """Stamps the daily digest: one row per London date, so it goes once however often the sweep runs."""

    day = models.DateField(unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Digest {self.day}"


class PolicyTerm(models.Model):
    """A word or phrase on the religious or political list; administrators edit the lists. What each kind
    does to a post is social/posts/checks/terms.py."""

    class Category(models.TextChoices):
        RELIGIOUS = "religious", "Religious"
        POLITICAL = "political", "Political"

    class Kind(models.TextChoices):
        TERM = "term", "Term"  # found wherever it is (outside an exception)
        NEEDS_CONTEXT = "needs_context", "Term that needs context"  # found only near a context word or a term
        CONTEXT = "context", "Context word"  # never found on its own: makes a term that needs context count
        EXCEPTION = "exception", "Exception"  # hides the terms inside it, where it occurs

    category = models.CharField(max_length=10, choices=Category.choices)
    term = models.CharField(max_length=100)
    kind = models.CharField(max_length=13, choices=Kind.choices, default=Kind.TERM)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "term"]
        constraints = [
            # Terms match in any case: "Pray" and "pray" are one term, checked on one list at most.
            models.UniqueConstraint(Lower("term"), "category", name="one_policy_term_per_category"),
            models.UniqueConstraint(Lower("term"), condition=models.Q(is_active=True), name="one_checked_policy_term"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.term}"


class Channel(models.TextChoices):
    FACEBOOK = "facebook", "Facebook Page"
    INSTAGRAM = "instagram", "Instagram"
    X = "x", "X (Twitter)"
    WEBSITE = "website", "FiG website"
    LINKEDIN = "linkedin", "LinkedIn"


class Post(models.Model):
    """A status update drafted by staff, checked against the policy, approved by someone else, then published."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Awaiting review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        PUBLISHING = "publishing", "Being published"
        PARTLY_PUBLISHED = "partly_published", "Partly published"
        PUBLISHED = "published", "Published"
        TAKEN_DOWN = "taken_down", "Taken down"
        WITHDRAWN = "withdrawn", "Withdrawn"

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts")
    text = models.TextField()
    channels = models.JSONField(default=list)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    photos = models.ManyToManyField("photos.Photo", blank=True, related_name="posts")
    # Which image of each photo goes out (photo id as text -> "original" or "unidentifiable"), fixed when the
    # draft is saved so that the reviewer approves exactly what is published (photos.selectors.online_versions).
    photo_versions = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    checklist = models.JSONField(default=dict, blank=True, help_text="What the approver confirmed.")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_url = models.URLField(max_length=500, blank=True)
    # The platform's id from before each channel kept its own (PostChannel.external_id). Blank since; for a post
    # taken down or withdrawn before then it is the only copy, and the family export still reports it.
    external_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"Post #{self.pk}"

    @property
    def channel_labels(self) -> list[str]:
        labels = dict(Channel.choices)
        return [labels.get(channel, channel) for channel in self.channels]


class PostChannel(models.Model):
    """One channel a post goes to, with its own state: a post is published only when every channel is sent
    or recorded (social.posts.channels). A channel whose adapter is configured is sent by FiG Safety;
    any other is published by hand and its link recorded."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting to be published"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        RECORDED = "recorded", "Recorded by hand"
        TAKEN_DOWN = "taken_down", "Taken down"
        CANCELLED = "cancelled", "Cancelled"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    by_hand = models.BooleanField(default=False, help_text="Published by a person, who records the link.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING, db_index=True)
    url = models.URLField(max_length=500, blank=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The platform's id, kept as soon as it answers."
    )
    # Ids the platform gave part of the way (uploaded media, an Instagram container): a retry reuses them.
    progress = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    error = models.TextField(blank=True)
    send_requested_at = models.DateTimeField(null=True, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True)
    # Taking it down: through the platform's API where it allows, else by hand and recorded.
    takedown_requested_at = models.DateTimeField(null=True, blank=True)
    takedown_started_at = models.DateTimeField(null=True, blank=True)
    takedown_error = models.TextField(blank=True)
    taken_down_at = models.DateTimeField(null=True, blank=True)
    taken_down_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    taken_down_how = models.CharField(max_length=10, blank=True)  # "api" or "by_hand"

    class Meta:
        ordering = ["post", "id"]
        constraints = [models.UniqueConstraint(fields=["post", "channel"], name="one_delivery_per_post_channel")]
        indexes = [models.Index(fields=["state", "send_requested_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} for post #{self.post_id}"

    @property
    def is_out(self) -> bool:
        return self.state in {self.State.SENT, self.State.RECORDED}


class PublishImageLink(models.Model):
    """A single-use, short-lived address that serves exactly one approved image of one post to the platform
    that fetches it (Instagram fetches the photo from a URL). Only a hash of its token is kept."""

    delivery = models.ForeignKey(PostChannel, on_delete=models.CASCADE, related_name="image_links")
    photo = models.ForeignKey("photos.Photo", on_delete=models.PROTECT, related_name="+")
    version = models.CharField(max_length=15)  # photos.selectors.ORIGINAL or UNIDENTIFIABLE
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_from = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Image link #{self.pk}"


class CheckDismissal(models.Model):
    """An approver's written reason for dismissing one text check on one post. Kept for good."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="dismissals")
    check_name = models.CharField(max_length=20)
    reason = models.TextField()
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dismissed_at"]

    def __str__(self) -> str:
        return f"{self.check_name} dismissed on {self.post_id}"


class PhotoOnlineHold(models.Model):
    """A parent's removal request that sticks: FiG does not use this photo online (nor a blurred version or
    a copy of it) while the hold is active, until a parent with parental responsibility for the child lifts it
    on their consent page. A lifted hold is kept, with who lifted it and when; asking again makes a new one."""

    photo = models.ForeignKey("photos.Photo", on_delete=models.PROTECT, related_name="online_holds")
    child = models.ForeignKey("consents.Child", on_delete=models.PROTECT, related_name="online_holds")
    post = models.ForeignKey(
        Post, on_delete=models.PROTECT, related_name="photo_holds", help_text="The post the parent asked about."
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["photo", "child"],
                condition=models.Q(lifted_at__isnull=True),
                name="one_active_online_hold_per_photo_and_child",
            ),
        ]

    def __str__(self) -> str:
        return f"Online hold on {self.photo_id} for {self.child_id}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None
