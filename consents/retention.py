"""How long FiG Safety keeps each kind of data, and the sweep that deletes (or minimises) what is past its
time. Each function below is one row of the table a data protection officer reads in docs/configuration.md
("How long FiG Safety keeps things"); `retention_sweep` runs them all, with the erasure sweep, every hour.

Every function takes `now`, returns how many rows it dealt with and can run twice, or twice at once: rows are
claimed under their lock (skipping ones another sweep holds) and what is done to them is the stamp. A deleted
row is no longer due; a kept row that was minimised no longer has what made it due (a consent record without
its signature, a conversation without its words). Blobs go from storage after the commit; one that cannot be
removed is left to the orphan sweep (photos.sweeps.delete_orphan_blobs). Each kind that did something records
one audit event with its count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from consents.models import ConsentRecord, Family
from consents.selectors import consent_valid_for
from consents.services.erasure import erasures_due, family_erase
from fig_safety.append_only import minimising
from fig_safety.vault_references import listed_blobs
from photos.models import Photo, PhotoAccess, PhotoTag
from photos.services import blobs_delete_after_commit
from photos.sweeps import LIVE, delete_each
from social.models import Conversation, ConversationNote, Message, PassOn, Takedown, WebhookDelivery
from staff.models import AuditEvent
from staff.services import audit_record

log = logging.getLogger(__name__)

# Rows claimed and dealt with in one transaction; each function takes batch after batch until none is due.
BATCH = 500
# A sign-in record (allauth's UserSession: address, browser) whose session has gone is deleted this long after
# it was last used, so one whose session is being written by a request at this moment is never touched.
SIGN_IN_RECORD_GRACE = timedelta(hours=1)


def _days(name: str) -> timedelta:
    return timedelta(days=getattr(settings, name))


def _recorded(kind: str, count: int, setting: str) -> int:
    """One audit event for a kind that did something: what, how many, after how long. Never what it was."""
    if count:
        audit_record(
            action=f"retention.{kind}", details={"count": count, "setting": setting, "days": getattr(settings, setting)}
        )
    return count


def _delete_in_batches(due: QuerySet, *, append_only: bool = False) -> int:
    """Delete the rows of `due`, BATCH at a time, each batch claimed under its row locks. Append-only rows
    (the audit trail, the photo access log) only inside minimising(). Returns how many were deleted."""
    deleted = 0
    while True:
        with transaction.atomic():
            pks = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:BATCH])
            if pks:
                with minimising() if append_only else nullcontext():
                    due.model.objects.filter(pk__in=pks).delete()
        deleted += len(pks)
        if len(pks) < BATCH:
            return deleted


# --- families and their photos ---------------------------------------------------------------------------------


def delete_closed_family_photos(now: datetime) -> int:
    """Photos of a family closed FIG_CLOSED_FAMILY_PHOTO_DAYS ago (uploaded for it, or showing one of its
    children), deleted with every blob as the retention period deletes them. A photo a coordinator recorded
    a lawful reason to keep stays, until its own retention period or the family's erasure."""
    closed = Family.objects.filter(closed_at__lte=now - _days("FIG_CLOSED_FAMILY_PHOTO_DAYS")).values("pk")
    due = Photo.objects.filter(status__in=LIVE, keep_reason="").filter(
        Q(family__in=closed) | Q(pk__in=PhotoTag.objects.filter(child__family__in=closed).values("photo_id"))
    )
    deleted = delete_each(due, reason=f"The family was closed over {settings.FIG_CLOSED_FAMILY_PHOTO_DAYS} days ago.")
    return _recorded("closed_family_photos_deleted", deleted, "FIG_CLOSED_FAMILY_PHOTO_DAYS")


def erase_closed_families(now: datetime) -> int:
    """Families closed FIG_CLOSED_FAMILY_KEEP_DAYS ago are erased as on request (family_erase): names,
    contacts, signatures and scans go, the minimised evidence of consent stays. One family a transaction."""
    due = Family.objects.filter(
        closed_at__lte=now - _days("FIG_CLOSED_FAMILY_KEEP_DAYS"), erased_at__isnull=True
    ).order_by("closed_at", "pk")
    erased = 0
    while True:
        with transaction.atomic():
            family_id = due.select_for_update(skip_locked=True).values_list("pk", flat=True).first()
            if family_id is None:
                break
            family_erase(
                family_id=family_id,
                reason=f"Closed over {settings.FIG_CLOSED_FAMILY_KEEP_DAYS} days ago: the retention period is over.",
                now=now,
            )
        erased += 1
    return _recorded("closed_families_erased", erased, "FIG_CLOSED_FAMILY_KEEP_DAYS")


# --- signatures and scans --------------------------------------------------------------------------------------


def signatures_due(now: datetime) -> QuerySet[ConsentRecord]:
    """Consent records whose signature or scan is past its time. A consent is in force for
    FIG_CONSENT_VALID_MONTHS at most (withdrawn, replaced or renewed, it stops sooner), so counting
    FIG_SIGNATURE_KEEP_DAYS from then keeps every signature at least that long after it stopped mattering."""
    cutoff = now - consent_valid_for() - _days("FIG_SIGNATURE_KEEP_DAYS")
    return ConsentRecord.objects.filter(signed_at__lte=cutoff).filter(~Q(signature_blob="") | ~Q(scan_blob=""))


