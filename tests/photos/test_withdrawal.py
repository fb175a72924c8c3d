"""Consent withdrawn, and photos that have been kept long enough: the deletion queue, the lawful reason
to keep, the sweep that deletes the bytes, and the audit trail that stays."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection, transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from consents.models import Carer, Child, Family, Purpose
from photos import sweeps
from photos.models import Photo, PhotoAccess
from photos.selectors import uses_for_photos
from photos.services import UploadError, photo_delete, photo_keep, photo_upload
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import all_answers, request_for, sign, withdraw
from tests.photos.fixtures import consented_child, ready_photo, unique_jpeg

DAY = timedelta(days=1)
REASON = "Evidence in an open safeguarding case; the police asked us to keep it."


@dataclass
class World:
    family: Family
    ava: Child
    ava_carer: Carer
    ben: Child
    solo_ava: Photo
    group: Photo  # Ava and Ben
    solo_ben: Photo


@pytest.fixture
def world(coordinator) -> World:
    family, ava, ava_carer = consented_child(coordinator=coordinator)
    _, ben, _ = consented_child(family)
    photographer = factories.staff_user("photographer")
    return World(
        family,
        ava,
        ava_carer,
        ben,
        ready_photo(family, [ava], photographer),
        ready_photo(family, [ava, ben], photographer),
        ready_photo(family, [ben], photographer),
    )


def _withdraw(child, carer, purposes):
    """Withdraw through the consent service (the parent's and the coordinator's path) and send its emails."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return withdraw(child, carer, purposes)


def _sweep(fn, now):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn(now)


def _fresh(photo: Photo) -> Photo:
    return Photo.objects.get(pk=photo.pk)


def _blob_paths(photo: Photo) -> list[Path]:
    return [Path(settings.FIG_VAULT_DIR) / name for name in (photo.original_blob, photo.thumbnail_blob)]


# --- the withdrawal -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", [Purpose.PHOTOGRAPHED, Purpose.STORED])
def test_withdrawing_consent_to_be_photographed_or_kept_queues_the_childs_photos(world, coordinator, purpose):
    before = timezone.now()
    record = _withdraw(world.ava, world.ava_carer, [purpose])
    after = timezone.now()

    grace = timedelta(days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS)
    assert grace == 7 * DAY
    for photo in (world.solo_ava, world.group):  # the group photo too: Ava is in it
        queued = _fresh(photo)
        assert before + grace <= queued.deletion_due_at <= after + grace
        assert queued.deletion_reason == "Consent to be photographed or kept was withdrawn."
        assert queued.status == Photo.Status.READY  # still there during the grace period
    assert _fresh(world.solo_ben).deletion_due_at is None

    event = AuditEvent.objects.get(action="photo.deletion_queued")
    assert sorted(event.details.pop("photos")) == sorted([world.solo_ava.pk, world.group.pk])
    assert event.details == {"child": world.ava.pk, "withdrawal": record.pk, "requeued_after_keep": []}
    told = [m for m in mail.outbox if m.to == [coordinator.email]]
    assert len(told) == 1
    assert told[0].subject == f"Photos queued for deletion in family {world.family.reference}"
    assert "2 photos will be deleted" in told[0].body
    assert reverse("photos:deletion_queue") in told[0].body


@pytest.mark.django_db
def test_the_deletion_queue_lists_the_queued_photos_soonest_first(client, world, coordinator):
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    client.force_login(coordinator)
    response = client.get(reverse("photos:deletion_queue"))
    assert response.status_code == 200
    assert set(response.context["page"].object_list) == {world.solo_ava, world.group}
    assert "Consent to be photographed or kept was withdrawn." in response.content.decode()
    outsider = factories.staff_user("coordinator")
    client.force_login(outsider)
    assert list(client.get(reverse("photos:deletion_queue")).context["page"].object_list) == []


