"""Meta webhook deliveries: read each event on its own and store it once.

A small delivery is ingested in the request. A large one is stored as it came (`WebhookDelivery`) and
ingested by a task, a thousand messages at a time in a fixed number of queries, so Meta gets its answer at
once; the inbox sweep finishes any whose task was lost. The raw body is emptied once ingested: the messages
themselves are what is kept.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from social.inbox.meta import Delivery, Event, load_body, parse_delivery
from social.inbox.services import clock_answered, clock_received, event_ingest, thread_of
from social.models import PRIVATE_EVENTS, Conversation, Message, WebhookDelivery, policy_due_at
from staff.models import AuditEvent

logger = logging.getLogger(__name__)

# A stored delivery whose task has not started within this long is queued again; one started this long ago
# and not finished is ingested again (storing each event is idempotent).
REQUEUE_AFTER = timedelta(minutes=2)
RETRY_AFTER = timedelta(minutes=15)
# New messages stored in one transaction by the bulk path.
CHUNK = 1000


def delivery_receive(body: bytes) -> Delivery | None:
    """Ingest a signed delivery now, or store it for the ingest task when it is large. Raises ValueError
    when the body is not a webhook delivery at all (the view answers 400). Returns what was ingested in the
    request, or None when it was stored for later."""
    delivery = parse_delivery(load_body(body))
    if delivery.skipped:
        logger.warning("Meta webhook: %s malformed item(s) skipped, %s stored", delivery.skipped, len(delivery.events))
    if len(delivery.events) <= settings.FIG_WEBHOOK_INLINE_EVENTS:
        try:
            for event in delivery.events:
                event_ingest(event)
            return delivery
        except Exception:  # never lose it: kept as it came, for the task (and the sweep) to try again
            logger.exception("Meta webhook: ingesting in the request failed; the delivery is kept for the task")
    _store(body, delivery)
    return None


def _store(body: bytes, delivery: Delivery) -> None:
    with transaction.atomic():
        stored = WebhookDelivery.objects.create(body=body, events=len(delivery.events), skipped=delivery.skipped)
        _queue(stored.pk)


def _queue(delivery_id: int) -> None:
    from social.tasks import ingest_delivery

    queue_after_commit(ingest_delivery, delivery_id)


def delivery_ingest(*, delivery_id: int) -> int:
    """Ingest a stored delivery (the ingest task); returns how many events it held. Idempotent."""
    with transaction.atomic():
        stored = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if stored is None or stored.ingested_at is not None:
            return 0
        stored.ingest_started_at = timezone.now()
        stored.save(update_fields=["ingest_started_at"])
        body = bytes(stored.body)
    delivery = parse_delivery(load_body(body))
    events_ingest(delivery.events)
    WebhookDelivery.objects.filter(pk=delivery_id).update(ingested_at=timezone.now(), body=b"")
    return len(delivery.events)


def resume_deliveries(now: datetime) -> int:
    """Stored deliveries whose task never started, or stopped part of the way, are queued again."""
    lost = WebhookDelivery.objects.filter(
        ingested_at__isnull=True, ingest_started_at__isnull=True, queued_at__lte=now - REQUEUE_AFTER
    )
    stopped = WebhookDelivery.objects.filter(ingested_at__isnull=True, ingest_started_at__lte=now - RETRY_AFTER)

    def handle(rows: list[WebhookDelivery]) -> None:
        for row in rows:  # queued once the claim commits: no broker call under the row locks
            _queue(row.pk)

    return claim_and_stamp(lost, stamp="queued_at", now=now, handle=handle) + claim_and_stamp(
        stopped, stamp="ingest_started_at", now=now, handle=handle
    )


# --- many events at once --------------------------------------------------------------------------------


def events_ingest(events: Iterable[Event]) -> None:
    """Store many events, each once, with the same outcome as `event_ingest` one by one: new messages in
    bulk, a chunk at a time, each chunk in its own transaction; then edits, removals and hidings one by one
    (they are few, and each may close a takedown)."""
    events = list(events)
    adds = [event for event in events if event.action == "add"]
    for start in range(0, len(adds), CHUNK):
        _adds_ingest(adds[start : start + CHUNK])
    for event in events:
        if event.action != "add":
            event_ingest(event)


@dataclass
class _New:
    """A new message on its way in: its event, and the conversation it joins, as a thread to find or create
    (`thread`) or as another new message's conversation or a stored one (`answers`: FiG's public reply)."""

    event: Event
    thread: tuple[str, str, str] | None = None  # (platform, thread key, kind)
    answers: _New | int | None = None
    conversation: Conversation | None = None
    message: Message | None = None


def _adds_ingest(events: list[Event]) -> None:
    """New messages (up to CHUNK) in at most 11 queries, whatever their number: the ids already stored; what
    FiG's public replies answer; the conversations found, created and read back, locked; the person's
    messages FiG's replies may leave unanswered; the messages created and read back; the conversations'
    clocks; their audit events."""
    with transaction.atomic():
        new = _not_stored(events)
        _route(new)
        new = [item for item in new if item.thread or item.answers]  # FiG's words answering nobody: not kept
        if not new:
            return
        conversations = _conversations_locked(new)
        for item in new:
            item.conversation = _conversation_of(item, conversations)
        waiting = _persons_messages_after_replies(new)
        _messages_create(new)
        stored = [item for item in new if item.message.pk is not None]
        _clocks_update(stored, waiting)
        _queue_follow_ups(stored)


def _not_stored(events: list[Event]) -> list[_New]:
    """The events whose message is not stored yet, each once (the first of a redelivery within the chunk)."""
    stored = set(
        Message.objects.filter(_any_of((e.platform, e.platform_id) for e in events)).values_list(
            "platform", "platform_id"
        )
    )
    new: dict[tuple[str, str], _New] = {}
    for event in events:
        key = (event.platform, event.platform_id)
        if key not in stored and key not in new:
            new[key] = _New(event)
    return list(new.values())


def _any_of(pairs: Iterable[tuple[str, str]], field: str = "platform_id") -> Q:
    """(platform, value) pairs as one condition: per platform, `field` in the platform's values."""
    by_platform: dict[str, set[str]] = {}
    for platform, value in pairs:
        by_platform.setdefault(platform, set()).add(value)
    return reduce(or_, (Q(platform=p, **{f"{field}__in": sorted(v)}) for p, v in by_platform.items()), Q(pk__in=[]))


