"""Reads for the post queue: the photos a post may use, the review queue, a post's history, each post's
channels and what will be posted on each, the published posts a parent sees, and the photos parents asked FiG
not to use online."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Min, Q, QuerySet

from consents.models import Child
from consents.selectors import children_of_parent
from fig_safety.times import when
from photos.models import Photo, PhotoTag
from photos.selectors import ORIGINAL, photos_allowed_online
from social import graph, x
from social.models import Channel, PhotoOnlineHold, Post, PostChannel, Takedown
from social.posts.adapters import XSender, sender_for
from social.posts.checks import CHECK_TITLES
from staff.models import AuditEvent
from staff.roles import Role, has_role, is_social_admin

CHANNEL_LABELS = dict(Channel.choices)


# Who sees the small copies of photos that may be posted, and so who may attach photos to a post: the staff
# chosen to write FiG's posts (the "Post writer" role) and the social media administrators who
# approve them. Anyone else on the staff, volunteers included (they hold only "Staff or volunteer"), may write
# posts without photos. Photographers, coordinators and the CEO have no part in writing or approving posts (a
# coordinator sees their families' photos in the vault instead). consents.formtext.WHO_SEES_ONLINE tells
# parents this; docs/security.md says why.
POST_PHOTO_VIEWERS = (Role.POST_WRITER, Role.SOCIAL_ADMIN)


def can_see_post_photos(user) -> bool:
    """People who write posts and the social media administrators (and superusers) who approve them."""
    return is_social_admin(user) or has_role(user, *POST_PHOTO_VIEWERS)


def postable_photos() -> QuerySet[Photo]:
    """The photos that may be offered for a post: ready, allowed online now (photos_allowed_online), and not
    held back because a parent asked FiG not to use them online (held_photos)."""
    ready = Photo.objects.filter(status=Photo.Status.READY).exclude(pk__in=held_photos().values("pk"))
    return photos_allowed_online(ready)


def active_holds() -> QuerySet[PhotoOnlineHold]:
    return PhotoOnlineHold.objects.filter(lifted_at__isnull=True)


def held_photos() -> QuerySet[Photo]:
    """The photos FiG may not use online because a parent asked (an active PhotoOnlineHold), whichever image
    of them (as taken or blurred), and every copy of them: the same file uploaded again (its SHA-256), or a
    photo recorded as a duplicate of one, either way. Their tags do not matter: taking a child's tag off a
    photo does not lift a hold. One query, as a subquery wherever it is used."""
    held_ids = active_holds().values("photo_id")
    held = Photo.objects.filter(pk__in=held_ids)
    return Photo.objects.filter(
        Q(pk__in=held_ids)
        | Q(duplicate_of__in=held_ids)
        | Q(pk__in=held.filter(duplicate_of__isnull=False).values("duplicate_of_id"))
        | Q(duplicate_of__in=held.filter(duplicate_of__isnull=False).values("duplicate_of_id"))
        | Q(upload_sha256__in=held.exclude(upload_sha256="").values("upload_sha256"))
    )


def online_holds_for_child(child: Child) -> list[PhotoOnlineHold]:
    """The active holds on photos of this child, oldest request first, with the post each was asked about:
    what the child's consent page lists for a parent to allow again. One query."""
    return list(active_holds().filter(child=child).select_related("post").order_by("requested_at", "id"))


# Posts that are, or were, out on at least one channel.
LIVE_ONLINE = [Post.Status.PUBLISHING, Post.Status.PARTLY_PUBLISHED, Post.Status.PUBLISHED]
WENT_OUT = [*LIVE_ONLINE, Post.Status.TAKEN_DOWN]


def posts_showing_children_of(user) -> QuerySet[Post]:
    """Posts that went out with a photo of one of this parent's children (they hold parental responsibility),
    partly or taken down included: the parent sees the truth per channel."""
    return (
        Post.objects.filter(status__in=WENT_OUT, photos__tags__child__in=children_of_parent(user))
        .distinct()
        .order_by("-published_at")
    )


