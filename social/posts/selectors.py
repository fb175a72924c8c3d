"""Reads for the post queue: the photos a post may use, the review queue, a post's history, and the
published posts a parent sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from consents.selectors import children_of_parent
from fig_safety.times import when
from photos.models import Photo, PhotoTag
from photos.selectors import photos_allowed_online
from social.models import Channel, Post, Takedown
from social.posts.checks import CHECK_TITLES
from staff.models import AuditEvent

CHANNEL_LABELS = dict(Channel.choices)


def postable_photos() -> QuerySet[Photo]:
    """The photos that may be offered for a post: ready, and allowed online now (photos_allowed_online)."""
    return photos_allowed_online(Photo.objects.filter(status=Photo.Status.READY))


def posts_showing_children_of(user) -> QuerySet[Post]:
    """Published posts with a photo of one of this parent's children (they hold parental responsibility)."""
    return (
        Post.objects.filter(status=Post.Status.PUBLISHED, photos__tags__child__in=children_of_parent(user))
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


def parent_post_cards(user, limit: int = 100) -> list[ParentPost]:
    """The published posts with a photo of one of this parent's children, newest first, each with only the
    parent's own children named in it and its newest takedown. Five queries however many posts."""
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
    cards = []
    for post in found:
        theirs = [names_in[i] for i in photos_of.get(post.pk, []) if i in names_in]
        names = sorted({name for names in theirs for name in names})
        channels = [CHANNEL_LABELS.get(c, c) for c in post.channels]
        cards.append(ParentPost(post, channels, names, len(theirs), latest.get(post.pk)))
    return cards