def _route(new: list[_New]) -> None:
    """Which conversation each new message joins. Mirrors services._add and services._answered_in_public:
    FiG's public comment answers the conversation of the person's comment or post it replies to (the latest
    of the two), whether stored before or earlier in this delivery."""
    replied_ids = {key for item in new if _answers_in_public(item.event) for key in _replied(item.event)}
    answerable: dict[tuple[str, str], tuple[datetime, _New | int]] = {}
    if replied_ids:
        for platform, platform_id, conversation_id, at in Message.objects.filter(
            _any_of(replied_ids), from_fig=False
        ).values_list("platform", "platform_id", "conversation_id", "at"):
            answerable[(platform, platform_id)] = (at, conversation_id)
    for item in new:
        event = item.event
        if not _answers_in_public(event):
            item.thread = (event.platform, *thread_of(event))
            if not event.from_fig:
                answerable[(event.platform, event.platform_id)] = (event.at, item)
            continue
        found = [answerable[key] for key in _replied(event) if key in answerable]
        item.answers = max(found, key=lambda at_and_conversation: at_and_conversation[0])[1] if found else None


def _answers_in_public(event: Event) -> bool:
    return event.from_fig and event.kind not in PRIVATE_EVENTS


def _replied(event: Event) -> set[tuple[str, str]]:
    """The comment or post a public reply from FiG answers, as (platform, platform_id)."""
    return {(event.platform, pid) for pid in (event.reply_to, event.parent_id) if pid}