@pytest.mark.django_db
def test_the_grace_period_is_configurable(world, settings):
    settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS = 2
    _withdraw(world.ava, world.ava_carer, [Purpose.STORED])
    due = _fresh(world.solo_ava).deletion_due_at
    assert timedelta(days=2) - timedelta(minutes=1) < due - timezone.now() <= timedelta(days=2)


@pytest.mark.django_db
def test_withdrawing_online_only_narrows_the_uses(client, world, coordinator):
    assert Purpose.ONLINE in uses_for_photos([world.solo_ava])[world.solo_ava.pk]
    _withdraw(world.ava, world.ava_carer, [Purpose.ONLINE, Purpose.FACE_ONLINE])

    uses = uses_for_photos([_fresh(world.solo_ava), _fresh(world.group), _fresh(world.solo_ben)])
    assert Purpose.ONLINE not in uses[world.solo_ava.pk] and Purpose.ONLINE not in uses[world.group.pk]
    assert Purpose.ONLINE in uses[world.solo_ben.pk]
    assert Purpose.PHOTOGRAPHED in uses[world.solo_ava.pk]
    assert not Photo.objects.filter(deletion_due_at__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="photo.deletion_queued").exists()
    assert [m.to for m in mail.outbox] == [[world.ava_carer.email]]  # the carer's own confirmation only
    client.force_login(coordinator)
    assert client.get(reverse("photos:detail", args=[world.solo_ava.public_id])).context["keep_form"] is None


@pytest.mark.django_db
def test_a_photo_still_processing_is_queued_too(world, coordinator):
    batch = photo_upload(
        family=world.family, children=[world.ava], files=[unique_jpeg()], no_child_identifiable=False, by=coordinator
    )  # its task has not run yet
    photo = batch.photos.get()
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    assert _fresh(photo).deletion_due_at is not None
    assert _sweep(sweeps.delete_due, timezone.now() + 8 * DAY) == 3
    gone = _fresh(photo)
    assert gone.status == Photo.Status.DELETED and not gone.incoming_blob
    assert not (Path(settings.FIG_VAULT_DIR) / photo.incoming_blob).exists()


# --- the sweep deletes after the grace period -----------------------------------------------


