"""Reads for the post queue: the photos a post may use, the review queue, a post's history, the
published posts a parent sees, and the photos parents asked FiG not to use online."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from consents.models import Child
from consents.selectors import children_of_parent
from fig_safety.times import when
from photos.models import Photo, PhotoTag
from photos.selectors import photos_allowed_online
from social.models import Channel, PhotoOnlineHold, Post, Takedown
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
                what=HISTORY_WORDS.get(event.action, event.action),
                why=str(details.get("reason") or ""),
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


@dataclass
class ParentPost:
    post: Post
    channels: list[str]
    children: list[str]  # the parent's own children shown in it, first names
    photos_of_child: int
    takedown: Takedown | None
    # Their children whose photos in it FiG holds back from online use, each with how many photos.
    held: list[tuple[Child, int]] = field(default_factory=list)


def parent_post_cards(user, limit: int = 100) -> list[ParentPost]:
    """The published posts with a photo of one of this parent's children, newest first, each with only the
    parent's own children named in it, its newest takedown, and which of those children's photos in it FiG
    holds back from online use at the parent's request. Six queries however many posts."""
    found = list(posts_showing_children_of(user)[:limit])
    ids = [p.pk for p in found]
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
            ParentPost(post, channels, names, len(theirs), latest.get(post.pk), list(held.get(post.pk, {}).items()))
        )
    return cards