def _conversations_locked(new: list[_New]) -> dict[object, Conversation]:
    """Every conversation the new messages join, created where missing (in thread order) and locked (in id
    order), so that two ingests at once wait for each other rather than deadlock. Keyed by (platform, thread)
    and by id."""
    threads = {item.thread[:2]: item for item in reversed(new) if item.thread}  # the first message makes it
    stored_ids = {item.answers for item in new if isinstance(item.answers, int)}
    found = _locked(_any_of(threads, field="thread") | Q(pk__in=stored_ids))
    missing = sorted(key for key in threads if key not in {(c.platform, c.thread) for c in found})
    if missing:
        Conversation.objects.bulk_create([_conversation_new(threads[key]) for key in missing], ignore_conflicts=True)
        found += _locked(_any_of(missing, field="thread"))
    return {key: c for c in found for key in ((c.platform, c.thread), c.pk)}


def _locked(condition: Q) -> list[Conversation]:
    return list(Conversation.objects.select_for_update().filter(condition).order_by("pk"))


def _conversation_new(item: _New) -> Conversation:
    """The conversation a new thread's first message makes. Mirrors services._conversation_for."""
    event, (platform, thread, kind) = item.event, item.thread
    return Conversation(
        platform=platform,
        kind=kind,
        thread=thread,
        sender_id=event.person_id[:200],
        sender_name="" if event.from_fig else event.person_name[:200],
        text="" if event.from_fig else event.text,
        permalink=event.permalink[:500],
        received_at=event.at,
        due_at=policy_due_at(event.at),
        status=Conversation.Status.ANSWERED if event.from_fig else Conversation.Status.OPEN,
        responded_at=event.at if event.from_fig else None,
    )


def _conversation_of(item: _New, conversations: dict[object, Conversation]) -> Conversation:
    if item.thread:
        return conversations[item.thread[:2]]
    if isinstance(item.answers, _New):
        return conversations[item.answers.thread[:2]]
    return conversations[item.answers]


def _persons_messages_after_replies(new: list[_New]) -> dict[int, list[datetime]]:
    """Per conversation a reply from FiG joins, the times of the person's stored messages after the earliest
    such reply, oldest first: the reply leaves those unanswered (services.conversation_answered)."""
    replies = [item for item in new if item.event.from_fig]
    if not replies:
        return {}
    waiting: dict[int, list[datetime]] = {}
    for conversation_id, at in (
        Message.objects.filter(
            conversation__in={item.conversation.pk for item in replies},
            from_fig=False,
            at__gt=min(item.event.at for item in replies),
        )
        .order_by("at")
        .values_list("conversation_id", "at")
    ):
        waiting.setdefault(conversation_id, []).append(at)
    return waiting


def _messages_create(new: list[_New]) -> None:
    """Create the messages (mirrors services._add), then read back the ids of those this chunk stored: one
    another ingest stored in the meantime is skipped here, as that ingest did its work."""
    stamp = timezone.now()
    for item in new:
        event = item.event
        item.message = Message(
            conversation=item.conversation,
            platform=event.platform,
            platform_id=event.platform_id,
            event=Message.Event.ECHO if event.from_fig else event.kind,
            from_fig=event.from_fig,
            text=event.text,
            at=event.at,
            stored_at=stamp,
            parent_id=event.parent_id[:200],
            reply_to=event.reply_to[:200],
            permalink=event.permalink[:500],
            story_link=event.story_link[:500],
            rating=event.rating,
            attachments=[{"type": a.type, "title": a.title, "url": a.url} for a in event.attachments],
            flagged_at=stamp if event.from_fig else None,  # FiG's own words are not checked for names
        )
    Message.objects.bulk_create([item.message for item in new], ignore_conflicts=True)
    mine = Message.objects.filter(_any_of((i.event.platform, i.event.platform_id) for i in new), stored_at=stamp)
    ids = {
        (platform, pid, conversation): pk
        for platform, pid, conversation, pk in mine.values_list("platform", "platform_id", "conversation_id", "pk")
    }
    for item in new:
        item.message.pk = ids.get((item.event.platform, item.event.platform_id, item.conversation.pk))


# --- the clocks ----------------------------------------------------------------------------------------

_CLOCK_FIELDS = [
    "sender_name",
    "text",
    "status",
    "received_at",
    "due_at",
    "reminder_sent_at",
    "escalated_at",
    "closed_at",
    "closed_by",
    "closed_reason",
    "responded_at",
    "responded_by",
]


