"""Reads for the post queue (the inbox's reads are in social/selectors.py)."""

from __future__ import annotations

from django.db.models import QuerySet

from consents.selectors import children_of_parent
from social.models import Post


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