def awaiting_review(user) -> QuerySet[Post]:
    """Posts waiting for a reviewer other than their author, oldest first."""
    return (
        Post.objects.filter(status=Post.Status.SUBMITTED)
        .exclude(author=user)
        .select_related("author")
        .order_by("submitted_at", "id")
    )


def first_photos(post_ids: Iterable[int]) -> dict[int, Photo]:
    """The first photo (the oldest upload) of each post, for a thumbnail in a list. One query: whether each may
    still go online is left to the thumbnail view, which serves none that may not (asking here would cost the
    five queries of photos_allowed_online on every page, for posts that passed the gate when sent for review
    and go back to their author when a consent is withdrawn)."""
    first: dict[int, Photo] = {}
    through = Post.photos.through.objects.filter(post_id__in=list(post_ids))
    for row in through.select_related("photo").order_by("post_id", "photo__uploaded_at", "photo_id"):
        first.setdefault(row.post_id, row.photo)
    return first


def findings_when_submitted(post_ids: Iterable[int]) -> dict[int, int]:
    """How many policy checks found something in each post when it was last sent for review (its audit row
    says which). A post waiting for review cannot change, so this is what the reviewer will weigh, short of a
    change to the register or the term lists since; the post's page runs the checks again. One query, where
    running the checks for every row would cost a few queries a post."""
    ids = {str(pk): pk for pk in post_ids}
    found: dict[int, int] = {}
    events = AuditEvent.objects.filter(target_type="social.post", target_id__in=list(ids), action="post.submitted")
    for target_id, details in events.order_by("occurred_at", "id").values_list("target_id", "details"):
        found[ids[target_id]] = len((details or {}).get("findings") or [])  # the latest submission wins
    return found


# --- each post's channels -------------------------------------------------------------------------------


def deliveries_by_post(post_ids: Iterable[int]) -> dict[int, list[PostChannel]]:
    """Each post's channels with their own state, in the order the author chose them. One query."""
    found: dict[int, list[PostChannel]] = {}
    for row in PostChannel.objects.filter(post_id__in=list(post_ids)).order_by("post_id", "id"):
        found.setdefault(row.post_id, []).append(row)
    return found


# How long a post each channel takes, in characters; X counts its own way (social.x.x_length), and FiG's
# website takes any length. Instagram takes 1 to 10 photos in a post, X at most 4.
CHARACTER_LIMITS: dict[str, int | None] = {
    Channel.FACEBOOK: 63_206,
    Channel.INSTAGRAM: 2_200,
    Channel.X: x.X_LIMIT,
    Channel.LINKEDIN: 3_000,
    Channel.WEBSITE: None,
}
INSTAGRAM_PHOTOS = graph.CAROUSEL_ITEMS[-1]
X_PHOTOS = XSender.MAX_PHOTOS


@dataclass(frozen=True)
class ChannelPreview:
    """What will be posted on one channel: the text, its length as the channel counts it against its limit,
    the exact image of each photo, and what stops it going there as it is."""

    channel: str
    label: str
    length: int
    limit: int | None
    photos: list[tuple[Photo, str]]  # each photo with the image approved: ORIGINAL or UNIDENTIFIABLE
    problems: list[str]
    by_hand: bool  # FiG Safety has no adapter for it here: an administrator publishes it and records the link

    @property
    def over(self) -> int:
        """How many characters too long (0 when it fits)."""
        return max(0, self.length - self.limit) if self.limit is not None else 0

    @property
    def counted_the_x_way(self) -> bool:
        return self.channel == Channel.X


