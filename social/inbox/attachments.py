"""Attachments sent to FiG (photos, files, audio, video, stickers): fetched from Meta before its links
expire and kept encrypted in the vault storage, visible only to people who may see the conversation.

A photo someone sends may show a child, so it is kept like one: encrypted, never on a public URL, each view
audited. Meta's link is dropped once the bytes are kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fig_safety.vault import vault_delete, vault_save
from social import graph
from social.models import Message

# What Meta sends bytes for; shares, locations, templates and story links have nothing to keep.
KEPT_TYPES = {"image", "video", "audio", "file", "sticker", "story_mention", "animated_image"}
# Shown in the page; anything else is offered as a download.
INLINE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def attachments_fetch(*, message_id: int) -> int:
    """Fetch and keep a message's attachments once; returns how many were kept. No row is locked during the
    calls; a second run (a redelivered task) that finds them kept throws its own copies away."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None or message.attachments_fetched_at is not None:
        return 0
    fetched, saved = [], []
    for attachment in message.attachments:
        attachment = dict(attachment)
        url = attachment.pop("url", "")
        if url and attachment.get("type") in KEPT_TYPES:
            try:
                data, content_type = graph.fetch_attachment(url, max_bytes=settings.FIG_INBOX_ATTACHMENT_MAX_BYTES)
            except graph.GraphError as exc:
                attachment["error"] = exc.describe("Meta")
            else:
                blob = vault_save(data, folder="inbox")
                saved.append(blob.name)
                attachment.update(blob=blob.name, key_id=blob.key_id, size=blob.size, content_type=content_type)
        fetched.append(attachment)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message_id)
        if locked.attachments_fetched_at is not None:
            transaction.on_commit(lambda: [vault_delete(name=name) for name in saved])
            return 0
        locked.attachments, locked.attachments_fetched_at = fetched, timezone.now()
        locked.save(update_fields=["attachments", "attachments_fetched_at"])
    return len(saved)
