"""Attachments sent to FiG (photos, files, audio, video, stickers): fetched from Meta before its links
expire and kept encrypted in the vault storage, visible only to people who may see the conversation.

A photo someone sends may show a child, so it is kept like one: encrypted, never on a public URL, each view
audited. Meta's link is dropped once the bytes are kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from fig_safety.vault import vault_delete, vault_save
from social import graph
from social.models import Message

# What Meta sends bytes for; shares, locations, templates and story links have nothing to keep.
KEPT_TYPES = {"image", "video", "audio", "file", "sticker", "story_mention", "animated_image"}
# Shown in the page; anything else is offered as a download.
INLINE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}

# A message whose attachments are not kept this long after it was stored lost its fetching task (the broker
# away, a worker killed): the inbox sweep queues it again.
FETCH_LOST_AFTER = timedelta(minutes=5)
# Meta's links expire: attachments not kept within a day are given up on, so a fetch that keeps failing is
# not tried for ever.
FETCH_GIVEN_UP_AFTER = timedelta(days=1)
NOT_FETCHED = "FiG Safety could not fetch it from Meta within a day, and Meta's link may have expired."


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


def resume_fetches(now: datetime) -> int:
    """Messages from people whose attachments are still not kept FETCH_LOST_AFTER after they were stored have
    their fetch queued again, at each sweep until they are kept; after FETCH_GIVEN_UP_AFTER they are given up
    on, each attachment saying why. Part of the inbox sweep. A fetch that ran and failed is not tried again:
    it marked the message fetched, with the error on the attachment."""
    from social.tasks import fetch_attachments

    waiting = Message.objects.filter(from_fig=False, attachments_fetched_at__isnull=True).exclude(attachments=[])
    lost = list(
        waiting.filter(stored_at__lte=now - FETCH_LOST_AFTER, stored_at__gt=now - FETCH_GIVEN_UP_AFTER)
        .order_by("stored_at", "id")
        .values_list("pk", flat=True)
    )
    # Not claimed and stamped (Message has no column for it): two sweeps at once may queue a fetch twice, and
    # the second keeps no copy (attachments_fetch).
    for message_id in lost:
        queue_after_commit(fetch_attachments, message_id)
    expired = waiting.filter(stored_at__lte=now - FETCH_GIVEN_UP_AFTER).order_by("stored_at", "id")
    return len(lost) + claim_and_stamp(expired, stamp="attachments_fetched_at", now=now, handle=_give_up)


def _give_up(messages: list[Message]) -> None:
    """Each attachment there was something to fetch for says it was not kept; Meta's links are dropped."""
    for message in messages:
        message.attachments = [_not_fetched(attachment) for attachment in message.attachments]
    Message.objects.bulk_update(messages, ["attachments"])


def _not_fetched(attachment: dict) -> dict:
    attachment = dict(attachment)
    url = attachment.pop("url", "")
    if url and attachment.get("type") in KEPT_TYPES and not attachment.get("blob"):
        attachment["error"] = NOT_FETCHED
    return attachment
