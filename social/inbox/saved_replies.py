"""Saved replies: the answers the social media administrators approved, to insert into a reply and adapt.
Adding, changing and retiring one are each audited (who may read and change them: social/inbox/access.py).

A saved reply is retired rather than deleted, so the audit trail keeps naming something that exists.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from social.models import SavedReply
from staff.models import User
from staff.roles import is_social_admin
from staff.services import audit_record

# Meta takes replies of up to 2,000 characters (social.inbox.replies.reply_queue), so a saved one is shorter.
MAX_TEXT = 2000
PLACEHOLDERS = {"first_name"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class SavedReplyError(Exception):
    """The change cannot go ahead; the message is for the person making it."""


def active_saved_replies() -> QuerySet[SavedReply]:
    """The saved replies offered in the reply form, A to Z."""
    return SavedReply.objects.filter(is_active=True).order_by("title", "id")


def saved_replies_listed() -> tuple[list[SavedReply], list[SavedReply]]:
    """(in use, retired), each A to Z, with who added them. One query."""
    rows = list(SavedReply.objects.select_related("created_by").order_by("title", "id"))
    return [r for r in rows if r.is_active], [r for r in rows if not r.is_active]


def _clean(title: str, text: str) -> tuple[str, str]:
    """The title and text as they will be stored, or SavedReplyError saying what is wrong."""
    title = " ".join(title.split())
    text = text.strip()
    if not title:
        raise SavedReplyError("Give the saved reply a title.")
    if len(title) > SavedReply._meta.get_field("title").max_length:
        raise SavedReplyError("Keep the title under 100 characters.")
    if not text:
        raise SavedReplyError("Write the reply.")
    if len(text) > MAX_TEXT:
        raise SavedReplyError("Meta takes replies of up to 2,000 characters: make it shorter.")
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        named = ", ".join("{" + name + "}" for name in unknown)
        raise SavedReplyError(f"Only {{first_name}} is filled in for you: take out {named}.")
    return title, text


def _refuse_if_not_admin(by: User) -> None:
    if not is_social_admin(by):
        raise SavedReplyError("Only a social media administrator can change the saved replies.")


def _taken(title: str) -> SavedReplyError:
    return SavedReplyError(f"There is already a saved reply called “{title}”. Choose another title.")


def saved_reply_add(*, title: str, text: str, by: User, request: HttpRequest | None = None) -> SavedReply:
    _refuse_if_not_admin(by)
    title, text = _clean(title, text)
    with transaction.atomic():
        if SavedReply.objects.filter(is_active=True, title__iexact=title).exists():
            raise _taken(title)
        try:
            with transaction.atomic():  # a savepoint: a double submit that got past the check lands here
                saved = SavedReply.objects.create(title=title, text=text, created_by=by)
        except IntegrityError:
            raise _taken(title) from None
        audit_record(
            action="saved_reply.added", actor=by, target=saved, request=request, details={"title": title, "text": text}
        )
    return saved


def saved_reply_change(
    *, saved: SavedReply, title: str, text: str, by: User, request: HttpRequest | None = None
) -> SavedReply:
    """Change a saved reply in use. The audit event keeps the words before and after."""
    _refuse_if_not_admin(by)
    title, text = _clean(title, text)
    with transaction.atomic():
        locked = SavedReply.objects.select_for_update().get(pk=saved.pk)
        if not locked.is_active:
            raise SavedReplyError("This saved reply is retired. Add a new one instead.")
        if (locked.title, locked.text) == (title, text):
            return locked
        if SavedReply.objects.filter(is_active=True, title__iexact=title).exclude(pk=locked.pk).exists():
            raise _taken(title)
        details = {"title": title, "text": text, "title_before": locked.title, "text_before": locked.text}
        locked.title, locked.text, locked.updated_at = title, text, timezone.now()
        try:
            with transaction.atomic():
                locked.save(update_fields=["title", "text", "updated_at"])
        except IntegrityError:
            raise _taken(title) from None
        audit_record(action="saved_reply.changed", actor=by, target=locked, request=request, details=details)
    return locked


def saved_reply_retire(*, saved: SavedReply, by: User, request: HttpRequest | None = None) -> SavedReply:
    """Stop offering a saved reply. Doing it twice changes nothing more."""
    _refuse_if_not_admin(by)
    with transaction.atomic():
        locked = SavedReply.objects.select_for_update().get(pk=saved.pk)
        if not locked.is_active:
            return locked
        locked.is_active, locked.updated_at = False, timezone.now()
        locked.save(update_fields=["is_active", "updated_at"])
        audit_record(
            action="saved_reply.retired", actor=by, target=locked, request=request, details={"title": locked.title}
        )
    return locked
