"""Writes for the inbox: ingest, assign, pass on, respond, close, and takedowns.

State changes take a row lock, check the current state, record who/when/why and
write an audit event in the same transaction; notifications go after commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from consents.models import Family
from consents.names import find_register_names
from consents.selectors import families_without_online_consent, who_to_tell
from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from social import graph
from social.inbox.meta import Event
from social.models import Conversation, ConversationNote, Message, PassOn, Platform, Post, Takedown, policy_due_at
from staff.models import User
from staff.notifications import notify
from staff.roles import Role
from staff.selectors import emails_of
from staff.services import audit_record

# A Graph API removal whose task has not started within this long is queued again (the broker lost it);
# one whose call began this long ago without an answer is taken to have stopped part of the way.
REQUEUE_AFTER = timedelta(minutes=2)
CALL_GIVEN_UP_AFTER = timedelta(minutes=5)


class InboxError(Exception):
    """The action cannot go ahead; the message is for the person doing it."""


def _link(message: Conversation) -> str:
    return settings.FIG_SITE_URL + reverse("social:message", args=[message.pk])


# --- what comes in ------------------------------------------------------------------------------

# Which conversation an event belongs to: the person's private messages (with their button presses and
# story replies) on one platform; their comments on one post; each post on the Page, mention and review.
_PRIVATE = {"message", "postback", "story_reply", "story_mention"}
_KIND_OF = {
    "comment": Conversation.Kind.COMMENT,
    "visitor_post": Conversation.Kind.VISITOR_POST,
    "mention": Conversation.Kind.MENTION,
    "review": Conversation.Kind.REVIEW,
}


def thread_of(event: Event) -> tuple[str, str]:
    """(thread key, conversation kind) of an event. Keys are made of ids only, never of names."""
    if event.kind in _PRIVATE:
        return f"dm:{event.person_id}", Conversation.Kind.MESSAGE
    if event.kind == "comment":
        parent = event.parent_id or f"comment-{event.platform_id}"
        return f"comments:{parent}:{event.person_id}", Conversation.Kind.COMMENT
    return f"{event.kind}:{event.platform_id}", _KIND_OF.get(event.kind, Conversation.Kind.MESSAGE)


def event_ingest(event: Event) -> Message | None:
    """Store one webhook event once, whatever the number of redeliveries: a new message (or FiG's own reply,
    seen as an echo) joins its conversation; an edit, removal or hiding changes the message it is about.
    Returns the message stored or changed; None when there was nothing to do."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _add(event) if event.action == "add" else _change(event)
        except IntegrityError:
            # Either a redelivery racing the first delivery (the first one stored the message), or another
            # message of a new conversation racing this one to create it: then try again, and it joins.
            stored = Message.objects.filter(platform=event.platform, platform_id=event.platform_id).first()
            if stored is not None or attempt == 2:
                return None
    return None


def _conversation_for(event: Event) -> Conversation:
    """The event's conversation, created if new, locked. Precondition: inside a transaction."""
    thread, kind = thread_of(event)
    conversation = Conversation.objects.select_for_update().filter(platform=event.platform, thread=thread).first()
    if conversation is not None:
        if not event.from_fig and event.person_name and not conversation.sender_name:
            conversation.sender_name = event.person_name[:200]
            conversation.save(update_fields=["sender_name"])
        return conversation
    return Conversation.objects.create(
        platform=event.platform,
        kind=kind,
        thread=thread,
        sender_id=event.person_id[:200],
        sender_name="" if event.from_fig else event.person_name[:200],
        text="" if event.from_fig else event.text,
        permalink=event.permalink[:500],
        received_at=event.at,
        due_at=policy_due_at(event.at),
        # A conversation that begins with FiG's own words (a post FiG commented on first) waits for nobody.
        status=Conversation.Status.ANSWERED if event.from_fig else Conversation.Status.OPEN,
        responded_at=event.at if event.from_fig else None,
    )


