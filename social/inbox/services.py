"""Writes for the inbox: ingest, assign, pass on, respond, close, and takedowns.

State changes take a row lock, check the current state, record who/when/why and
write an audit event in the same transaction; notifications go after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from consents.models import Family
from consents.names import find_register_names
from consents.selectors import coordinators_of
from fig_safety.sweeps import claim_and_stamp
from social import graph
from social.inbox.meta import Incoming
from social.models import InboxMessage, Platform, Post, Takedown, policy_due_at
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record

# A Graph API removal whose task has not started within this long is queued again (the broker lost it);
# one whose call began this long ago without an answer is taken to have stopped part of the way.
REQUEUE_AFTER = timedelta(minutes=2)
CALL_GIVEN_UP_AFTER = timedelta(minutes=5)


class InboxError(Exception):
    """The action cannot go ahead; the message is for the person doing it."""


def _link(message: InboxMessage) -> str:
    return settings.FIG_SITE_URL + reverse("social:message", args=[message.pk])


def message_ingest(incoming: Incoming) -> tuple[InboxMessage, bool]:
    """Store one incoming message or comment once, whatever the number of redeliveries."""
    defaults = {
        "kind": incoming.kind,
        "sender_id": incoming.sender_id[:200],
        "sender_name": incoming.sender_name[:200],
        "text": incoming.text,
        "permalink": incoming.permalink[:500],
        "received_at": incoming.received_at,
        "due_at": policy_due_at(incoming.received_at),
    }
    try:
        with transaction.atomic():
            message, created = InboxMessage.objects.get_or_create(
                platform=incoming.platform, platform_id=incoming.platform_id, defaults=defaults
            )
    except IntegrityError:  # a redelivery racing the first delivery
        return InboxMessage.objects.get(platform=incoming.platform, platform_id=incoming.platform_id), False
    if created:
        _queue_flagging(message)
    return message, created


def _queue_flagging(message: InboxMessage) -> None:
    from social.tasks import flag_message

    transaction.on_commit(lambda: flag_message.delay(message.pk))


def message_add_manual(
    *,
    platform: str,
    kind: str,
    sender_name: str,
    text: str,
    received_at: datetime,
    by: User,
    request: HttpRequest | None = None,
) -> InboxMessage:
    if received_at > timezone.now() + timedelta(minutes=5):
        raise InboxError("The time received cannot be in the future.")
    with transaction.atomic():
        message = InboxMessage.objects.create(
            platform=platform,
            kind=kind,
            sender_name=sender_name,
            text=text,
            received_at=received_at,
            due_at=policy_due_at(received_at),
            added_by=by,
        )
        audit_record(action="inbox.added", actor=by, target=message, request=request, details={"platform": platform})
        _queue_flagging(message)
    return message


def message_flag(*, message_id: int) -> InboxMessage:
    """Flag a message urgent when it names a child or carer in the consent register; tell their coordinators."""
    with transaction.atomic():
        message = InboxMessage.objects.select_for_update().get(pk=message_id)
        if message.flagged_at is not None:
            return message
        matches = find_register_names(message.text)
        message.flagged_at = timezone.now()
        message.urgent = bool(matches)
        message.flagged_names = sorted({m.name for m in matches})
        message.save(update_fields=["flagged_at", "urgent", "flagged_names"])
        families = list(Family.objects.filter(pk__in={m.family_id for m in matches}))
        message.flagged_families.set(families)
        if matches:
            audit_record(
                action="inbox.flagged",
                target=message,
                details={"families": [f.reference for f in families], "names": len(message.flagged_names)},
            )
            for family in families:
                notify(
                    to=list(coordinators_of(family).values_list("email", flat=True)),
                    subject=f"Urgent: a {message.get_kind_display().lower()} may identify family {family.reference}",
                    template="social/inbox/email/flagged.txt",
                    context={"message": message, "family": family, "link": _link(message)},
                    separately=True,
                )
    return message


def _locked_open(message: InboxMessage) -> InboxMessage:
    locked = InboxMessage.objects.select_for_update().get(pk=message.pk)
    if locked.status != InboxMessage.Status.OPEN:
        raise InboxError("This message is already done.")
    return locked


def message_assign(
    *, message: InboxMessage, assignee: User | None, by: User, request: HttpRequest | None = None
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
    *, message: InboxMessage, to: User, note: str, by: User, request: HttpRequest | None = None
) -> None:
    """Hand a message to a member of staff who can answer it. The policy deadline still applies."""
    if not note.strip():
        raise InboxError("Add a note saying what you need from them.")
    with transaction.atomic():
        locked = _locked_open(message)
        locked.passed_to, locked.passed_note, locked.passed_at = to, note.strip(), timezone.now()
        locked.save(update_fields=["passed_to", "passed_note", "passed_at"])
        audit_record(action="inbox.passed_on", actor=by, target=locked, request=request, details={"to": to.email})
        notify(
            to=[to.email],
            subject="A social media message has been passed to you",
            template="social/inbox/email/passed_on.txt",
            context={"message": locked, "note": locked.passed_note, "by": by, "link": _link(locked)},
        )


def message_respond(
    *, message: InboxMessage, text: str, link: str, by: User, request: HttpRequest | None = None
) -> None:
    if not text.strip():
        raise InboxError("Write what FiG replied.")
    with transaction.atomic():
        locked = _locked_open(message)
        locked.status = InboxMessage.Status.ANSWERED
        locked.response_text, locked.response_link = text.strip(), link.strip()
        locked.responded_by, locked.responded_at = by, timezone.now()
        locked.save(update_fields=["status", "response_text", "response_link", "responded_by", "responded_at"])
        audit_record(
            action="inbox.answered",
            actor=by,
            target=locked,
            request=request,
            details={"on_time": locked.responded_at <= locked.due_at},
        )


def message_close(*, message: InboxMessage, reason: str, by: User, request: HttpRequest | None = None) -> None:
    if not reason.strip():
        raise InboxError("Say why this message needs no reply.")
    with transaction.atomic():
        locked = _locked_open(message)
        locked.status, locked.closed_reason = InboxMessage.Status.CLOSED, reason.strip()
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
    message: InboxMessage | None = None,
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
            InboxMessage.objects.select_for_update().filter(pk=message.pk).exists()
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
        takedown = Takedown.objects.create(
            message=message,
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


GRAPH_REMOVALS = {Takedown.How.HIDDEN, Takedown.How.DELETED}
UNCERTAIN_REMOVAL = (
    "The Graph API call stopped part of the way through, so FiG Safety cannot tell whether the comment was "
    "removed. Check it on the platform, then record how it was removed or try again."
)


def graph_removal_possible(takedown: Takedown) -> bool:
    """Hide and delete go through the Graph API only for a Facebook or Instagram comment Meta gave an id for."""
    message = takedown.message
    return bool(
        graph.graph_configured()
        and message is not None
        and message.kind == InboxMessage.Kind.COMMENT
        and message.platform in {Platform.FACEBOOK, Platform.INSTAGRAM}
        and message.platform_id
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
        locked = Takedown.objects.select_for_update(of=("self",)).select_related("message").get(pk=takedown.pk)
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
        transaction.on_commit(lambda: _queue_removal(locked.pk))
    return locked


def _queue_removal(takedown_id: int) -> None:
    from social.tasks import remove_through_graph

    remove_through_graph.delay(takedown_id)


def takedown_remove_send(*, takedown_id: int) -> Takedown | None:
    """Hide or delete a takedown's comment through the Graph API (the removal task). Call with no transaction
    open. Idempotent: a takedown that is closed or no longer waiting is left alone, and one whose call began
    before and never answered is not called again but handed back to the administrators to check."""
    with transaction.atomic():
        locked = (
            Takedown.objects.select_for_update(of=("self",)).select_related("message").filter(pk=takedown_id).first()
        )
        if locked is None or locked.status != Takedown.Status.OPEN or not locked.removal_requested_how:
            return locked
        if locked.removal_started_at is not None:
            _removal_failed(locked, UNCERTAIN_REMOVAL)
            return locked
        locked.removal_started_at = started = timezone.now()
        locked.save(update_fields=["removal_started_at"])
    message, how = locked.message, locked.removal_requested_how
    try:
        if how == Takedown.How.HIDDEN:
            graph.hide_comment(message.platform_id, platform=message.platform)
        else:
            graph.delete_comment(message.platform_id)
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
