"""Publication adapters: how an approved post reaches a platform.

`manual`: an administrator posts it on the platform themselves and records the URL and time.
`facebook`: the Facebook Pages Graph API (text, and photos attached), when FIG_META_PAGE_ID and
FIG_META_PAGE_TOKEN are configured.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from fig_safety.vault import VaultError, vault_read
from social.models import Channel, Post


class PublishError(Exception):
    """Publishing did not happen; nothing is marked as published."""


@dataclass(frozen=True)
class Published:
    url: str
    external_id: str
    published_at: datetime


class Adapter(Protocol):
    name: str
    label: str

    def suits(self, post: Post) -> bool:
        """Whether this adapter publishes where the post is meant to go."""
        ...

    def publish(self, post: Post, *, url: str = "", published_at: datetime | None = None) -> Published: ...


class ManualAdapter:
    name = "manual"
    label = "I published it on the platform myself"

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


class FacebookPageAdapter:
    name = "facebook"
    label = "Publish on the Facebook Page now"

    def suits(self, post: Post) -> bool:
        """Only a post whose author chose the Facebook Page goes there."""
        return Channel.FACEBOOK in post.channels

    def publish(self, post: Post, *, url: str = "", published_at: datetime | None = None) -> Published:
        if not facebook_configured():
            raise PublishError("Publishing to Facebook is not configured.")
        if not self.suits(post):
            raise PublishError(
                "This post is not meant for the Facebook Page, so it was not published there. "
                "Publish it where it is meant to go and record the link."
            )
        media = [self._upload_photo(photo) for photo in post.photos.all()]
        fields = {"message": post.text}
        for index, media_id in enumerate(media):
            fields[f"attached_media[{index}]"] = json.dumps({"media_fbid": media_id})
        answer = _graph_post(f"{settings.FIG_META_PAGE_ID}/feed", fields)
        post_id = str(answer.get("id") or "")
        if not post_id:
            raise PublishError("Facebook did not say it published the post.")
        return Published(url=f"https://www.facebook.com/{post_id}", external_id=post_id, published_at=timezone.now())

    def _upload_photo(self, photo) -> str:
        try:
            data = vault_read(name=photo.original_blob, key_id=photo.original_key_id)
        except VaultError as exc:
            raise PublishError("A photo could not be read from the vault.") from exc
        answer = _graph_post(
            f"{settings.FIG_META_PAGE_ID}/photos",
            {"published": "false"},
            files={"source": ("photo.jpg", data, "image/jpeg")},
        )
        media_id = str(answer.get("id") or "")
        if not media_id:
            raise PublishError("Facebook did not accept a photo.")
        return media_id


def facebook_configured() -> bool:
    return bool(settings.FIG_META_PAGE_ID and settings.FIG_META_PAGE_TOKEN)


def _graph_post(path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None = None) -> dict:
    url = f"{settings.FIG_GRAPH_API_URL.rstrip('/')}/{path}"
    fields = {**fields, "access_token": settings.FIG_META_PAGE_TOKEN}
    if files:
        boundary = "fig" + secrets.token_hex(12)
        parts = []
        for key, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        for key, (filename, content, content_type) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n".encode()
                + content
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        content_type_header = f"multipart/form-data; boundary={boundary}"
    else:
        body = urllib.parse.urlencode(fields).encode()
        content_type_header = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type_header})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=settings.FIG_GRAPH_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise PublishError(
            f"Facebook refused the post ({exc.code}{_graph_error(exc)}). Nothing was published."
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise PublishError("Facebook did not answer in time. Nothing was marked as published; try again.") from exc
    if isinstance(answer, dict) and answer.get("error"):
        raise PublishError(f"Facebook refused the post: {answer['error'].get('message', 'unknown error')}.")
    return answer if isinstance(answer, dict) else {}


def _graph_error(exc: urllib.error.HTTPError) -> str:
    """The Graph API's own explanation from an error answer's body, if it gave one."""
    try:
        message = json.loads(exc.read(4096) or b"{}")["error"]["message"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f": {str(message)[:200]}"


ADAPTERS: dict[str, Adapter] = {"manual": ManualAdapter(), "facebook": FacebookPageAdapter()}


def get_adapter(name: str) -> Adapter:
    adapter = ADAPTERS.get(name)
    if adapter is None or (name == "facebook" and not facebook_configured()):
        raise PublishError("Choose how the post is published.")
    return adapter


def available_adapters(post: Post | None = None) -> list[Adapter]:
    """The adapters configured here; given a post, only those that publish where it is meant to go."""
    configured = [a for name, a in ADAPTERS.items() if name != "facebook" or facebook_configured()]
    return [a for a in configured if post is None or a.suits(post)]