def _answered_in_public(event: Event) -> Conversation | None:
    """The conversation a comment FiG made from Meta's own tools answers: the one holding the comment or post
    it replies to (Meta does not say whose comment it was, only which). Locked; None when FiG was not
    answering anyone here (a comment on its own post, its own post)."""
    if not event.reply_to and not event.parent_id:
        return None
    answered = (
        Message.objects.filter(
            platform=event.platform, from_fig=False, platform_id__in={event.reply_to, event.parent_id} - {""}
        )
        .order_by("-at")
        .values_list("conversation_id", flat=True)
        .first()
    )
    return Conversation.objects.select_for_update().filter(pk=answered).first() if answered else None


def _add(event: Event) -> Message | None:
    existing = Message.objects.filter(platform=event.platform, platform_id=event.platform_id).first()
    if existing is not None:
        return None  # a redelivery, or the echo of a reply sent from here
    if event.from_fig and event.kind not in _PRIVATE:
        conversation = _answered_in_public(event)
        if conversation is None:
            return None  # FiG's own post, or a comment that answers nobody in the inbox
    else:
        conversation = _conversation_for(event)
    message = Message.objects.create(
        conversation=conversation,
        platform=event.platform,
        platform_id=event.platform_id,
        event=Message.Event.ECHO if event.from_fig else event.kind,
        from_fig=event.from_fig,
        text=event.text,
        at=event.at,
        parent_id=event.parent_id[:200],
        reply_to=event.reply_to[:200],
        permalink=event.permalink[:500],
        story_link=event.story_link[:500],
        rating=event.rating,
        attachments=[{"type": a.type, "title": a.title, "url": a.url} for a in event.attachments],
        flagged_at=timezone.now() if event.from_fig else None,  # FiG's own words are not checked for names
    )
    if event.from_fig:
        conversation_answered(conversation, at=event.at, by=None)
        audit_record(action="inbox.echo", target=conversation, details={"message": message.pk})
    else:
        conversation_received(conversation, message)
        _queue_flagging(message)
        if message.attachments:
            _queue_attachments(message)
    return message


