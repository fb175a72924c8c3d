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
from social import graph
from social.meta import Incoming
from social.models import InboxMessage, Platform, Takedown, policy_due_at
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record


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
                    template="social/email/flagged.txt",
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
                template="social/email/assigned.txt",
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
            template="social/email/passed_on.txt",
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
    *, message: InboxMessage | None, reason: str, by: User | None, request: HttpRequest | None = None
) -> Takedown:
    if not reason.strip():
        raise InboxError("Say why it must come down.")
    with transaction.atomic():
        if message is not None:
            # The message's row lock makes "one open takedown per message" hold when two people click at once.
            InboxMessage.objects.select_for_update().filter(pk=message.pk).exists()
            if message.takedowns.filter(status=Takedown.Status.OPEN).exists():
                raise InboxError("A takedown is already open for this message.")
        takedown = Takedown.objects.create(
            message=message,
            reason=reason.strip(),
            opened_by=by,
            due_at=timezone.now() + timedelta(hours=settings.FIG_TAKEDOWN_HOURS),
        )
        audit_record(
            action="takedown.opened",
            actor=by,
            target=takedown,
            request=request,
            details={"message": message.pk if message else None},
        )
    return takedown


def takedown_record_removal(
    *, takedown: Takedown, how: str, notes: str, by: User, request: HttpRequest | None = None
) -> Takedown:
    """Record that the content is gone. 'hidden' and 'deleted' go through the Graph API when it is configured."""
    with transaction.atomic():
        # of=self: PostgreSQL refuses FOR UPDATE on the nullable side of the LEFT JOIN to the message.
        locked = Takedown.objects.select_for_update(of=("self",)).select_related("message").get(pk=takedown.pk)
        if locked.status != Takedown.Status.OPEN:
            raise InboxError("This takedown is already closed.")
        if how in {Takedown.How.HIDDEN, Takedown.How.DELETED}:
            message = locked.message
            if (
                not graph.graph_configured()
                or message is None
                or message.kind != InboxMessage.Kind.COMMENT
                or message.platform not in {Platform.FACEBOOK, Platform.INSTAGRAM}
                or not message.platform_id
            ):
                raise InboxError(
                    "Hiding or deleting through the Graph API needs a Facebook or Instagram comment"
                    " and a configured page token."
                )
            try:
                if how == Takedown.How.HIDDEN:
                    graph.hide_comment(message.platform_id, platform=message.platform)
                else:
                    graph.delete_comment(message.platform_id)
            except graph.GraphError as exc:
                raise InboxError(f"{exc} Nothing was marked as removed; try again or remove it by hand.") from exc
        elif how != Takedown.How.BY_HAND:
            raise InboxError("Choose how it was removed.")
        locked.status, locked.how, locked.notes = Takedown.Status.REMOVED, how, notes.strip()
        locked.removed_at, locked.removed_by = timezone.now(), by
        locked.save(update_fields=["status", "how", "notes", "removed_at", "removed_by"])
        audit_record(action="takedown.removed", actor=by, target=locked, request=request, details={"how": how})
    return locked
