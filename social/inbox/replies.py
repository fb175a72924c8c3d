"""Replying from FiG Safety: what can be sent where and why not, queueing a reply, and sending it through
the Graph API after commit with no row locked during the call.

Messenger and Instagram messages go through the Send API: inside Meta's standard window (24 hours from the
person's last message) as a response, then with the human agent tag up to seven days after it, which is the
policy's own week; after that Meta allows nothing, so the page says why and the reply is recorded as made
elsewhere. A Facebook or Instagram comment gets a public reply on it, or one private message to its author
(Meta allows that within seven days of the comment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from fig_safety.times import when
from social import graph
from social.inbox.services import CALL_GIVEN_UP_AFTER, REQUEUE_AFTER, InboxError, conversation_answered
from social.models import Conversation, Message, Platform
from social.posts.checks import Finding, normalise
from social.posts.checks.contact import contact_findings
from social.posts.checks.people import people_findings
from staff.models import User
from staff.services import audit_record

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)

SendAs = Message.SendAs
_META = {Platform.MESSENGER, Platform.INSTAGRAM, Platform.FACEBOOK}
UNCERTAIN_SEND = (
    "The Graph API call stopped part of the way through, so FiG Safety cannot tell whether the reply reached "
    "them. Check the conversation on the platform: if it is not there, send it again or record a reply made there."
)


@dataclass(frozen=True)
class ReplyOptions:
    """How a reply can be sent from here now: the ways (send_as, label), the message replied to, and, when
    there is no way, why not in words for the page."""

    ways: list[tuple[str, str]] = field(default_factory=list)
    target: Message | None = None
    why_not: str = ""


def reply_options(conversation: Conversation, now: datetime) -> ReplyOptions:
    """What the reply form on a conversation offers. Two queries at most."""
    if conversation.platform not in _META or not conversation.thread:
        return ReplyOptions(why_not="It did not come through Meta, so reply where it came from and record it here.")
    if not graph.graph_configured() or (conversation.kind == Conversation.Kind.MESSAGE and not graph.page_configured()):
        return ReplyOptions(
            why_not="Sending through the Graph API is not set up, so reply on the platform and record it here."
        )
    incoming = conversation.messages.filter(from_fig=False)
    if conversation.kind == Conversation.Kind.MESSAGE:
        last = incoming.order_by("-at", "-id").first()
        if last is None or not conversation.sender_id:
            return ReplyOptions(why_not="They have not written to FiG yet, so there is nobody to reply to.")
        since = now - last.at
        if since <= STANDARD_WINDOW:
            return ReplyOptions(ways=[(SendAs.MESSAGE, "Message")], target=last)
        if since <= HUMAN_AGENT_WINDOW:
            label = "Message, with Meta's human agent tag (more than 24 hours since their last message)"
            return ReplyOptions(ways=[(SendAs.HUMAN_AGENT, label)], target=last)
        return ReplyOptions(
            target=last,
            why_not=(
                f"Their last message came on {when(last.at, year=True)}, more than seven days ago: Meta lets a "
                "page message someone only within seven days of their last message. Reply another way (or "
                "wait for them to write again) and record the reply here."
            ),
        )
    target = (
        incoming.filter(event__in=[Message.Event.COMMENT, Message.Event.VISITOR_POST, Message.Event.MENTION])
        .exclude(platform_id=None)
        .order_by("-at", "-id")
        .first()
    )
    if target is None or (target.event != Message.Event.COMMENT and conversation.platform != Platform.FACEBOOK):
        return ReplyOptions(
            why_not="This cannot be answered through the Graph API: reply on the platform and record it here."
        )
    if target.removed_at is not None:
        return ReplyOptions(
            target=target,
            why_not=f"Their comment was {target.get_removed_how_display().lower()}, so there is nothing to reply to.",
        )
    ways = [
        (
            SendAs.PUBLIC_REPLY,
            "Public reply under their comment"
            if target.event == Message.Event.COMMENT
            else "Public comment on their post",
        )
    ]
    already_private = conversation.messages.filter(send_as=SendAs.PRIVATE_REPLY, reply_to=target.platform_id).exclude(
        sending=Message.Sending.FAILED
    )
    if (
        target.event == Message.Event.COMMENT
        and now - target.at <= PRIVATE_REPLY_WINDOW
        and not already_private.exists()
    ):
        ways.append(
            (SendAs.PRIVATE_REPLY, "Private message to them (Meta allows one, within seven days of the comment)")
        )
    return ReplyOptions(ways=ways, target=target)


def reply_findings(text: str) -> list[Finding]:
    """The name and contact checks of a post, on a reply: names from the consent register and anything else
    identifying a child, and contact details other than FiG's own."""
    clean, _ = normalise(text)
    return [*people_findings(clean), *contact_findings(clean)]