def _clocks_update(stored: list[_New], waiting: dict[int, list[datetime]]) -> None:
    """Each conversation's clock as the messages, in the delivery's order, leave it (one update), and the audit
    events event_ingest would write (one insert)."""
    before = {item.conversation.pk: _clock(item.conversation) for item in stored}
    audits: list[AuditEvent] = []
    for item in stored:
        conversation, event, message = item.conversation, item.event, item.message
        if event.from_fig:
            times = waiting.get(conversation.pk, [])
            after = bisect.bisect_right(times, event.at)
            _answered(conversation, event.at, times[after] if after < len(times) else None, audits)
            audits.append(_audit("inbox.echo", conversation, {"message": message.pk}))
            continue
        if item.thread and event.person_name and not conversation.sender_name:
            conversation.sender_name = event.person_name[:200]
        bisect.insort(waiting.setdefault(conversation.pk, []), event.at)
        _received(conversation, message, audits)
    changed = {c.pk: c for c in (item.conversation for item in stored) if _clock(c) != before[c.pk]}
    if changed:
        _bulk_update(list(changed.values()), _CLOCK_FIELDS)
    if audits:
        AuditEvent.objects.bulk_create(audits)


def _clock(conversation: Conversation) -> tuple:
    return tuple(getattr(conversation, conversation._meta.get_field(name).attname) for name in _CLOCK_FIELDS)


def _bulk_update(conversations: list[Conversation], fields: list[str]) -> None:
    """`Conversation.objects.bulk_update(conversations, fields)` as one UPDATE ... FROM (VALUES ...) on
    PostgreSQL. Django builds a CASE per field and row, which took 2 ms a conversation in Python: two thirds
    of the time a 15,000-message delivery took to ingest (bench/bench_webhook.py)."""
    if connection.vendor != "postgresql":
        Conversation.objects.bulk_update(conversations, fields)
        return
    meta, quote = Conversation._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    names = ", ".join(quote(field.column) for field in columns)
    sets = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns[1:])
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    rows = ", ".join([row] * len(conversations))
    # Names from the model only, every value a parameter.
    sql = f"UPDATE {table} SET {sets} FROM (VALUES {rows}) AS v ({names}) WHERE {table}.{pk} = v.{pk}"  # noqa: S608
    params = [f.get_db_prep_save(getattr(c, f.attname), connection) for c in conversations for f in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _received(conversation: Conversation, message: Message, audits: list[AuditEvent]) -> None:
    """services.conversation_received, in memory: its rules, with the audit event kept for one insert."""
    _fields, reopened = clock_received(conversation, message)
    if reopened:
        audits.append(_audit("inbox.reopened", conversation, {"message": message.pk}))


def _answered(conversation: Conversation, at: datetime, later: datetime | None, audits: list[AuditEvent]) -> None:
    """services.conversation_answered for an echo (by nobody), in memory; `later` is the time of the
    person's first message after the reply."""
    _fields, answered = clock_answered(conversation, at=at, by=None, later=lambda: later)
    if answered:
        audits.append(_audit("inbox.answered", conversation, {"on_time": at <= conversation.due_at}))


def _audit(action: str, conversation: Conversation, details: dict) -> AuditEvent:
    """The row staff.services.audit_record writes for the system (no actor, no request), to insert many at once."""
    return AuditEvent(
        action=action,
        target_type="social.conversation",
        target_id=str(conversation.pk),
        target_repr=str(conversation)[:200],
        details=details,
    )


def _queue_follow_ups(stored: list[_New]) -> None:
    """After commit: the chunk's messages from people checked for names in one task, and each message with
    attachments fetched (services._add queues the same per message)."""
    from social.tasks import fetch_attachments, flag_messages

    incoming = [item.message for item in stored if not item.event.from_fig]
    if incoming:
        queue_after_commit(flag_messages, [m.pk for m in incoming])
    for message in incoming:
        if message.attachments:
            queue_after_commit(fetch_attachments, message.pk)