@pytest.mark.django_db
def test_after_the_grace_period_the_sweep_deletes_the_bytes_but_keeps_the_record(client, world, coordinator):
    client.force_login(coordinator)
    for size in ("thumbnail", "full"):
        assert client.get(reverse("photos:image", args=[world.solo_ava.public_id, size])).status_code == 200
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    paths = _blob_paths(world.solo_ava) + _blob_paths(world.group)
    assert all(path.exists() for path in paths)
    due = _fresh(world.solo_ava).deletion_due_at

    assert _sweep(sweeps.delete_due, due - timedelta(minutes=1)) == 0  # not before the day
    assert all(path.exists() for path in paths)

    assert _sweep(sweeps.delete_due, due + timedelta(minutes=1)) == 2
    assert not any(path.exists() for path in paths)  # the vault files are gone
    for photo in (world.solo_ava, world.group):
        gone = _fresh(photo)
        assert gone.status == Photo.Status.DELETED and gone.deleted_at is not None
        assert gone.deletion_reason == "Consent withdrawn; grace period over."
        assert not (gone.original_blob or gone.thumbnail_blob or gone.original_key_id or gone.thumbnail_key_id)
        assert list(gone.children.all())  # the tags stay: whose photo it was is part of the record
    assert _fresh(world.solo_ben).status == Photo.Status.READY and all(p.exists() for p in _blob_paths(world.solo_ben))

    # The access log and the audit trail stay.
    assert PhotoAccess.objects.filter(photo=world.solo_ava).count() == 2
    actions = set(
        AuditEvent.objects.filter(target_type="photos.photo", target_id=str(world.solo_ava.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == {"photo.stored", "photo.deleted"}
    assert AuditEvent.objects.filter(action="photo.deletion_queued").exists()

    # Nobody sees it any more, and running the sweep again does nothing.
    assert client.get(reverse("photos:detail", args=[world.solo_ava.public_id])).status_code == 404
    assert client.get(reverse("photos:image", args=[world.solo_ava.public_id, "full"])).status_code == 404
    assert world.solo_ava not in [c["photo"] for c in client.get(reverse("photos:gallery")).context["cards"]]
    assert client.get(reverse("photos:access_log", args=[world.solo_ava.public_id])).status_code == 404
    assert _sweep(sweeps.delete_due, due + 2 * DAY) == 0
    assert AuditEvent.objects.filter(action="photo.deleted").count() == 2


@pytest.mark.django_db
def test_deleting_twice_is_harmless(world):
    photo_delete(photo_id=world.solo_ava.pk, reason="Test")
    photo_delete(photo_id=world.solo_ava.pk, reason="Test again")
    assert _fresh(world.solo_ava).deletion_reason == "Test"
    assert AuditEvent.objects.filter(action="photo.deleted").count() == 1


# --- a lawful reason to keep ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_coordinators_lawful_reason_stops_the_deletion(client, world, coordinator):
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    due = _fresh(world.solo_ava).deletion_due_at
    client.force_login(coordinator)

    response = client.post(reverse("photos:keep", args=[world.solo_ava.public_id]), {"reason": REASON})

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The reason is recorded; the photo will not be deleted."
    ]
    kept = _fresh(world.solo_ava)
    assert (kept.keep_reason, kept.keep_recorded_by, kept.deletion_due_at) == (REASON, coordinator, None)
    event = AuditEvent.objects.get(action="photo.kept")
    assert (event.actor, event.details) == (coordinator, {"reason": REASON})

    assert _sweep(sweeps.delete_due, due + DAY) == 1  # only the group photo, which nobody kept
    assert _fresh(world.solo_ava).status == Photo.Status.READY
    assert all(path.exists() for path in _blob_paths(world.solo_ava))
    assert _fresh(world.group).status == Photo.Status.DELETED
    page = client.get(reverse("photos:detail", args=[world.solo_ava.public_id]))
    assert REASON in page.content.decode()
    assert world.solo_ava not in client.get(reverse("photos:deletion_queue")).context["page"].object_list


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", [Purpose.PHOTOGRAPHED, Purpose.STORED])
def test_a_kept_group_photo_is_queued_again_when_another_child_in_it_withdraws(client, world, coordinator, purpose):
    # Ava's withdrawal queues the group photo; the coordinator keeps it for a lawful reason. That reason
    # answered Ava's withdrawal: when Ben's consent is withdrawn later, the photo is queued again and the
    # coordinators are told, or it would stay in the vault with nobody deciding for Ben.
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    client.force_login(coordinator)
    assert client.post(reverse("photos:keep", args=[world.group.public_id]), {"reason": REASON}).status_code == 302
    assert _fresh(world.group).deletion_due_at is None
    mail.outbox.clear()

    before = timezone.now()
    record = _withdraw(world.ben, world.ava_carer, [purpose])  # the family's one carer is Ben's too

    grace = timedelta(days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS)
    group = _fresh(world.group)
    assert before + grace <= group.deletion_due_at <= timezone.now() + grace
    assert (group.keep_reason, group.keep_recorded_by) == ("", None)
    assert group.deletion_reason.startswith("Consent to be photographed or kept was withdrawn again after this photo")
    assert _fresh(world.solo_ben).deletion_due_at is not None
    queued = AuditEvent.objects.filter(action="photo.deletion_queued").latest("id")
    assert sorted(queued.details["photos"]) == sorted([world.group.pk, world.solo_ben.pk])
    assert (queued.details["requeued_after_keep"], queued.details["withdrawal"]) == ([world.group.pk], record.pk)
    assert AuditEvent.objects.get(action="photo.kept").details == {"reason": REASON}  # the history stays

    [told] = [m for m in mail.outbox if m.to == [coordinator.email]]
    assert "2 photos will be deleted" in told.body
    assert "1 of them was kept for a lawful reason after an earlier withdrawal" in told.body
    page = client.get(reverse("photos:detail", args=[world.group.public_id]))
    assert "This photo will be deleted on" in page.content.decode() and page.context["keep_form"] is not None
    assert world.group in client.get(reverse("photos:deletion_queue")).context["page"].object_list

    assert _sweep(sweeps.delete_due, group.deletion_due_at + DAY) == 3  # and Ava's and Ben's own
    assert _fresh(world.group).status == Photo.Status.DELETED


@pytest.mark.django_db
def test_a_photo_kept_and_queued_again_can_be_kept_again(client, world, coordinator):
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    photo_keep(photo=_fresh(world.group), reason=REASON, by=coordinator)
    _withdraw(world.ben, world.ava_carer, [Purpose.STORED])
    second = "Still evidence in the same safeguarding case, now for both children."
    client.force_login(coordinator)
    client.post(reverse("photos:keep", args=[world.group.public_id]), {"reason": second})
    group = _fresh(world.group)
    assert (group.keep_reason, group.deletion_due_at) == (second, None)
    reasons = AuditEvent.objects.filter(action="photo.kept").order_by("id").values_list("details__reason", flat=True)
    assert list(reasons) == [REASON, second]


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   ", "because"])
def test_it_refuses_a_keep_without_a_real_reason(client, world, coordinator, reason):
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    client.force_login(coordinator)
    response = client.post(reverse("photos:keep", args=[world.solo_ava.public_id]), {"reason": reason})
    assert response.status_code == 302
    assert "Write the lawful reason" in [str(m) for m in get_messages(response.wsgi_request)][-1]
    assert _fresh(world.solo_ava).keep_reason == ""
    assert _fresh(world.solo_ava).deletion_due_at is not None


@pytest.mark.django_db
def test_it_refuses_to_keep_a_photo_that_is_not_queued(client, world, coordinator):
    # A reason recorded in advance would stop a later withdrawal from ever queueing the photo.
    client.force_login(coordinator)
    response = client.post(reverse("photos:keep", args=[world.solo_ava.public_id]), {"reason": REASON})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "This photo is not waiting to be deleted, so there is nothing to keep it from."
    ]
    assert _fresh(world.solo_ava).keep_reason == ""
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    assert _fresh(world.solo_ava).deletion_due_at is not None


@pytest.mark.django_db
def test_it_refuses_to_keep_a_deleted_photo(world, coordinator):
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    photo_delete(photo_id=world.solo_ava.pk, reason="Consent withdrawn; grace period over.")
    with pytest.raises(UploadError, match="already been deleted"):
        photo_keep(photo=world.solo_ava, reason=REASON, by=coordinator)


@pytest.mark.django_db
def test_a_reason_recorded_after_the_sweep_listed_the_photo_still_saves_it(world, coordinator, monkeypatch):
    # The sweep deletes the due photos one by one, each read again under its row lock; a keep
    # recorded meanwhile (a coordinator acting while a long sweep runs) must still win.
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    due = _fresh(world.solo_ava).deletion_due_at
    real = sweeps.transaction

    class KeepsBeforeTheFirstLock:
        kept = False

        def atomic(self, *args, **kwargs):
            if not self.kept:
                photo_keep(photo=_fresh(world.solo_ava), reason=REASON, by=coordinator)
                self.kept = True
            return real.atomic(*args, **kwargs)

    monkeypatch.setattr(sweeps, "transaction", KeepsBeforeTheFirstLock())
    assert _sweep(sweeps.delete_due, due + DAY) == 1
    assert _fresh(world.solo_ava).status == Photo.Status.READY
    assert all(path.exists() for path in _blob_paths(world.solo_ava))
    assert _fresh(world.group).status == Photo.Status.DELETED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deletion_sweep_passes_over_a_photo_another_holds_and_leaves_it_for_the_next_run(world):
    # Two sweeps at once (or a coordinator recording a reason to keep): the photo the other holds is
    # skipped, not waited for, and whichever deletes it deletes it once.
    assert connection.vendor == "postgresql"
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    due = _fresh(world.solo_ava).deletion_due_at
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Photo.objects.select_for_update().get(pk=world.group.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a sweep that waited for the lock fails, not hangs
        assert _sweep(sweeps.delete_due, due + DAY) == 1
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert (_fresh(world.solo_ava).status, _fresh(world.group).status) == (Photo.Status.DELETED, Photo.Status.READY)
    assert _sweep(sweeps.delete_due, due + DAY) == 1
    assert _fresh(world.group).status == Photo.Status.DELETED
    assert AuditEvent.objects.filter(action="photo.deleted").count() == 2


# --- retention ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_photos_past_the_retention_period_are_deleted_with_their_blobs(world, coordinator, settings):
    assert settings.FIG_PHOTO_RETENTION_DAYS == 3 * 365
    now = timezone.now()
    old = ready_photo(world.family, [world.ava], coordinator, at=now - timedelta(days=3 * 365, minutes=1))
    young = ready_photo(world.family, [world.ava], coordinator, at=now - timedelta(days=3 * 365 - 1))
    PhotoAccess.objects.create(photo=old, user=coordinator, action=PhotoAccess.Action.VIEW)
    old_paths = _blob_paths(old)
    assert all(path.exists() for path in old_paths)

    assert _sweep(sweeps.apply_retention, now) == 1

    gone = _fresh(old)
    assert gone.status == Photo.Status.DELETED
    assert gone.deletion_reason == "Retention period of 1095 days is over."
    assert not any(path.exists() for path in old_paths)
    assert _fresh(young).status == Photo.Status.READY and all(path.exists() for path in _blob_paths(young))
    assert PhotoAccess.objects.filter(photo=old).count() == 1  # the audit trail stays
    assert set(
        AuditEvent.objects.filter(target_type="photos.photo", target_id=str(old.pk)).values_list("action", flat=True)
    ) == {"photo.stored", "photo.deleted"}
    assert _sweep(sweeps.apply_retention, now) == 0


@pytest.mark.django_db
def test_the_retention_period_is_configurable(world, coordinator, settings):
    settings.FIG_PHOTO_RETENTION_DAYS = 30
    now = timezone.now()
    old = ready_photo(world.family, [world.ava], coordinator, at=now - timedelta(days=31))
    assert sweeps.vault_sweep(now)["retention"] == 1
    assert _fresh(old).status == Photo.Status.DELETED
    assert _fresh(world.solo_ava).status == Photo.Status.READY


@pytest.mark.django_db
def test_repeating_a_no_already_in_force_leaves_a_kept_photo_kept(world, coordinator):
    # Ava's withdrawal queues the group photo, which is kept for a lawful reason. Later her carer repeats
    # the same "no" (a second withdrawal, as a re-consent form answered "no" also does): nothing new is
    # taken away, so the keep stands. Ben's first withdrawal afterwards does take something away.
    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED])
    photo_keep(photo=_fresh(world.group), reason=REASON, by=coordinator)

    _withdraw(world.ava, world.ava_carer, [Purpose.PHOTOGRAPHED, Purpose.STORED])
    sign(request_for(world.ava, world.ava_carer), answers=all_answers(True, photographed=False, stored=False))

    group = _fresh(world.group)
    assert (group.keep_reason, group.deletion_due_at) == (REASON, None)
    _withdraw(world.ben, world.ava_carer, [Purpose.STORED])
    group = _fresh(world.group)
    assert group.keep_reason == "" and group.deletion_due_at is not None