def personalise(text: str, conversation: Conversation) -> str:
    """A saved reply's placeholders filled for this person: {first_name} becomes their first name as the
    platform gave it ("there" when it did not)."""
    first = (conversation.sender_name or "").split()
    return text.replace("{first_name}", first[0] if first else "there")


def reply_queue(
    *,
    conversation: Conversation,
    text: str,
    send_as: str,
    by: User,
    names_checked: bool = False,
    request: HttpRequest | None = None,
) -> Message:
    """Keep the reply and queue it to be sent after commit. A public reply that names a child or carer from
    the register or gives contact details is refused; a private one needs `names_checked` (the person
    writing confirms it names only who they are writing to)."""
    text = text.strip()
    if not text:
        raise InboxError("Write the reply.")
    if len(text) > 2000:
        raise InboxError("Meta takes replies of up to 2,000 characters: make it shorter.")
    now = timezone.now()
    if conversation.status == Conversation.Status.CLOSED:
        raise InboxError("This conversation is closed as needing no reply.")
    options = reply_options(conversation, now)
    if send_as not in dict(options.ways):
        raise InboxError(options.why_not or "That way of replying is not available for this conversation now.")
    findings = reply_findings(text)
    if findings and (send_as == SendAs.PUBLIC_REPLY or not names_checked):
        described = "; ".join(f"{f.title}: {', '.join(f.matches)}" if f.matches else f.title for f in findings)
        if send_as == SendAs.PUBLIC_REPLY:
            raise InboxError(f"A public reply must not identify anyone or give contact details ({described}).")
        raise InboxError(
            f"Check the reply ({described}). If it names only the person you are writing to, tick the box to say so."
        )
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        reply = Message.objects.create(
            conversation=locked,
            platform=locked.platform,
            event=Message.Event.REPLY,
            from_fig=True,
            text=text,
            at=now,
            by=by,
            reply_to=options.target.platform_id or "" if options.target else "",
            send_as=send_as,
            sending=Message.Sending.QUEUED,
            send_requested_at=now,
            flagged_at=now,
        )
        if locked.replying_by_id == by.pk:
            locked.replying_by, locked.replying_at = None, None
            locked.save(update_fields=["replying_by", "replying_at"])
        audit_record(
            action="inbox.reply_queued",
            actor=by,
            target=locked,
            request=request,
            details={"message": reply.pk, "send_as": send_as, "names_checked": bool(findings)},
        )
        _queue_send(reply.pk)
    return reply


def _queue_send(message_id: int) -> None:
    from social.tasks import send_reply

    queue_after_commit(send_reply, message_id)


def reply_send(*, message_id: int) -> Message | None:
    """Send a queued reply through the Graph API (the send_reply task). Call with no transaction open.
    Idempotent: a reply no longer waiting is left alone; one whose call began before and never answered is
    not sent again but marked uncertain for a person to check."""
    with transaction.atomic():
        reply = (
            Message.objects.select_for_update(of=("self",)).select_related("conversation").filter(pk=message_id).first()
        )
        if reply is None or reply.sending != Message.Sending.QUEUED:
            return reply
        if reply.send_started_at is not None:
            _settle(reply, Message.Sending.UNCERTAIN, UNCERTAIN_SEND)
            return reply
        reply.sending, reply.send_started_at = Message.Sending.SENDING, timezone.now()
        reply.save(update_fields=["sending", "send_started_at"])
    conversation = reply.conversation
    try:
        if reply.send_as in {SendAs.MESSAGE, SendAs.HUMAN_AGENT}:
            sent_id = graph.send_message(
                conversation.sender_id, reply.text, human_agent=reply.send_as == SendAs.HUMAN_AGENT
            )
        elif reply.send_as == SendAs.PRIVATE_REPLY:
            sent_id = graph.private_reply(reply.reply_to, reply.text)
        else:
            sent_id = graph.reply_to_comment(reply.reply_to, reply.text, platform=conversation.platform)
    except graph.GraphError as exc:
        with transaction.atomic():
            again = Message.objects.select_for_update(of=("self",)).get(pk=message_id)
            if again.sending == Message.Sending.SENDING:
                if exc.may_have_succeeded:
                    _settle(again, Message.Sending.UNCERTAIN, UNCERTAIN_SEND)
                else:
                    _settle(
                        again,
                        Message.Sending.FAILED,
                        f"{exc.describe('Meta')} Nothing was sent; the text is kept below.",
                    )
            return again
    return _sent(message_id, sent_id)


