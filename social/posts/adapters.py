"""How an approved post reaches each platform (social.posts.channels decides when).

A sender per channel FiG Safety can publish to itself (`SENDERS`: the Facebook Page and Instagram through the
Graph API, X through its API), used where it is configured (`sender_for`); any other channel is published by
an administrator, who records its link and time (`ManualAdapter`, which only checks them). `approved_image`
reads the exact image of a photo a post was approved with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from fig_safety.vault import VaultError, vault_read
from photos.selectors import ORIGINAL, UNIDENTIFIABLE
from social import graph, x
from social.models import Channel, Post


class PublishError(Exception):
    """Publishing did not happen, or may not have: nothing is marked as published.

    `may_have_succeeded`: the platform did not answer in time, so it may have published the post anyway;
    the post must not be sent again blindly (someone checks the platform first)."""

    def __init__(self, message: str, *, may_have_succeeded: bool = False) -> None:
        super().__init__(message)
        self.may_have_succeeded = may_have_succeeded


@dataclass(frozen=True)
class Published:
    url: str
    external_id: str
    published_at: datetime


class ManualAdapter:
    name = "manual"
    label = "I published it on the platform myself"
    calls_out = False

    def suits(self, post: Post) -> bool:
        return True

    def publish(self, post: Post, *, url: str = "", published_at: datetime | None = None) -> Published:
        url = url.strip()
        try:
            # Post.published_url holds 500 characters; a longer one would fail at the database instead.
            if len(url) > 500:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise PublishError("Paste the link to the published post (it starts with https://).") from None
        when = published_at or timezone.now()
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        # A few minutes' grace for a clock that runs a little ahead of ours.
        if when > timezone.now() + timedelta(minutes=5):
            raise PublishError("The time it was published cannot be in the future.")
        return Published(url=url, external_id="", published_at=when)


def _publish_error(exc: graph.GraphError | x.XError, *, who: str = "Facebook") -> PublishError:
    """What a platform's failure means for the post: never published, or perhaps published (a timeout)."""
    if exc.may_have_succeeded:
        return PublishError(
            f"{who} did not answer in time, so FiG Safety cannot tell whether the post went out. Check {who}: "
            "if it is there, record its link by hand; if not, publish it again.",
            may_have_succeeded=True,
        )
    if exc.kind == graph.REFUSED:
        detail = exc.detail or "unknown error"
        said = f" ({exc.status}: {detail})" if exc.status is not None else f": {detail}"
        return PublishError(f"{who} refused the post{said}. Nothing was published.")
    return PublishError(f"{exc.describe(who)} Nothing was published; try again.")


def approved_image(photo, version: str) -> bytes:
    """The exact image of `photo` a post was approved with: as taken, or its unidentifiable version."""
    if version == UNIDENTIFIABLE:
        name, key_id = photo.unidentifiable_blob, photo.unidentifiable_key_id
    else:
        name, key_id = photo.original_blob, photo.original_key_id
    try:
        return vault_read(name=name, key_id=key_id)
    except VaultError as exc:
        raise PublishError("A photo could not be read from the vault.") from exc


# --- one channel at a time (social.posts.channels) ------------------------------------------------------------
#
# A sender publishes one post on one channel. It is called with no row locked. `keep(progress)` stores the ids
# the platform gave part of the way (each in its own short transaction), so a retry reuses them instead of
# uploading or creating anything twice.

Keep = Callable[[dict], None]


class ChannelSender(Protocol):
    channel: str
    label: str

    def configured(self) -> bool: ...

    def refusal(self, post: Post) -> str:
        """Why the post cannot go to this channel ("" if it can), known before anything is sent."""
        ...

    def send(self, post: Post, progress: dict, keep: Keep) -> Published: ...

    def delete(self, external_id: str) -> None:
        """Take the post down; raises PublishError, or NotImplementedError where the platform does not allow it."""
        ...


def _versions(post: Post) -> list[tuple[object, str]]:
    return [(photo, post.photo_versions.get(str(photo.pk), ORIGINAL)) for photo in post.photos.order_by("pk")]


class FacebookSender:
    channel, label = Channel.FACEBOOK, "Facebook Page"

    def configured(self) -> bool:
        return graph.page_configured()

    def refusal(self, post: Post) -> str:
        return "" if self.configured() else "Publishing to Facebook is not configured."

    def send(self, post: Post, progress: dict, keep: Keep) -> Published:
        media = list(progress.get("media", []))
        try:
            for photo, version in _versions(post)[len(media) :]:
                media_id = graph.upload_unpublished_photo(approved_image(photo, version))
                if not media_id:
                    raise PublishError("Facebook did not accept a photo.")
                media.append(media_id)
                keep({"media": media})
            post_id = graph.publish_on_page(post.text, media)
        except graph.GraphError as exc:
            raise _publish_error(exc) from exc
        if not post_id:
            raise PublishError("Facebook did not say it published the post.", may_have_succeeded=True)
        return Published(url=f"https://www.facebook.com/{post_id}", external_id=post_id, published_at=timezone.now())

    def delete(self, external_id: str) -> None:
        try:
            graph.delete_page_post(external_id)
        except (graph.GraphError, ValueError) as exc:
            raise PublishError(f"Facebook did not delete the post: {exc}") from exc