def channel_previews(post: Post, photos: list[Photo]) -> list[ChannelPreview]:
    """A preview for each channel of the post, in the author's order. No queries: `photos` are the post's."""
    chosen = [(photo, post.photo_versions.get(str(photo.pk), ORIGINAL)) for photo in photos]
    previews = []
    for channel in post.channels:
        label = CHANNEL_LABELS.get(channel, channel)
        length = x.x_length(post.text) if channel == Channel.X else len(post.text)
        limit = CHARACTER_LIMITS.get(channel)
        problems = []
        if limit is not None and length > limit:
            counted = " as X counts them" if channel == Channel.X else ""
            problems.append(
                f"Too long for {label}: {length:,} characters{counted}, {length - limit:,} over its limit of "
                f"{limit:,}. Shorten the text, or take {label} off the post."
            )
        if channel == Channel.INSTAGRAM and not chosen:
            problems.append("Instagram needs a photo: this post has none. Add one, or take Instagram off the post.")
        elif channel == Channel.INSTAGRAM and len(chosen) > INSTAGRAM_PHOTOS:
            problems.append(
                f"Instagram takes at most {INSTAGRAM_PHOTOS} photos in one post; this post has {len(chosen)}."
            )
        if channel == Channel.X and len(chosen) > X_PHOTOS:
            problems.append(f"X takes at most {X_PHOTOS} photos in one post; this post has {len(chosen)}.")
        previews.append(
            ChannelPreview(channel, label, length, limit, chosen, problems, by_hand=sender_for(channel) is None)
        )
    return previews


@dataclass
class HistoryEntry:
    when: datetime
    who: str
    what: str
    why: str = ""
    link: str = ""
    dismissed: list[tuple[str, str]] = field(default_factory=list)


HISTORY_WORDS = {
    "post.drafted": "Wrote the draft",
    "post.edited": "Changed the draft",
    "post.submitted": "Sent it for review",
    "post.approved": "Approved it, having confirmed the checklist",
    "post.changes_requested": "Sent it back for changes",
    "post.published": "Published it",
    "post.withdrawn": "Withdrew it",
    "post.removal_requested": "Asked FiG to remove it",
    "post.send_now": "Asked for it to be sent now",
    "post.sent_at_its_time": "Sent it at its time",
    "post.channel_sent": "Sent it",
    "post.channel_recorded": "Recorded it as published by hand",
    "post.channel_failed": "Could not send it",
    "post.channel_taken_down": "Took it down",
}
AUTOMATIC = "FiG Safety, automatically"


def post_history(post: Post) -> list[HistoryEntry]:
    """Who did what to this post, when and why, oldest first: its audit rows and its takedowns. Two queries."""
    entries = []
    events = AuditEvent.objects.filter(target_type="social.post", target_id=str(post.pk)).select_related("actor")
    for event in events.order_by("occurred_at", "id"):
        details = event.details or {}
        if event.action == "post.removal_requested":
            who = "A parent or carer of a child in the photos"  # staff need not know which parent asked
        else:
            who = str(event.actor) if event.actor else AUTOMATIC
        entries.append(
            HistoryEntry(
                when=event.occurred_at,
                who=who,
                what=HISTORY_WORDS.get(event.action, event.action) + _where(event.action, details),
                why=str(details.get("reason") or details.get("error") or ""),
                link=str(details.get("url") or ""),
                dismissed=[
                    (CHECK_TITLES.get(check, check), reason)
                    for check, reason in (details.get("dismissed") or {}).items()
                ],
            )
        )
    for takedown in post.takedowns.select_related("opened_by", "removed_by").order_by("opened_at", "id"):
        entries.append(
            HistoryEntry(
                when=takedown.opened_at,
                who=str(takedown.opened_by) if takedown.opened_by else AUTOMATIC,
                what=f"Opened a takedown, to be done by {when(takedown.due_at)}",
                why=takedown.reason,
            )
        )
        if takedown.removed_at:
            entries.append(
                HistoryEntry(
                    when=takedown.removed_at,
                    who=str(takedown.removed_by) if takedown.removed_by else AUTOMATIC,
                    what=f"Recorded it as taken down ({takedown.get_how_display().lower()})",
                    why=takedown.notes,
                )
            )
    return sorted(entries, key=lambda e: e.when)


CHANNEL_ACTIONS = {"post.send_now", "post.sent_at_its_time"}