def _sent(message_id: int, sent_id: str) -> Message:
    """Mark the reply sent with Meta's id; an echo of it that came first is folded into it. The reply
    answers the conversation at the time it was sent."""
    with transaction.atomic():
        reply = Message.objects.select_for_update(of=("self",)).get(pk=message_id)
        conversation = Conversation.objects.select_for_update().get(pk=reply.conversation_id)
        now = timezone.now()
        if sent_id:
            Message.objects.filter(platform=reply.platform, platform_id=sent_id, event=Message.Event.ECHO).delete()
        reply.sending, reply.send_error, reply.at = Message.Sending.SENT, "", now
        reply.platform_id = sent_id or None
        try:
            with transaction.atomic():
                reply.save(update_fields=["sending", "send_error", "at", "platform_id"])
        except IntegrityError:  # the id is already held by something that is not an echo: keep the reply, not the id
            reply.platform_id = None
            reply.save(update_fields=["sending", "send_error", "at", "platform_id"])
        audit_record(action="inbox.reply_sent", actor=reply.by, target=conversation, details={"message": reply.pk})
        conversation_answered(conversation, at=now, by=reply.by)
    return reply


def _settle(reply: Message, state: str, error: str) -> None:
    """Precondition: the row is locked. Failed or uncertain, with why; the text stays."""
    reply.sending, reply.send_error = state, error
    reply.save(update_fields=["sending", "send_error"])
    audit_record(
        action="inbox.reply_failed",
        actor=None,
        target=reply.conversation,
        details={"message": reply.pk, "state": state},
    )


def reply_try_again(*, reply: Message, by: User, request: HttpRequest | None = None) -> Message:
    """A reply that failed, queued again as it was (the window is checked again)."""
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=reply.pk)
        if locked.sending not in {Message.Sending.FAILED}:
            raise InboxError("Only a reply that was not sent can be sent again.")
        options = reply_options(locked.conversation, timezone.now())
        if locked.send_as not in dict(options.ways):
            raise InboxError(options.why_not or "That way of replying is not available now.")
        locked.sending, locked.send_error = Message.Sending.QUEUED, ""
        locked.send_requested_at, locked.send_started_at = timezone.now(), None
        locked.save(update_fields=["sending", "send_error", "send_requested_at", "send_started_at"])
        audit_record(
            action="inbox.reply_queued",
            actor=by,
            target=locked.conversation,
            request=request,
            details={"message": locked.pk, "again": True},
        )
        _queue_send(locked.pk)
    return locked


def resume_replies(now: datetime) -> int:
    """Replies whose task never started are queued again; those whose call began long ago and never answered
    are marked uncertain. Part of the inbox sweep; nothing is sent twice."""
    lost = Message.objects.filter(
        sending=Message.Sending.QUEUED, send_started_at__isnull=True, send_requested_at__lte=now - REQUEUE_AFTER
    )
    requeued = claim_and_stamp(
        lost, stamp="send_requested_at", now=now, handle=lambda rows: [_queue_send(m.pk) for m in rows]
    )
    stopped = list(
        Message.objects.filter(
            sending=Message.Sending.SENDING, send_started_at__lte=now - CALL_GIVEN_UP_AFTER
        ).values_list("pk", flat=True)
    )
    for message_id in stopped:
        with transaction.atomic():
            reply = Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
            if reply.sending == Message.Sending.SENDING:
                _settle(reply, Message.Sending.UNCERTAIN, UNCERTAIN_SEND)
    return requeued + len(stopped)