class InstagramSender:
    """Instagram's content publishing: a media container for each photo (Meta fetches the image from a
    single-use address, social.posts.image_links), a carousel for several, then publish."""

    channel, label = Channel.INSTAGRAM, "Instagram"
    # How long to wait for Meta to finish fetching and processing the photos before publishing.
    READY_TRIES, READY_PAUSE = 10, 1.0

    def __init__(self, image_url: Callable[[Post, object, str], str] | None = None) -> None:
        self.image_url = image_url

    def configured(self) -> bool:
        return graph.instagram_configured()

    def refusal(self, post: Post) -> str:
        if not self.configured():
            return "Publishing to Instagram is not configured."
        count = post.photos.count()
        if count == 0:
            return "Instagram posts need a photo: add one, or publish it on Instagram by hand."
        if count > graph.CAROUSEL_ITEMS[1]:
            return f"Instagram takes at most {graph.CAROUSEL_ITEMS[1]} photos in one post."
        return ""

    def send(self, post: Post, progress: dict, keep: Keep) -> Published:
        from social.posts.image_links import image_link_for

        refusal = self.refusal(post)
        if refusal:
            raise PublishError(refusal)
        photos = _versions(post)
        try:
            container = progress.get("container", "")
            if not container:
                if len(photos) == 1:
                    photo, version = photos[0]
                    container = graph.instagram_create_container(image_link_for(post, photo, version), post.text)
                else:
                    children = [
                        graph.instagram_create_container(image_link_for(post, photo, version), carousel_item=True)
                        for photo, version in photos
                    ]
                    container = graph.instagram_create_carousel(children, post.text)
                keep({"container": container})
            status = graph.instagram_container_status(container)
            for _ in range(self.READY_TRIES):
                if status != "IN_PROGRESS":
                    break
                time.sleep(self.READY_PAUSE)
                status = graph.instagram_container_status(container)
            if status == "PUBLISHED" and progress.get("media_id"):
                media_id = progress["media_id"]
            elif status == "PUBLISHED":
                # Published by the earlier call, whose answer (the post's id) was lost: it is out, once.
                raise PublishError(
                    "It is already on Instagram (the earlier attempt published it), but Instagram did not give "
                    "its address. Find the post on Instagram and record its link.",
                    may_have_succeeded=True,
                )
            elif status != "FINISHED":
                raise PublishError(f"Instagram could not prepare the photos (status {status}). Nothing was published.")
            else:
                media_id = graph.instagram_publish(container)
                keep({"container": container, "media_id": media_id})
            url = graph.instagram_permalink(media_id)
        except graph.GraphError as exc:
            raise _publish_error(exc, who="Instagram") from exc
        return Published(url=url, external_id=media_id, published_at=timezone.now())

    def delete(self, external_id: str) -> None:
        raise NotImplementedError("Instagram does not let an app delete a post: it is removed by hand.")


class XSender:
    channel, label = Channel.X, "X (Twitter)"
    MAX_PHOTOS = 4

    def configured(self) -> bool:
        return x.x_configured()

    def refusal(self, post: Post) -> str:
        if not self.configured():
            return "Publishing to X is not configured."
        if x.x_length(post.text) > x.X_LIMIT:
            return f"The text is {x.x_length(post.text)} characters as X counts them; X takes {x.X_LIMIT}."
        if post.photos.count() > self.MAX_PHOTOS:
            return f"X takes at most {self.MAX_PHOTOS} photos in one post."
        return ""

    def send(self, post: Post, progress: dict, keep: Keep) -> Published:
        refusal = self.refusal(post)
        if refusal:
            raise PublishError(refusal)
        media = list(progress.get("media", []))
        try:
            for photo, version in _versions(post)[len(media) :]:
                media.append(x.upload_media(approved_image(photo, version), "image/jpeg"))
                keep({"media": media})
            post_id = x.create_post(post.text, media)
        except x.XError as exc:
            raise _publish_error(exc, who="X") from exc
        return Published(url=x.post_url(post_id), external_id=post_id, published_at=timezone.now())

    def delete(self, external_id: str) -> None:
        try:
            x.delete_post(external_id)
        except x.XError as exc:
            raise PublishError(f"X did not delete the post: {exc.describe('X')}") from exc


SENDERS: dict[str, ChannelSender] = {
    Channel.FACEBOOK: FacebookSender(),
    Channel.INSTAGRAM: InstagramSender(),
    Channel.X: XSender(),
}


def sender_for(channel: str) -> ChannelSender | None:
    """The sender of a channel when it is configured here; None when the channel is published by hand."""
    sender = SENDERS.get(channel)
    return sender if sender is not None and sender.configured() else None