def remove_signatures(now: datetime) -> int:
    """The drawn signature and the scanned paper form of each record past its time are deleted from storage
    and the record forgets them; the record itself (answers, dates, evidence hashes) stays. The empty blob
    fields are the stamp."""
    due = signatures_due(now).order_by("signed_at", "pk")
    removed = 0
    while True:
        with transaction.atomic():
            rows = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", "signature_blob", "scan_blob")[
                    :BATCH
                ]
            )
            if rows:
                with minimising():
                    ConsentRecord.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
                        signature_blob="", signature_key_id="", scan_blob="", scan_key_id="", scan_content_type=""
                    )
                blobs_delete_after_commit([name for _, signature, scan in rows for name in (signature, scan)])
        removed += len(rows)
        if len(rows) < BATCH:
            break
    return _recorded("signatures_removed", removed, "FIG_SIGNATURE_KEEP_DAYS")


# --- the inbox -------------------------------------------------------------------------------------------------


def _conversations_done(now: datetime) -> QuerySet[Conversation]:
    """Conversations answered or closed FIG_INBOX_KEEP_DAYS ago with nothing since (a new message reopens
    one; a later reply or edit, by the platform's clock, counts too), and no takedown still open on them."""
    cutoff = now - _days("FIG_INBOX_KEEP_DAYS")
    recent = Message.objects.filter(conversation=OuterRef("pk")).filter(Q(at__gt=cutoff) | Q(edited_at__gt=cutoff))
    open_takedown = Takedown.objects.filter(status=Takedown.Status.OPEN).filter(
        Q(message=OuterRef("pk")) | Q(item__conversation=OuterRef("pk"))
    )
    return (
        Conversation.objects.filter(status__in=[Conversation.Status.ANSWERED, Conversation.Status.CLOSED])
        .filter(Q(responded_at__isnull=False) | Q(closed_at__isnull=False))
        .filter(Q(responded_at__isnull=True) | Q(responded_at__lte=cutoff))
        .filter(Q(closed_at__isnull=True) | Q(closed_at__lte=cutoff))
        .exclude(Exists(recent))
        .exclude(Exists(open_takedown))
    )


def _any_takedown() -> Exists:
    return Exists(Takedown.objects.filter(Q(message=OuterRef("pk")) | Q(item__conversation=OuterRef("pk"))))


# The words of a conversation a takedown keeps: cleared, and clear (the stamp) once redacted.
CONVERSATION_WORDS = {
    "sender_id": "",
    "sender_name": "",
    "text": "",
    "passed_note": "",
    "response_text": "",
    "closed_reason": "",
    "flagged_names": [],
    "thread": None,
}
MESSAGE_WORDS = {
    "text": "",
    "earlier_texts": [],
    "flagged_names": [],
    "attachments": [],
    "send_error": "",
    "story_link": "",
}


def _has_words() -> Q:
    """A conversation kept for a takedown that still holds something to redact."""
    items = Takedown.objects.filter(item__isnull=False).values("item_id")
    message_words = Message.objects.filter(conversation=OuterRef("pk")).filter(
        ~Q(pk__in=items) | Q(*[~Q(**{field: empty}) for field, empty in MESSAGE_WORDS.items()], _connector=Q.OR)
    )
    return (
        Q(*[~Q(**{field: empty}) for field, empty in CONVERSATION_WORDS.items() if empty is not None], _connector=Q.OR)
        | Q(thread__isnull=False)
        | Exists(Conversation.flagged_families.through.objects.filter(conversation=OuterRef("pk")))
        | Exists(ConversationNote.objects.filter(conversation=OuterRef("pk")))
        | Exists(PassOn.objects.filter(conversation=OuterRef("pk")))
        | Exists(message_words)
    )


def _attachment_blobs(messages: QuerySet[Message]) -> list[str]:
    return [
        entry["blob"]
        for attachments in messages.values_list("attachments", flat=True)
        for _, entry in listed_blobs(attachments)
    ]


def delete_old_conversations(now: datetime) -> int:
    """Inbox conversations answered or closed FIG_INBOX_KEEP_DAYS ago are deleted with their messages, notes,
    pass-ons and attachments. One a takedown names (the record that something was taken down, and which item)
    keeps its row and the items the takedowns name, with every word and attachment gone. Never an open one."""
    done = _conversations_done(now)
    deleted = _claimed(done.exclude(_any_takedown()), _delete_conversations)
    redacted = _claimed(done.filter(_any_takedown()).filter(_has_words()), _redact_conversations)
    _recorded("conversations_redacted", redacted, "FIG_INBOX_KEEP_DAYS")
    return _recorded("conversations_deleted", deleted, "FIG_INBOX_KEEP_DAYS") + redacted