def _where(action: str, details: dict) -> str:
    """ " on X (Twitter)", or " (Facebook Page, Instagram)": the channels a channel's audit row names."""
    if not (action.startswith("post.channel_") or action in CHANNEL_ACTIONS):
        return ""
    if details.get("channel"):
        return f" on {CHANNEL_LABELS.get(details['channel'], details['channel'])}"
    if details.get("channels") and isinstance(details["channels"], list):
        return " (" + ", ".join(CHANNEL_LABELS.get(c, c) for c in details["channels"]) + ")"
    return ""


@dataclass
class ParentPost:
    post: Post
    channels: list[str]
    children: list[str]  # the parent's own children shown in it, first names
    photos_of_child: int
    takedown: Takedown | None
    # Their children whose photos in it FiG holds back from online use, each with how many photos.
    held: list[tuple[Child, int]] = field(default_factory=list)
    # Each channel it went out on, and whether it is still there or was taken down (never one not yet out).
    deliveries: list[PostChannel] = field(default_factory=list)
    first_out: datetime | None = None  # when it first went out anywhere

    @property
    def still_up(self) -> bool:
        return any(d.is_out for d in self.deliveries)


# What a parent sees of a channel: out there, or taken down. A channel not out yet is not theirs to worry about.
PARENT_STATES = {PostChannel.State.SENT, PostChannel.State.RECORDED, PostChannel.State.TAKEN_DOWN}


def parent_post_cards(user, limit: int = 100) -> list[ParentPost]:
    """The posts that went out with a photo of one of this parent's children, the one out first most recently
    first, each with only the parent's own children named in it, each channel it went out on (still there or
    taken down, with the date), its newest takedown, and which of those children's photos in it FiG holds back
    from online use at the parent's request. Seven queries however many posts."""
    found = list(
        posts_showing_children_of(user)
        .annotate(first_out=Min("deliveries__sent_at"))
        .order_by(F("first_out").desc(nulls_last=True), "-pk")[:limit]
    )
    ids = [p.pk for p in found]
    went_out = {
        post_id: [d for d in rows if d.state in PARENT_STATES] for post_id, rows in deliveries_by_post(ids).items()
    }
    # Which of the parent's own children each photo shows (two plain queries, no joins to get wrong).
    photos_of: dict[int, list[int]] = {}
    for post_id, photo_id in Post.photos.through.objects.filter(post_id__in=ids).values_list("post_id", "photo_id"):
        photos_of.setdefault(post_id, []).append(photo_id)
    names_in: dict[int, set[str]] = {}
    for photo_id, first_name in PhotoTag.objects.filter(
        photo_id__in={i for photo_ids in photos_of.values() for i in photo_ids},
        child__in=children_of_parent(user),
    ).values_list("photo_id", "child__first_name"):
        names_in.setdefault(photo_id, set()).add(first_name)
    latest: dict[int, Takedown] = {}
    for takedown in Takedown.objects.filter(post__in=ids).order_by("opened_at", "id"):
        latest[takedown.post_id] = takedown  # the newest case for each post
    held: dict[int, dict[Child, int]] = {}
    holds = active_holds().filter(post__in=ids, child__in=children_of_parent(user)).select_related("child")
    for hold in holds.order_by("child__first_name", "child_id"):
        counts = held.setdefault(hold.post_id, {})
        counts[hold.child] = counts.get(hold.child, 0) + 1
    cards = []
    for post in found:
        theirs = [names_in[i] for i in photos_of.get(post.pk, []) if i in names_in]
        names = sorted({name for names in theirs for name in names})
        channels = [CHANNEL_LABELS.get(c, c) for c in post.channels]
        cards.append(
            ParentPost(
                post,
                channels,
                names,
                len(theirs),
                latest.get(post.pk),
                list(held.get(post.pk, {}).items()),
                deliveries=went_out.get(post.pk, []),
                first_out=post.first_out or post.published_at,
            )
        )
    return cards