def _change(event: Event) -> Message | None:
    """An edit, removal, hiding or unhiding of a message already stored (or, for an edit of one never seen,
    the message as it now is)."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(platform=event.platform, platform_id=event.platform_id)
        .first()
    )
    if message is None:
        return _add(dataclasses.replace(event, action="add")) if event.action == "edit" else None
    now = timezone.now()
    if event.action == "edit":
        if event.text == message.text:
            return None
        message.earlier_texts = [*message.earlier_texts, {"text": message.text, "until": event.at.isoformat()}]
        message.text, message.edited_at = event.text, event.at
        message.flagged_at = None  # checked for names again
        message.save(update_fields=["earlier_texts", "text", "edited_at", "flagged_at"])
        Conversation.objects.filter(pk=message.conversation_id, text=message.earlier_texts[-1]["text"]).update(
            text=event.text
        )
        audit_record(action="inbox.edited", target=message.conversation, details={"message": message.pk})
        if not message.from_fig:
            _queue_flagging(message)
        return message
    if event.action == "unhide":
        if message.removed_how != Message.Removed.HIDDEN:
            return None
        message.removed_at, message.removed_how = None, ""
        message.save(update_fields=["removed_at", "removed_how"])
        audit_record(action="inbox.unhidden", target=message.conversation, details={"message": message.pk})
        return message
    how = {"remove": Message.Removed.REMOVED, "hide": Message.Removed.HIDDEN}[event.action]
    if message.is_private:
        how = Message.Removed.UNSENT if event.action == "remove" else how
    if message.removed_how == how:
        return None
    message.removed_at, message.removed_how = event.at or now, how
    message.save(update_fields=["removed_at", "removed_how"])
    audit_record(action="inbox.removed", target=message.conversation, details={"message": message.pk, "how": how})
    for takedown in Takedown.objects.select_for_update().filter(item=message, status=Takedown.Status.OPEN):
        takedown.status, takedown.how = Takedown.Status.REMOVED, Takedown.How.ON_PLATFORM
        takedown.removed_at, takedown.removal_requested_how = now, ""
        takedown.notes = (takedown.notes + "\n" if takedown.notes else "") + f"Meta reported it {how}."
        takedown.save(update_fields=["status", "how", "removed_at", "removal_requested_how", "notes"])
        audit_record(action="takedown.removed", target=takedown, details={"how": Takedown.How.ON_PLATFORM})
    return message


def conversation_received(conversation: Conversation, message: Message) -> None:
    """A message from the person (clock_received's rules), saved and audited. Precondition: the conversation
    is locked."""
    fields, reopened = clock_received(conversation, message)
    if reopened:
        audit_record(action="inbox.reopened", target=conversation, details={"message": message.pk})
    conversation.save(update_fields=fields)


def clock_received(conversation: Conversation, message: Message) -> tuple[list[str], bool]:
    """A message from the person, on the conversation in memory: the clock starts if nothing was waiting, or
    goes back to this message if it is older than the oldest waiting (a late delivery). One sent before FiG's
    last reply was answered by it. Returns the fields changed, and whether the conversation opened again.
    The one place these rules live: the bulk path (social.inbox.ingest) applies them too."""
    fields = ["text"]
    if message.at >= conversation.received_at or conversation.status != Conversation.Status.OPEN:
        conversation.text = message.text
    if conversation.status == Conversation.Status.OPEN:
        answered_before = conversation.responded_at is not None and message.at <= conversation.responded_at
        if message.at < conversation.received_at and not answered_before:
            conversation.received_at, conversation.due_at = message.at, policy_due_at(message.at)
            fields += ["received_at", "due_at"]
        return fields, False
    if conversation.done_at is not None and message.at <= conversation.done_at:
        return fields, False
    conversation.status = Conversation.Status.OPEN
    conversation.received_at, conversation.due_at = message.at, policy_due_at(message.at)
    conversation.reminder_sent_at = conversation.escalated_at = None
    conversation.closed_at, conversation.closed_by, conversation.closed_reason = None, None, ""
    fields += ["status", "received_at", "due_at", "reminder_sent_at", "escalated_at"]
    return [*fields, "closed_at", "closed_by", "closed_reason"], True


def conversation_answered(conversation: Conversation, *, at: datetime, by: User | None) -> None:
    """A reply from FiG at `at` (clock_answered's rules), saved and audited. Precondition: the conversation
    is locked."""

    def later() -> datetime | None:
        waiting = conversation.messages.filter(from_fig=False, at__gt=at).order_by("at", "id")
        return waiting.values_list("at", flat=True).first()

    fields, answered = clock_answered(conversation, at=at, by=by, later=later)
    if fields:
        conversation.save(update_fields=fields)
    if answered:
        audit_record(
            action="inbox.answered", actor=by, target=conversation, details={"on_time": at <= conversation.due_at}
        )


def clock_answered(
    conversation: Conversation, *, at: datetime, by: User | None, later: Callable[[], datetime | None]
) -> tuple[list[str], bool]:
    """A reply from FiG at `at`, on the conversation in memory: it answers every message before it, so the
    conversation is answered, or its clock moves to the oldest message after the reply (`later()` gives its
    time, asked only when needed). Returns the fields changed, and whether the conversation is now answered.
    The one place these rules live: the bulk path (social.inbox.ingest) applies them too."""
    if conversation.status != Conversation.Status.OPEN:
        if conversation.status == Conversation.Status.ANSWERED and (
            conversation.responded_at is None or at > conversation.responded_at
        ):
            conversation.responded_at, conversation.responded_by = at, by
            return ["responded_at", "responded_by"], False
        return [], False
    if at < conversation.received_at:
        return [], False  # older than anything waiting: a late echo of an earlier reply
    next_waiting = later()
    conversation.responded_at, conversation.responded_by = at, by
    if next_waiting is None:
        conversation.status = Conversation.Status.ANSWERED
        return ["status", "responded_at", "responded_by"], True
    conversation.received_at, conversation.due_at = next_waiting, policy_due_at(next_waiting)
    conversation.reminder_sent_at = conversation.escalated_at = None
    return ["responded_at", "responded_by", "received_at", "due_at", "reminder_sent_at", "escalated_at"], False


def _queue_flagging(message: Message) -> None:
    from social.tasks import flag_message

    queue_after_commit(flag_message, message.pk)


def _queue_attachments(message: Message) -> None:
    from social.tasks import fetch_attachments

    queue_after_commit(fetch_attachments, message.pk)


def message_add_manual(
    *,
    platform: str,
    kind: str,
    sender_name: str,
    text: str,
    received_at: datetime,
    by: User,
    request: HttpRequest | None = None,
) -> Conversation:
    if received_at > timezone.now() + timedelta(minutes=5):
        raise InboxError("The time received cannot be in the future.")
    with transaction.atomic():
        conversation = Conversation.objects.create(
            platform=platform,
            kind=kind,
            sender_name=sender_name,
            text=text,
            received_at=received_at,
            due_at=policy_due_at(received_at),
            added_by=by,
        )
        message = Message.objects.create(
            conversation=conversation,
            platform=platform,
            event=Message.Event.COMMENT if kind == Conversation.Kind.COMMENT else Message.Event.MESSAGE,
            text=text,
            at=received_at,
        )
        audit_record(
            action="inbox.added", actor=by, target=conversation, request=request, details={"platform": platform}
        )
        _queue_flagging(message)
    return conversation


def message_flag(*, message_id: int) -> Message:
    """Check one message for names in the consent register (again after an edit). A match flags it and its
    conversation urgent and tells the families' coordinators and the social media administrators (and the
    CEO when a family has no coordinator); a public comment or post naming a family that did not agree to
    online use is hidden on the platform at once, where the Graph API allows, under a takedown of its own."""
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
        if message.flagged_at is not None:
            return message
        conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
        matches = find_register_names(message.text)
        names = sorted({m.name for m in matches})
        message.flagged_at, message.flagged_names = timezone.now(), names
        message.urgent = message.urgent or bool(matches)
        message.save(update_fields=["flagged_at", "urgent", "flagged_names"])
        if not matches:
            return message
        new_names = sorted(set(names) - set(conversation.flagged_names))
        conversation.urgent = True
        conversation.flagged_names = sorted({*conversation.flagged_names, *names})
        conversation.flagged_at = conversation.flagged_at or message.flagged_at
        conversation.save(update_fields=["urgent", "flagged_names", "flagged_at"])
        families = list(Family.objects.filter(pk__in={m.family_id for m in matches}).order_by("reference"))
        known = set(conversation.flagged_families.values_list("pk", flat=True))
        conversation.flagged_families.add(*families)
        audit_record(
            action="inbox.flagged",
            target=conversation,
            details={"families": [f.reference for f in families], "names": len(names), "message": message.pk},
        )
        unagreed = families_without_online_consent(families)
        takedown = _hide_at_once(message, unagreed) if unagreed else None
        if new_names or any(f.pk not in known for f in families):
            _tell_about_flag(conversation, message, families, takedown)
    return message


def _tell_about_flag(
    conversation: Conversation, message: Message, families: list[Family], takedown: Takedown | None
) -> None:
    """Each family's coordinators (the CEO when it has none), and the social media administrators."""
    admins = emails_of(Role.SOCIAL_ADMIN)
    context = {"message": conversation, "item": message, "takedown": takedown, "link": _link(conversation)}
    for family in families:
        tell = who_to_tell(family)
        notify(
            to=sorted({*tell.emails, *admins}),
            subject=f"Urgent: a {conversation.get_kind_display().lower()} may identify family {family.reference}",
            template="social/inbox/email/flagged.txt",
            context={**context, "family": family, "no_coordinator": not tell.coordinated},
            separately=True,
        )


PUBLIC_EVENTS = {Message.Event.COMMENT, Message.Event.VISITOR_POST, Message.Event.MENTION, Message.Event.REVIEW}


def _hide_at_once(message: Message, families: list[Family]) -> Takedown | None:
    """A public item naming a family that did not agree to online use: a takedown on its own clock, and the
    item hidden through the Graph API after commit where that can be done (hiding can be undone).
    Precondition: inside the flagging transaction."""
    if message.event not in PUBLIC_EVENTS or message.removed_at is not None:
        return None
    if message.takedowns.filter(status=Takedown.Status.OPEN).exists():
        return None
    references = ", ".join(f.reference for f in families)
    takedown = Takedown.objects.create(
        message=message.conversation,
        item=message,
        reason=f"It names family {references}, who did not agree to photos or details online.",
        due_at=timezone.now() + timedelta(hours=settings.FIG_TAKEDOWN_HOURS),
    )
    audit_record(action="takedown.opened", target=takedown, details={"message": message.conversation_id, "auto": True})
    if graph_removal_possible(takedown):
        takedown.removal_requested_how, takedown.removal_requested_at = Takedown.How.HIDDEN, timezone.now()
        takedown.save(update_fields=["removal_requested_how", "removal_requested_at"])
        audit_record(action="takedown.removal_requested", target=takedown, details={"how": Takedown.How.HIDDEN})
        _queue_removal(takedown.pk)
    return takedown


def _locked_open(message: Conversation) -> Conversation:
    locked = Conversation.objects.select_for_update().get(pk=message.pk)
    if locked.status != Conversation.Status.OPEN:
        raise InboxError("This message is already done.")
    return locked


def message_assign(
    *, message: Conversation, assignee: User | None, by: User, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        locked = _locked_open(message)
        before = locked.assignee_id
        locked.assignee = assignee
        locked.save(update_fields=["assignee"])
        audit_record(
            action="inbox.assigned",
            actor=by,
            target=locked,
            request=request,
            details={"from": before, "to": assignee.pk if assignee else None},
        )
        if assignee and assignee != by:
            notify(
                to=[assignee.email],
                subject="A social media message is yours to answer",
                template="social/inbox/email/assigned.txt",
                context={"message": locked, "link": _link(locked)},
            )


def message_pass_on(
    *, message: Conversation, to: User, note: str, by: User, request: HttpRequest | None = None
) -> None:
    """Hand a conversation to a member of staff who can answer it. The policy deadline still applies. Every
    hand-off is kept with its note; the conversation shows the latest."""
    if not note.strip():
        raise InboxError("Add a note saying what you need from them.")
    with transaction.atomic():
        locked = _locked_open(message)
        passed = PassOn.objects.create(conversation=locked, to=to, note=note.strip(), by=by)
        locked.passed_to, locked.passed_note, locked.passed_at = to, passed.note, passed.at
        locked.save(update_fields=["passed_to", "passed_note", "passed_at"])
        audit_record(action="inbox.passed_on", actor=by, target=locked, request=request, details={"to": to.email})
        notify(
            to=[to.email],
            subject="A social media conversation has been passed to you",
            template="social/inbox/email/passed_on.txt",
            context={"message": locked, "note": locked.passed_note, "by": by, "link": _link(locked)},
        )


def message_respond(
    *, message: Conversation, text: str, link: str, by: User, request: HttpRequest | None = None
) -> Message:
    """Record a reply FiG made somewhere else (by phone, email, or on the platform when it could not be
    sent from here). It answers every message received before now."""
    if not text.strip():
        raise InboxError("Write what FiG replied.")
    with transaction.atomic():
        locked = _locked_open(message)
        reply = Message.objects.create(
            conversation=locked,
            platform=locked.platform,
            event=Message.Event.RECORDED,
            from_fig=True,
            text=text.strip(),
            link=link.strip(),
            at=timezone.now(),
            by=by,
            flagged_at=timezone.now(),
        )
        locked.response_text, locked.response_link = reply.text, reply.link
        locked.save(update_fields=["response_text", "response_link"])
        conversation_answered(locked, at=reply.at, by=by)
    return reply


def note_add(
    *, conversation: Conversation, text: str, by: User, request: HttpRequest | None = None
) -> ConversationNote:
    """A note for staff on the conversation; never sent."""
    if not text.strip():
        raise InboxError("Write the note.")
    with transaction.atomic():
        note = ConversationNote.objects.create(conversation=conversation, text=text.strip()[:5000], by=by)
        audit_record(action="inbox.noted", actor=by, target=conversation, request=request, details={"note": note.pk})
    return note


# Someone who opened the reply box this recently is taken to be writing a reply still.
REPLYING_FOR = timedelta(minutes=5)


def replying_start(*, conversation: Conversation, by: User) -> None:
    """Mark that `by` is writing a reply now, so that a second person opening the page is warned."""
    Conversation.objects.filter(pk=conversation.pk).update(replying_by=by, replying_at=timezone.now())


def someone_else_replying(conversation: Conversation, user: User, now: datetime) -> User | None:
    """Who else started replying within REPLYING_FOR, if anyone (the conversation read with replying_by)."""
    if (
        conversation.replying_by_id
        and conversation.replying_by_id != user.pk
        and conversation.replying_at
        and conversation.replying_at > now - REPLYING_FOR
    ):
        return conversation.replying_by
    return None


def message_close(*, message: Conversation, reason: str, by: User, request: HttpRequest | None = None) -> None:
    if not reason.strip():
        raise InboxError("Say why this message needs no reply.")
    with transaction.atomic():
        locked = _locked_open(message)
        locked.status, locked.closed_reason = Conversation.Status.CLOSED, reason.strip()
        locked.closed_by, locked.closed_at = by, timezone.now()
        locked.save(update_fields=["status", "closed_reason", "closed_by", "closed_at"])
        audit_record(
            action="inbox.closed", actor=by, target=locked, request=request, details={"reason": reason.strip()}
        )


# --- takedowns ----------------------------------------------------------------------------


def takedown_open(
    *,
    reason: str,
    by: User | None,
    message: Conversation | None = None,
    post: Post | None = None,
    requested_by: User | None = None,
    request: HttpRequest | None = None,
) -> tuple[Takedown, bool]:
    """Open a takedown, on its own clock, for a message (a comment to remove) or a published post; returns it
    and whether it is new. One open takedown per thing, under that thing's row lock so that two people
    clicking at once make one: a second for a message is refused; a second for a post is the open one,
    which `requested_by` (a parent asking about a post already coming down) joins if nobody had asked."""
    if not reason.strip():
        raise InboxError("Say why it must come down.")
    with transaction.atomic():
        if message is not None:
            Conversation.objects.select_for_update().filter(pk=message.pk).exists()
            if message.takedowns.filter(status=Takedown.Status.OPEN).exists():
                raise InboxError("A takedown is already open for this message.")
        if post is not None:
            Post.objects.select_for_update().filter(pk=post.pk).exists()
            existing = post.takedowns.filter(status=Takedown.Status.OPEN).first()
            if existing is not None:
                if requested_by is not None and existing.requested_by_id is None:
                    existing.requested_by = requested_by
                    existing.save(update_fields=["requested_by"])
                    audit_record(action="takedown.requested", actor=requested_by, target=existing, request=request)
                return existing, False
            if (
                post.status == Post.Status.TAKEN_DOWN
                or not post.deliveries.filter(state__in=["sent", "recorded"]).exists()
            ):
                # Already down everywhere (or never out): a later withdrawal or request reopens nothing.
                done = post.takedowns.order_by("-opened_at", "-id").first()
                if done is not None:
                    return done, False
        takedown = Takedown.objects.create(
            message=message,
            item=_public_item(message) if message is not None else None,
            post=post,
            requested_by=requested_by,
            reason=reason.strip(),
            opened_by=by,
            due_at=timezone.now() + timedelta(hours=settings.FIG_TAKEDOWN_HOURS),
        )
        audit_record(
            action="takedown.opened",
            actor=by,
            target=takedown,
            request=request,
            details={"message": message.pk if message else None, "post": post.pk if post else None},
        )
    return takedown, True


def _public_item(conversation: Conversation) -> Message | None:
    """What a takedown of a conversation is about: the person's latest public item still up in it."""
    return (
        conversation.messages.filter(from_fig=False, event__in=PUBLIC_EVENTS, removed_at__isnull=True)
        .order_by("-at", "-id")
        .first()
    )


GRAPH_REMOVALS = {Takedown.How.HIDDEN, Takedown.How.DELETED}
UNCERTAIN_REMOVAL = (
    "The Graph API call stopped part of the way through, so FiG Safety cannot tell whether the comment was "
    "removed. Check it on the platform, then record how it was removed or try again."
)


def graph_removal_possible(takedown: Takedown) -> bool:
    """Hide and delete go through the Graph API only for a Facebook or Instagram comment Meta gave an id for."""
    item = takedown.item
    return bool(
        graph.graph_configured()
        and item is not None
        and item.event == Message.Event.COMMENT
        and item.platform in {Platform.FACEBOOK, Platform.INSTAGRAM}
        and item.platform_id
    )


def takedown_record_removal(
    *, takedown: Takedown, how: str, notes: str, by: User, request: HttpRequest | None = None
) -> Takedown:
    """Record that the content is gone (removed by hand), or ask for it to be hidden or deleted through the
    Graph API: that request is committed here and the call made after commit by takedown_remove_send, with no
    row locked; the takedown is marked removed when Meta says it is done."""
    if how in GRAPH_REMOVALS and not graph_removal_possible(takedown):
        raise InboxError(
            "Hiding or deleting through the Graph API needs a Facebook or Instagram comment and a configured page token."
        )
    if how not in {*GRAPH_REMOVALS, Takedown.How.BY_HAND}:
        raise InboxError("Choose how it was removed.")
    with transaction.atomic():
        # of=self: PostgreSQL refuses FOR UPDATE on the nullable side of the LEFT JOIN to the message.
        locked = Takedown.objects.select_for_update(of=("self",)).select_related("item").get(pk=takedown.pk)
        if locked.status != Takedown.Status.OPEN:
            raise InboxError("This takedown is already closed.")
        if locked.removal_requested_how:
            raise InboxError("It is being removed through the Graph API already; this page will show when it is done.")
        locked.notes = notes.strip()
        if how == Takedown.How.BY_HAND:
            _record_removed(locked, how=how, by=by, request=request)
            return locked
        locked.removal_requested_how, locked.removal_requested_by = how, by
        locked.removal_requested_at, locked.removal_started_at, locked.removal_error = timezone.now(), None, ""
        locked.save(
            update_fields=[
                "notes",
                "removal_requested_how",
                "removal_requested_by",
                "removal_requested_at",
                "removal_started_at",
                "removal_error",
            ]
        )
        audit_record(
            action="takedown.removal_requested", actor=by, target=locked, request=request, details={"how": how}
        )
        _queue_removal(locked.pk)
    return locked


def _queue_removal(takedown_id: int) -> None:
    from social.tasks import remove_through_graph

    queue_after_commit(remove_through_graph, takedown_id)


def takedown_remove_send(*, takedown_id: int) -> Takedown | None:
    """Hide or delete a takedown's comment through the Graph API (the removal task). Call with no transaction
    open. Idempotent: a takedown that is closed or no longer waiting is left alone, and one whose call began
    before and never answered is not called again but handed back to the administrators to check."""
    with transaction.atomic():
        locked = Takedown.objects.select_for_update(of=("self",)).select_related("item").filter(pk=takedown_id).first()
        if locked is None or locked.status != Takedown.Status.OPEN or not locked.removal_requested_how:
            return locked
        if locked.removal_started_at is not None:
            _removal_failed(locked, UNCERTAIN_REMOVAL)
            return locked
        locked.removal_started_at = started = timezone.now()
        locked.save(update_fields=["removal_started_at"])
    item, how = locked.item, locked.removal_requested_how
    try:
        if how == Takedown.How.HIDDEN:
            graph.hide_comment(item.platform_id, platform=item.platform)
        else:
            graph.delete_comment(item.platform_id)
    except graph.GraphError as exc:
        with transaction.atomic():
            again = Takedown.objects.select_for_update(of=("self",)).get(pk=takedown_id)
            if again.status == Takedown.Status.OPEN and again.removal_started_at == started:
                _removal_failed(again, f"{exc} Nothing was marked as removed; try again or remove it by hand.")
            return again
    with transaction.atomic():
        again = Takedown.objects.select_for_update(of=("self",)).get(pk=takedown_id)
        if again.status == Takedown.Status.OPEN:
            _record_removed(again, how=how, by=locked.removal_requested_by)
    return again


def _record_removed(locked: Takedown, *, how: str, by: User | None, request: HttpRequest | None = None) -> None:
    """Precondition: the row is locked and the takedown is open."""
    locked.status, locked.how = Takedown.Status.REMOVED, how
    locked.removed_at, locked.removed_by = timezone.now(), by
    locked.removal_requested_how, locked.removal_error = "", ""
    locked.save(
        update_fields=["status", "how", "notes", "removed_at", "removed_by", "removal_requested_how", "removal_error"]
    )
    audit_record(action="takedown.removed", actor=by, target=locked, request=request, details={"how": how})
    if locked.post_id is not None:
        from social.posts.channels import post_taken_down_by_hand

        post = Post.objects.select_for_update().get(pk=locked.post_id)
        post_taken_down_by_hand(post, by=by)
        _tell_parent_taken_down(locked, post)


def takedowns_close_for_post(post: Post, *, how: str, by: User | None) -> None:
    """Every channel of the post is down: its open takedown is done (the parent who asked is told).
    Precondition: the post row is locked."""
    for takedown in Takedown.objects.select_for_update().filter(post=post, status=Takedown.Status.OPEN):
        takedown.status = Takedown.Status.REMOVED
        takedown.how = Takedown.How.DELETED if how == "api" else Takedown.How.BY_HAND
        takedown.removed_at, takedown.removed_by = timezone.now(), by
        takedown.save(update_fields=["status", "how", "removed_at", "removed_by"])
        audit_record(action="takedown.removed", actor=by, target=takedown, details={"how": takedown.how})
        _tell_parent_taken_down(takedown, post)


def _tell_parent_taken_down(takedown: Takedown, post: Post) -> None:
    if takedown.requested_by_id is None:
        return
    notify(
        to=[takedown.requested_by.email],
        subject="The post you asked about has been taken down",
        template="social/posts/email/taken_down.txt",
        context={"post": post, "takedown": takedown, "link": settings.FIG_SITE_URL + reverse("social:parent_posts")},
    )


def _removal_failed(locked: Takedown, error: str) -> None:
    """Precondition: the row is locked. Open still, with why the Graph API did not remove it."""
    how = locked.removal_requested_how
    locked.removal_requested_how, locked.removal_started_at, locked.removal_error = "", None, error
    locked.save(update_fields=["removal_requested_how", "removal_started_at", "removal_error"])
    audit_record(action="takedown.removal_failed", target=locked, details={"how": how, "error": error})


def resume_removals(now: datetime) -> int:
    """Graph API removals whose task never started are queued again; those whose call began long ago and
    never answered are handed back to the administrators. Part of the inbox sweep; nothing is called twice."""
    lost = Takedown.objects.filter(
        status=Takedown.Status.OPEN,
        removal_started_at__isnull=True,
        removal_requested_at__lte=now - REQUEUE_AFTER,
    ).exclude(removal_requested_how="")
    requeued = claim_and_stamp(
        lost, stamp="removal_requested_at", now=now, handle=lambda rows: [_queue_removal(t.pk) for t in rows]
    )
    stopped = list(
        Takedown.objects.filter(status=Takedown.Status.OPEN, removal_started_at__lte=now - CALL_GIVEN_UP_AFTER)
        .exclude(removal_requested_how="")
        .values_list("pk", flat=True)
    )
    for takedown_id in stopped:
        takedown_remove_send(takedown_id=takedown_id)  # finds the call begun and settles it; makes no call itself
    return requeued + len(stopped)
