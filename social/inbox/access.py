"""Who may see and act on which inbox message or takedown. Views call these, never check inline.

Social media administrators work the whole inbox; the CEO reads it. A member of staff
sees only the messages passed to them, and a coordinator only the flagged messages that
name one of their families. Everyone else gets 404 for a message (they learn nothing,
not even that it exists); read-only viewers get 403 on changes.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from consents.selectors import families_managed_by
from social.models import Conversation, Message, SavedReply, Takedown
from staff.access import require
from staff.roles import Role, has_role, is_social_admin

# Who may open the inbox, the takedowns and the dashboard at all (staff_required lets superusers in too).
INBOX_READERS = (Role.SOCIAL_ADMIN, Role.CEO)


def can_read_inbox(user) -> bool:
    """Social media administrators (and superusers) work the whole inbox (staff.roles.is_social_admin):
    assign, pass on, answer, close and remove. The CEO reads it."""
    return is_social_admin(user) or has_role(user, Role.CEO)


def _names_a_family_of(user) -> Exists:
    return Exists(
        Conversation.flagged_families.through.objects.filter(
            conversation_id=OuterRef("pk"), family__in=families_managed_by(user)
        )
    )


def messages_visible_to(user) -> QuerySet[Conversation]:
    """Every message for inbox readers; otherwise those passed to the user, and the flagged ones
    naming a family they coordinate. Filtered in the database."""
    if can_read_inbox(user):
        return Conversation.objects.all()
    visible = Q(passed_to=user)
    if has_role(user, Role.COORDINATOR):
        visible |= Q(urgent=True) & Q(_names_a_family_of(user))
    return Conversation.objects.filter(visible)


def access_message(user, pk: int) -> Conversation:
    """The message with the people on it, if this user may see it; 404 otherwise."""
    message = (
        messages_visible_to(user)
        .select_related("assignee", "passed_to", "responded_by", "closed_by", "added_by", "replying_by")
        .filter(pk=pk)
        .first()
    )
    if message is None:
        raise Http404
    return message


def can_respond(user, message: Conversation) -> bool:
    """Administrators, and the member of staff the message was passed to."""
    return is_social_admin(user) or (message.passed_to_id is not None and message.passed_to_id == user.pk)


def can_open_takedown(user, message: Conversation) -> bool:
    """Administrators, and the coordinators of a family the message names (they hear of it first)."""
    if is_social_admin(user):
        return True
    return bool(
        message.urgent
        and has_role(user, Role.COORDINATOR)
        and message.flagged_families.filter(pk__in=families_managed_by(user).values("pk")).exists()
    )


def access_takedown(user, pk: int) -> Takedown:
    """An open or closed takedown, for the people who remove things; 403 for readers, 404 if unknown."""
    require(is_social_admin(user))
    takedown = Takedown.objects.select_related("message").filter(pk=pk).first()
    if takedown is None:
        raise Http404
    return takedown


def access_item(user, pk: int, message_id: int) -> tuple[Conversation, Message]:
    """A message within a conversation this user may see, with its conversation; 404 otherwise (and for a
    message of another conversation)."""
    conversation = access_message(user, pk)
    item = conversation.messages.select_related("by").filter(pk=message_id).first()
    if item is None:
        raise Http404
    return conversation, item


def can_note(user, message: Conversation) -> bool:
    """Notes for staff: whoever may act on the conversation (answer it, or get it taken down)."""
    return can_respond(user, message) or can_open_takedown(user, message)


def access_saved_reply(user, pk: int) -> SavedReply:
    """A saved reply, for someone who may change them; 403 for readers, 404 if unknown."""
    require(is_social_admin(user))
    saved = SavedReply.objects.filter(pk=pk).first()
    if saved is None:
        raise Http404
    return saved
