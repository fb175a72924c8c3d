"""Retention: each kind of data goes when its time is over, and not a minute before; blobs leave storage with
their rows; another family, and another kind of data, are untouched; a second run with the clock moved on a
little does nothing more (the clock is moved with `now=`, never slept)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from allauth.usersessions.models import UserSession
from celery.schedules import crontab
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from consents import retention
from consents.models import Child, ConsentRecord, ErasureRequest, Family
from consents.selectors import consent_valid_for
from consents.services import signing as consent_services
from consents.services.closure import family_close
from consents.services.erasure import erasure_request_record
from fig_safety.celery import app
from fig_safety.vault import vault_save
from photos.models import Photo, PhotoAccess
from social.models import Conversation, ConversationNote, Message, PassOn, Takedown, WebhookDelivery
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import EVIDENCE, all_answers, family_with_child, request_for, sign
from tests.photos import images
from tests.photos.fixtures import bulk_photos, consented_child, ready_photo

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# The second run: the clock moved on a little, less than the hour the rows just in time have left.
LATER = timedelta(minutes=10)
SWEEP = "consents.tasks.retention_sweep"


def days(setting: str) -> timedelta:
    return timedelta(days=getattr(settings, setting))


def in_vault(name: str) -> bool:
    return (Path(settings.FIG_VAULT_DIR) / name).is_file()


def blobs_of(photo: Photo) -> list[str]:
    return [
        name
        for name in (
            photo.original_blob,
            photo.thumbnail_blob,
            photo.incoming_blob,
            photo.unidentifiable_blob,
            photo.unidentifiable_thumbnail_blob,
        )
        if name
    ]


def retention_events(kind: str) -> list[dict]:
    return list(AuditEvent.objects.filter(action=f"retention.{kind}").values_list("details", flat=True))


def close(family: Family, coordinator, at) -> None:
    family_close(family=family, by=coordinator, reason="FiG no longer works with this family.")
    Family.objects.filter(pk=family.pk).update(closed_at=at)


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


# --- photos of a closed family ---------------------------------------------------------------------------------


def test_photos_of_a_family_closed_long_enough_are_deleted_with_their_blobs(
    coordinator, photographer, django_capture_on_commit_callbacks
):
    now = timezone.now()
    closed, child, _ = consented_child(coordinator=coordinator)
    recent, recent_child, _ = consented_child(coordinator=coordinator)
    open_family, open_child, _ = consented_child(coordinator=coordinator)
    own = ready_photo(closed, [child], photographer)
    group = ready_photo(open_family, [open_child, child], photographer)  # shows the closed family's child
    kept_for_a_reason = ready_photo(closed, [child], photographer)
    Photo.objects.filter(pk=kept_for_a_reason.pk).update(keep_reason="Evidence in a safeguarding case.")
    in_time = ready_photo(recent, [recent_child], photographer)
    untouched = ready_photo(open_family, [open_child], photographer)
    close(closed, coordinator, now - days("FIG_CLOSED_FAMILY_PHOTO_DAYS") - MINUTE)
    close(recent, coordinator, now - days("FIG_CLOSED_FAMILY_PHOTO_DAYS") + HOUR)
    doomed = blobs_of(own) + blobs_of(group)
    assert doomed and all(in_vault(name) for name in doomed)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.delete_closed_family_photos(now) == 2

    statuses = dict(Photo.objects.values_list("pk", "status"))
    assert statuses[own.pk] == statuses[group.pk] == Photo.Status.DELETED
    assert statuses[kept_for_a_reason.pk] == statuses[in_time.pk] == statuses[untouched.pk] == Photo.Status.READY
    assert not any(in_vault(name) for name in doomed)
    for photo in (kept_for_a_reason, in_time, untouched):
        assert all(in_vault(name) for name in blobs_of(photo))
    assert retention_events("closed_family_photos_deleted") == [
        {"count": 2, "setting": "FIG_CLOSED_FAMILY_PHOTO_DAYS", "days": settings.FIG_CLOSED_FAMILY_PHOTO_DAYS}
    ]

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.delete_closed_family_photos(now + LATER) == 0
    assert Photo.objects.filter(status=Photo.Status.READY).count() == 3
    assert len(retention_events("closed_family_photos_deleted")) == 1  # nothing done, nothing recorded


# --- consent records of a closed family ------------------------------------------------------------------------


def test_a_family_closed_long_enough_is_erased_keeping_the_evidence(coordinator, django_capture_on_commit_callbacks):
    now = timezone.now()
    old, old_child, (old_carer,) = family_with_child(coordinator)
    recent, recent_child, (recent_carer,) = family_with_child(coordinator)
    open_family, open_child, (open_carer,) = family_with_child(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        signed = sign(request_for(old_child, old_carer))
        in_time = sign(request_for(recent_child, recent_carer))
        untouched = sign(request_for(open_child, open_carer))
    close(old, coordinator, now - days("FIG_CLOSED_FAMILY_KEEP_DAYS") - MINUTE)
    close(recent, coordinator, now - days("FIG_CLOSED_FAMILY_KEEP_DAYS") + HOUR)
    assert in_vault(signed.signature_blob)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.erase_closed_families(now) == 1

    old.refresh_from_db()
    assert old.erased_at == now
    assert Child.objects.get(pk=old_child.pk).first_name == "Child 1"
    record = ConsentRecord.objects.get(pk=signed.pk)
    assert (record.signature_blob, record.typed_name) == ("", "")
    assert (record.evidence_sha256, record.answers, record.signed_at) == (
        signed.evidence_sha256,
        signed.answers,
        signed.signed_at,
    )
    assert not in_vault(signed.signature_blob)
    for family, child, record in ((recent, recent_child, in_time), (open_family, open_child, untouched)):
        family.refresh_from_db()
        assert family.erased_at is None
        assert Child.objects.get(pk=child.pk).first_name == child.first_name
        assert ConsentRecord.objects.get(pk=record.pk).signature_blob == record.signature_blob
        assert in_vault(record.signature_blob)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.erase_closed_families(now + LATER) == 0
    assert AuditEvent.objects.filter(action="family.erased").count() == 1


# --- signatures and scans --------------------------------------------------------------------------------------


def test_signatures_and_scans_go_after_their_time_and_the_record_stays(coordinator, django_capture_on_commit_callbacks):
    now = timezone.now()
    due_at = now - consent_valid_for() - days("FIG_SIGNATURE_KEEP_DAYS")
    family, child, (carer,) = family_with_child(coordinator)
    other, other_child, (other_carer,) = family_with_child(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        past = sign(request_for(child, carer, at=due_at - MINUTE), at=due_at - MINUTE)
        scanned = _scanned(child, carer, coordinator, at=due_at - MINUTE)
        in_time = sign(request_for(other_child, other_carer, at=due_at + HOUR), at=due_at + HOUR)
    doomed = [past.signature_blob, scanned.scan_blob]
    assert all(in_vault(name) for name in doomed) and in_vault(in_time.signature_blob)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.remove_signatures(now) == 2

    assert not any(in_vault(name) for name in doomed)
    for before in (past, scanned):
        after = ConsentRecord.objects.get(pk=before.pk)
        assert (after.signature_blob, after.signature_key_id, after.scan_blob, after.scan_key_id) == ("", "", "", "")
        # The evidence stays: what was decided, when, and the hashes that prove it.
        assert (after.evidence_sha256, after.text_sha256, after.answers, after.signed_at, after.typed_name) == (
            before.evidence_sha256,
            before.text_sha256,
            before.answers,
            before.signed_at,
            before.typed_name,
        )
    assert ConsentRecord.objects.get(pk=in_time.pk).signature_blob == in_time.signature_blob
    assert in_vault(in_time.signature_blob)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.remove_signatures(now + LATER) == 0
    assert in_vault(in_time.signature_blob)
    assert [event["count"] for event in retention_events("signatures_removed")] == [2]


def _scanned(child, carer, coordinator, *, at) -> ConsentRecord:
    from tests.consents.factories import frozen

    with frozen(at):
        return consent_services.consent_record_offline(
            child=child,
            carer=carer,
            answers=all_answers(),
            method=ConsentRecord.Method.PAPER,
            taken_by="A. Coordinator",
            by=coordinator,
            scan=(images.pdf(), "application/pdf"),
            evidence=EVIDENCE,
        )


# --- the inbox -------------------------------------------------------------------------------------------------


def _answered(text: str, at, *, status: str = Conversation.Status.ANSWERED) -> Conversation:
    fields = {"responded_at": at} if status == Conversation.Status.ANSWERED else {"closed_at": at}
    conversation = factories.make_conversation(
        text, received_at=at - HOUR, status=status, sender_name="Hollis Pemberton", sender_id="psid-1", **fields
    )
    return conversation


def test_conversations_answered_or_closed_long_ago_are_deleted_with_everything_in_them(
    coordinator, django_capture_on_commit_callbacks
):
    now = timezone.now()
    due_at = now - days("FIG_INBOX_KEEP_DAYS")
    answered = _answered("Thanks for the day out", due_at - MINUTE)
    closed = _answered("Spam", due_at - MINUTE, status=Conversation.Status.CLOSED)
    ConversationNote.objects.create(conversation=answered, text="Hollis is a volunteer", by=coordinator)
    PassOn.objects.create(conversation=answered, to=coordinator, note="For you", by=coordinator)
    attachment = vault_save(images.jpeg(), folder="inbox-attachments")
    Message.objects.filter(conversation=answered).update(attachments=[{"blob": attachment.name, "key_id": "k"}])
    in_time = _answered("Answered just in time", due_at + HOUR)
    still_open = factories.make_conversation("Old and never answered", received_at=due_at - timedelta(days=30))
    late_message = _answered("Answered long ago, but wrote again", due_at - MINUTE)
    Message.objects.create(
        conversation=late_message, platform="messenger", event="message", text="One more thing", at=due_at + HOUR
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.delete_old_conversations(now) == 2

    assert set(Conversation.objects.values_list("pk", flat=True)) == {in_time.pk, still_open.pk, late_message.pk}
    assert not Message.objects.filter(conversation_id__in=[answered.pk, closed.pk]).exists()
    assert not ConversationNote.objects.exists() and not PassOn.objects.exists()
    assert not in_vault(attachment.name)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.delete_old_conversations(now + LATER) == 0
    assert Conversation.objects.count() == 3


def test_a_conversation_a_takedown_names_keeps_its_row_and_loses_its_words(
    coordinator, django_capture_on_commit_callbacks
):
    now = timezone.now()
    due_at = now - days("FIG_INBOX_KEEP_DAYS")
    conversation = _answered("A photo of Hollis Pemberton's boy", due_at - MINUTE)
    item = conversation.messages.get()
    attachment = vault_save(images.jpeg(), folder="inbox-attachments")
    Message.objects.filter(pk=item.pk).update(
        attachments=[{"blob": attachment.name, "key_id": "k"}], flagged_names=["Pemberton"]
    )
    other = Message.objects.create(
        conversation=conversation, platform="messenger", event="message", text="Hollis again", at=due_at - HOUR
    )
    ConversationNote.objects.create(conversation=conversation, text="Hollis Pemberton's boy", by=coordinator)
    takedown = Takedown.objects.create(
        message=conversation,
        item=item,
        reason="It names a family.",
        due_at=due_at - timedelta(days=1),
        status=Takedown.Status.REMOVED,
        removed_at=due_at - timedelta(days=1),
    )
    still_open = _answered("Taken down? Not yet", due_at - MINUTE)
    Takedown.objects.create(
        message=still_open, item=still_open.messages.get(), reason="It names a family.", due_at=now + HOUR
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.delete_old_conversations(now) == 1

    conversation.refresh_from_db()
    assert (conversation.text, conversation.sender_name, conversation.sender_id, conversation.thread) == (
        "",
        "",
        "",
        None,
    )
    assert list(conversation.messages.values_list("pk", "text", "attachments", "flagged_names")) == [
        (item.pk, "", [], [])
    ]
    assert not Message.objects.filter(pk=other.pk).exists()
    assert not ConversationNote.objects.filter(conversation=conversation).exists()
    assert not in_vault(attachment.name)
    assert Takedown.objects.filter(pk=takedown.pk, item=item).exists()  # the record of what came down stays
    still_open.refresh_from_db()
    assert still_open.text == "Taken down? Not yet" and still_open.sender_name == "Hollis Pemberton"

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.delete_old_conversations(now + LATER) == 0
    assert [event["count"] for event in retention_events("conversations_redacted")] == [1]


# --- webhook deliveries, access logs, audit events, sessions ---------------------------------------------------


def test_webhook_deliveries_go_a_while_after_they_were_ingested_and_never_before():
    now = timezone.now()
    due_at = now - days("FIG_WEBHOOK_KEEP_DAYS")
    past = WebhookDelivery.objects.create(body=b"{}", received_at=due_at - HOUR, ingested_at=due_at - MINUTE)
    in_time = WebhookDelivery.objects.create(body=b"{}", received_at=due_at, ingested_at=due_at + HOUR)
    waiting = WebhookDelivery.objects.create(body=b"{}", received_at=due_at - timedelta(days=30))

    assert retention.delete_webhook_deliveries(now) == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {in_time.pk, waiting.pk}
    assert past.pk not in WebhookDelivery.objects.values_list("pk", flat=True)
    assert retention.delete_webhook_deliveries(now + LATER) == 0


def test_photo_access_logs_go_after_their_time(coordinator, photographer):
    now = timezone.now()
    due_at = now - days("FIG_ACCESS_LOG_KEEP_DAYS")
    family, child, _ = consented_child(coordinator=coordinator)
    [photo] = bulk_photos(family, [child], photographer, 1)
    past = PhotoAccess.objects.create(photo=photo, user=coordinator, action="view", at=due_at - MINUTE)
    in_time = PhotoAccess.objects.create(photo=photo, user=coordinator, action="view", at=due_at + HOUR)

    assert retention.delete_access_logs(now) == 1
    assert list(PhotoAccess.objects.values_list("pk", flat=True)) == [in_time.pk]
    assert past.pk != in_time.pk
    assert retention.delete_access_logs(now + LATER) == 0
    assert Photo.objects.filter(pk=photo.pk, status=Photo.Status.READY).exists()


def test_audit_events_go_after_their_time_and_the_sweep_says_how_many():
    now = timezone.now()
    due_at = now - days("FIG_AUDIT_KEEP_DAYS")
    AuditEvent.objects.create(action="test.past", occurred_at=due_at - MINUTE)
    AuditEvent.objects.create(action="test.in_time", occurred_at=due_at + HOUR)

    assert retention.delete_audit_events(now) == 1
    assert not AuditEvent.objects.filter(action="test.past").exists()
    assert AuditEvent.objects.filter(action="test.in_time").exists()
    assert retention_events("audit_events_deleted") == [
        {"count": 1, "setting": "FIG_AUDIT_KEEP_DAYS", "days": settings.FIG_AUDIT_KEEP_DAYS}
    ]
    assert retention.delete_audit_events(now + LATER) == 0
    assert len(retention_events("audit_events_deleted")) == 1


def test_expired_sessions_and_the_sign_ins_they_leave_are_deleted(parent):
    now = timezone.now()
    Session.objects.create(session_key="expired" + "x" * 25, session_data="", expire_date=now - MINUTE)
    Session.objects.create(session_key="current" + "x" * 25, session_data="", expire_date=now + HOUR)
    sign_in = {"user": parent, "ip": "203.0.113.9", "user_agent": "pytest"}
    UserSession.objects.create(session_key="expired" + "x" * 25, last_seen_at=now - 2 * HOUR, **sign_in)
    UserSession.objects.create(session_key="current" + "x" * 25, last_seen_at=now - 2 * HOUR, **sign_in)
    UserSession.objects.create(session_key="being-written" + "x" * 19, last_seen_at=now, **sign_in)

    assert retention.delete_expired_sessions(now) == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["current" + "x" * 25]
    assert set(UserSession.objects.values_list("session_key", flat=True)) == {
        "current" + "x" * 25,
        "being-written" + "x" * 19,
    }
    assert retention.delete_expired_sessions(now + LATER) == 0


# --- the whole sweep -------------------------------------------------------------------------------------------


def test_the_sweep_does_every_kind_once_and_a_second_run_nothing(
    coordinator, photographer, django_capture_on_commit_callbacks
):
    now = timezone.now()
    requested, requested_child, _ = consented_child(coordinator=coordinator)
    closed, closed_child, _ = consented_child(coordinator=coordinator)
    kept, kept_child, _ = consented_child(coordinator=coordinator)
    ready_photo(closed, [closed_child], photographer)
    kept_photo = ready_photo(kept, [kept_child], photographer)
    erasure = erasure_request_record(
        family=requested, asked_by="The mother, by phone", asked_at=now - timedelta(days=40), by=coordinator
    )
    ErasureRequest.objects.filter(pk=erasure.pk).update(due_at=now - MINUTE)
    close(closed, coordinator, now - days("FIG_CLOSED_FAMILY_PHOTO_DAYS") - MINUTE)
    WebhookDelivery.objects.create(body=b"{}", ingested_at=now - days("FIG_WEBHOOK_KEEP_DAYS") - MINUTE)
    AuditEvent.objects.create(action="test.past", occurred_at=now - days("FIG_AUDIT_KEEP_DAYS") - MINUTE)
    _answered("Thanks", now - days("FIG_INBOX_KEEP_DAYS") - MINUTE)

    with django_capture_on_commit_callbacks(execute=True):
        first = retention.retention_sweep(now)
    assert first == {
        "erased_on_request": 1,
        "closed_families_erased": 0,
        "closed_family_photos_deleted": 1,
        "signatures_removed": 0,
        "conversations_deleted": 1,
        "webhook_deliveries_deleted": 1,
        "access_logs_deleted": 0,
        "audit_events_deleted": 1,
        "sessions_deleted": 0,
    }
    requested.refresh_from_db()
    closed.refresh_from_db()
    kept.refresh_from_db()
    assert requested.erased_at is not None and closed.erased_at is None and kept.erased_at is None
    assert Photo.objects.get(pk=kept_photo.pk).status == Photo.Status.READY
    assert all(in_vault(name) for name in blobs_of(kept_photo))

    with django_capture_on_commit_callbacks(execute=True):
        second = retention.retention_sweep(now + LATER)
    assert second == dict.fromkeys(first, 0)


def test_one_kind_failing_does_not_stop_the_others(monkeypatch):
    ran = []

    def broken(now):
        raise RuntimeError("the vault is away")

    monkeypatch.setattr(retention, "remove_signatures", broken)
    for name in ("delete_webhook_deliveries", "delete_audit_events"):
        monkeypatch.setattr(retention, name, lambda now, name=name: ran.append(name) or 0)
    with pytest.raises(RuntimeError, match="the vault is away"):
        retention.retention_sweep(timezone.now())
    assert ran == ["delete_webhook_deliveries", "delete_audit_events"]


# --- beat ------------------------------------------------------------------------------------------------------


@pytest.fixture
def registered() -> None:
    app.loader.import_default_modules()  # what a worker does at start: finds every app's tasks.py


def test_the_retention_sweep_is_on_the_beat_schedule_hourly_and_registered(registered):
    entries = [entry for entry in app.conf.beat_schedule.values() if entry["task"] == SWEEP]
    assert len(entries) == 1, app.conf.beat_schedule
    schedule = entries[0]["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.hour == set(range(24)) and schedule.day_of_week == set(range(7))
    assert SWEEP in app.tasks and app.tasks[SWEEP].__module__ == "consents.tasks"


def test_the_task_runs_the_sweep(registered, monkeypatch):
    ran = []
    monkeypatch.setattr(retention, "_kinds", lambda: [("one", lambda now: ran.append(now) or 3)])
    assert app.tasks[SWEEP].apply().get() == {"one": 3}
    assert len(ran) == 1
