"""Celery tasks for social media: thin wrappers that take ids and call services or the sweeps."""

from __future__ import annotations

from celery import shared_task

from social.inbox.attachments import attachments_fetch
from social.inbox.ingest import delivery_ingest
from social.inbox.replies import reply_send
from social.inbox.services import message_flag, takedown_remove_send
from social.inbox.sweeps import inbox_sweep as _inbox_sweep
from social.models import Message
from social.posts.channels import delivery_delete, delivery_send
from social.posts.services import posts_sweep as _posts_sweep


@shared_task(name="social.tasks.flag_message")
def flag_message(message_id: int) -> bool:
    return message_flag(message_id=message_id).urgent


@shared_task(name="social.tasks.flag_messages")
def flag_messages(message_ids: list[int]) -> int:
    """Check a chunk of a large webhook delivery for names, message by message (services.message_flag);
    returns how many were urgent. One gone meanwhile is passed over; one left unchecked by a failure is
    checked by the sweep (sweeps.flag_lost)."""
    urgent = 0
    for message_id in message_ids:
        try:
            urgent += message_flag(message_id=message_id).urgent
        except Message.DoesNotExist:
            continue
    return urgent


@shared_task(name="social.tasks.send_reply")
def send_reply(message_id: int) -> str:
    """Send a reply written in FiG Safety through the Graph API, once (replies.reply_send)."""
    reply = reply_send(message_id=message_id)
    return reply.sending if reply else "gone"


@shared_task(name="social.tasks.fetch_attachments")
def fetch_attachments(message_id: int) -> int:
    """Keep a message's attachments in the vault before Meta's links expire (attachments.attachments_fetch)."""
    return attachments_fetch(message_id=message_id)


@shared_task(name="social.tasks.ingest_delivery")
def ingest_delivery(delivery_id: int) -> int:
    """Ingest a large webhook delivery stored as it came (ingest.delivery_ingest)."""
    return delivery_ingest(delivery_id=delivery_id)


@shared_task(name="social.tasks.inbox_sweep")
def inbox_sweep() -> dict[str, int]:
    return _inbox_sweep()


@shared_task(name="social.tasks.posts_sweep")
def posts_sweep() -> dict[str, int]:
    return _posts_sweep()


@shared_task(name="social.tasks.send_post_channel")
def send_post_channel(delivery_id: int) -> str:
    """Send one channel of a post to its platform, once (channels.delivery_send)."""
    delivery = delivery_send(delivery_id=delivery_id)
    return delivery.state if delivery else "gone"


@shared_task(name="social.tasks.delete_post_channel")
def delete_post_channel(delivery_id: int) -> str:
    """Delete one channel's post through its platform's API, once (channels.delivery_delete)."""
    delivery = delivery_delete(delivery_id=delivery_id)
    return delivery.state if delivery else "gone"


@shared_task(name="social.tasks.remove_through_graph")
def remove_through_graph(takedown_id: int) -> str:
    """Hide or delete a takedown's comment through the Graph API, once (services.takedown_remove_send)."""
    takedown = takedown_remove_send(takedown_id=takedown_id)
    return takedown.status if takedown else "gone"
