"""Single-use addresses for the platforms that fetch a post's photo themselves (Instagram's content publishing
takes an image URL): each serves exactly one approved image of one post, once, for a few minutes, and its use
is logged against the photo. The token is random and only its hash is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from photos.models import Photo, PhotoAccess
from social.models import Channel, Post, PublishImageLink
from social.posts.adapters import approved_image


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def image_link_for(post: Post, photo: Photo, version: str) -> str:
    """A new single-use address for this post's approved image of `photo`."""
    token = secrets.token_urlsafe(32)
    PublishImageLink.objects.create(
        delivery=post.deliveries.get(channel=Channel.INSTAGRAM),
        photo=photo,
        version=version,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(minutes=settings.FIG_PUBLISH_IMAGE_LINK_MINUTES),
    )
    return settings.FIG_SITE_URL + reverse("social:publish_image", args=[token])


def image_link_use(token: str, *, ip: str | None) -> bytes | None:
    """The image behind a link, the first time it is asked for before it expires; None for anything else (an
    unknown, used or expired token). The fetch is logged against the photo."""
    if not token or len(token) > 100:
        return None
    with transaction.atomic():
        link = (
            PublishImageLink.objects.select_for_update()
            .select_related("photo")
            .filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        if link is None:
            return None
        link.used_at, link.used_from = timezone.now(), ip
        link.save(update_fields=["used_at", "used_from"])
        PhotoAccess.objects.create(photo=link.photo, user=None, action=PhotoAccess.Action.PUBLICATION, ip_address=ip)
    return approved_image(link.photo, link.version)
