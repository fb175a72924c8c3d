"""Celery tasks for social media: thin wrappers that take ids and call services or the sweep."""

from __future__ import annotations

from celery import shared_task

from social.services import message_flag
from social.sweeps import inbox_sweep as _inbox_sweep


@shared_task(name="social.tasks.flag_message")
def flag_message(message_id: int) -> bool:
    return message_flag(message_id=message_id).urgent


@shared_task(name="social.tasks.inbox_sweep")
def inbox_sweep() -> dict[str, int]:
    return _inbox_sweep()


@shared_task(name="social.tasks.expire_unapproved_posts")
def expire_unapproved_posts() -> int:
    from social.posts import expire_unapproved

    return expire_unapproved()