def _claimed(due: QuerySet, handle: Callable[[list[int]], None]) -> int:
    """Claim the rows of `due` BATCH at a time under their locks and `handle` their ids in that transaction."""
    handled = 0
    while True:
        with transaction.atomic():
            pks = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:BATCH])
            if pks:
                handle(pks)
        handled += len(pks)
        if len(pks) < BATCH:
            return handled


def _delete_conversations(pks: list[int]) -> None:
    blobs_delete_after_commit(_attachment_blobs(Message.objects.filter(conversation__in=pks)))
    Conversation.objects.filter(pk__in=pks).delete()  # messages, notes, pass-ons and family flags cascade


def _redact_conversations(pks: list[int]) -> None:
    items = Takedown.objects.filter(item__isnull=False).values("item_id")
    messages = Message.objects.filter(conversation__in=pks)
    blobs_delete_after_commit(_attachment_blobs(messages))
    messages.exclude(pk__in=items).delete()
    messages.update(**MESSAGE_WORDS)
    ConversationNote.objects.filter(conversation__in=pks).delete()
    PassOn.objects.filter(conversation__in=pks).delete()
    Conversation.flagged_families.through.objects.filter(conversation__in=pks).delete()
    Conversation.objects.filter(pk__in=pks).update(**CONVERSATION_WORDS)


def delete_webhook_deliveries(now: datetime) -> int:
    """Meta's deliveries as they came, FIG_WEBHOOK_KEEP_DAYS after they were ingested (the messages they
    brought are stored on their own). Never one not yet ingested: it is the only copy."""
    due = WebhookDelivery.objects.filter(ingested_at__lte=now - _days("FIG_WEBHOOK_KEEP_DAYS"))
    return _recorded("webhook_deliveries_deleted", _delete_in_batches(due), "FIG_WEBHOOK_KEEP_DAYS")


# --- logs ------------------------------------------------------------------------------------------------------


def delete_access_logs(now: datetime) -> int:
    """Who viewed or downloaded which photo, FIG_ACCESS_LOG_KEEP_DAYS after they did."""
    due = PhotoAccess.objects.filter(at__lte=now - _days("FIG_ACCESS_LOG_KEEP_DAYS"))
    return _recorded("access_logs_deleted", _delete_in_batches(due, append_only=True), "FIG_ACCESS_LOG_KEEP_DAYS")


def delete_audit_events(now: datetime) -> int:
    """The audit trail, FIG_AUDIT_KEEP_DAYS after each event, whatever it was about: what must outlive that
    (a consent record, a breach report) is kept in its own row, not in the trail."""
    due = AuditEvent.objects.filter(occurred_at__lte=now - _days("FIG_AUDIT_KEEP_DAYS"))
    return _recorded("audit_events_deleted", _delete_in_batches(due, append_only=True), "FIG_AUDIT_KEEP_DAYS")


def delete_expired_sessions(now: datetime) -> int:
    """Sessions past their expiry (Django's clearsessions), and allauth's record of each sign-in (address and
    browser) once its session has gone. Returns how many sessions were deleted."""
    engine = settings.SESSION_ENGINE
    if engine not in ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"):
        import_module(engine).SessionStore.clear_expired()  # a cache or cookies: they expire on their own
        return 0
    deleted = _delete_in_batches(Session.objects.filter(expire_date__lte=now))
    from allauth.usersessions.models import UserSession

    _delete_in_batches(
        UserSession.objects.filter(last_seen_at__lte=now - SIGN_IN_RECORD_GRACE).exclude(
            session_key__in=Session.objects.values("session_key")
        )
    )
    return deleted


# --- the sweep -------------------------------------------------------------------------------------------------


def _kinds() -> list[tuple[str, Callable[[datetime], int]]]:
    """In order: erasures first (they delete photos and signatures too), then what closed families leave."""
    return [
        ("erased_on_request", erasures_due),
        ("closed_families_erased", erase_closed_families),
        ("closed_family_photos_deleted", delete_closed_family_photos),
        ("signatures_removed", remove_signatures),
        ("conversations_deleted", delete_old_conversations),
        ("webhook_deliveries_deleted", delete_webhook_deliveries),
        ("access_logs_deleted", delete_access_logs),
        ("audit_events_deleted", delete_audit_events),
        ("sessions_deleted", delete_expired_sessions),
    ]


def retention_sweep(now: datetime | None = None) -> dict[str, int]:
    """Every retention period, and the erasure requests past their review. One kind failing does not stop
    the others; the first failure is raised at the end, so the task shows it. Sent emails are pruned by the
    outbox task (staff.notifications.prune_outbox) and photos past FIG_PHOTO_RETENTION_DAYS by the vault
    sweep, so neither is here."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    failure: Exception | None = None
    for name, sweep in _kinds():
        try:
            done[name] = sweep(now)
        except Exception as error:  # noqa: BLE001 - the other kinds must still run; raised below
            log.exception("Retention: %s failed; the next sweep tries again.", name)
            failure = failure or error
    if failure is not None:
        raise failure
    return done
