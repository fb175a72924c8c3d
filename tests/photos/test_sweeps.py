"""Deleted from the device: the photographer's confirmations, the daily reminders, the coordinators'
escalation and list; and the sweep's other chores (stuck uploads, the Celery task)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from photos import sweeps, tasks
from photos.models import Photo, UploadBatch
from photos.services import photo_upload
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import assign
from tests.photos.fixtures import bulk_photos, consented_child, ready_photo, unique_jpeg
from tests.query_counts import STAFF_REQUEST_QUERIES

CONFIRM = reverse("photos:confirm_device_deleted")
UNCONFIRMED = reverse("photos:unconfirmed")
HOUR = timedelta(hours=1)


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def family_and_child(coordinator):
    family, child, _ = consented_child(coordinator=coordinator)
    return family, child


def _batch_of(family, children, by, files: int = 2, at=None) -> UploadBatch:
    """`files` ready photos in one batch."""
    first = ready_photo(family, children, by, at=at)
    for _ in range(files - 1):
        photo = ready_photo(family, children, by, at=at)
        Photo.objects.filter(pk=photo.pk).update(batch=first.batch)
    return first.batch


def _confirmed(*photos: Photo) -> list[bool]:
    return [Photo.objects.get(pk=p.pk).device_deleted_at is not None for p in photos]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _sweep(fn, now) -> int:
    """Run one sweep as beat would and deliver what it queued after commit (the emails)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn(now)


# --- confirming -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_confirms_one_photo(client, photographer, family_and_child):
    family, child = family_and_child
    batch = _batch_of(family, [child], photographer)
    one, two = batch.photos.order_by("id")
    client.force_login(photographer)
    response = client.post(CONFIRM, {"photo": [str(one.public_id)]})
    assert response.status_code == 302
    assert response["Location"] == reverse("photos:my_uploads")
    assert _confirmed(one, two) == [True, False]
    assert _messages(response) == ["Thank you. 1 photo marked as deleted from your device."]
    event = AuditEvent.objects.get(action="photo.device_deleted")
    assert (event.actor, event.details) == (photographer, {"photos": [one.pk], "count": 1})


@pytest.mark.django_db
def test_it_confirms_a_whole_batch_and_goes_back_to_it(client, photographer, family_and_child):
    family, child = family_and_child
    batch = _batch_of(family, [child], photographer, files=3)
    other = ready_photo(family, [child], photographer)  # another batch of theirs
    client.force_login(photographer)
    page = reverse("photos:batch", args=[batch.public_id])
    response = client.post(CONFIRM, {"batch": str(batch.public_id), "next": page})
    assert response["Location"] == page
    assert _confirmed(*batch.photos.all()) == [True, True, True]
    assert _confirmed(other) == [False]
    assert _messages(response) == ["Thank you. 3 photos marked as deleted from your device."]
    # The batch page now says it is done; confirming again changes nothing.
    assert "You confirmed these photos are deleted from your device" in client.get(page).content.decode()
    again = client.post(CONFIRM, {"batch": str(batch.public_id), "next": page})
    assert _messages(again)[-1] == "Nothing to confirm: those photos are already confirmed."
    assert AuditEvent.objects.filter(action="photo.device_deleted").count() == 1


@pytest.mark.django_db
def test_it_confirms_only_the_photographers_own_photos(client, photographer, coordinator, family_and_child):
    family, child = family_and_child
    batch = _batch_of(family, [child], photographer)
    photo = batch.photos.first()
    for someone in (coordinator, factories.staff_user("photographer")):
        client.force_login(someone)
        for data in ({"photo": [str(photo.public_id)]}, {"batch": str(batch.public_id)}):
            response = client.post(CONFIRM, data)
            assert response.status_code == 302
            assert _messages(response)[-1] == "Nothing to confirm: those photos are already confirmed."
    assert _confirmed(*batch.photos.all()) == [False, False]
    assert not AuditEvent.objects.filter(action="photo.device_deleted").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [{}, {"photo": ["not-a-uuid", ""]}, {"batch": "../../etc"}, {"batch": "00000000-0000-0000-0000-000000000000"}],
)
def test_it_shrugs_off_nonsense(client, photographer, family_and_child, data):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer)
    client.force_login(photographer)
    response = client.post(CONFIRM, data)
    assert response.status_code == 302
    assert _confirmed(photo) == [False]


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", ["https://evil.example/photos/", "//evil.example/", "/admin/", "javascript:x"])
def test_it_only_goes_back_to_a_vault_page(client, photographer, family_and_child, next_url):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer)
    client.force_login(photographer)
    response = client.post(CONFIRM, {"photo": [str(photo.public_id)], "next": next_url})
    assert response["Location"] == reverse("photos:my_uploads")


# --- reminders ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reminds_the_photographer_once_a_day_after_24_hours(photographer, family_and_child):
    family, child = family_and_child
    now = timezone.now()
    batch = _batch_of(family, [child], photographer, at=now - 23 * HOUR)

    assert _sweep(sweeps.device_reminders, now) == 0  # not yet a day
    assert mail.outbox == []

    day_one = now + 2 * HOUR
    assert _sweep(sweeps.device_reminders, day_one) == 2
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([photographer.email], "Please delete 2 photo(s) from your device")
    ]
    assert reverse("photos:my_uploads") in mail.outbox[0].body

    # The sweep runs every 15 minutes; later the same day it sends nothing more.
    for later in (day_one + timedelta(minutes=15), day_one + 12 * HOUR, day_one + 23 * HOUR):
        assert _sweep(sweeps.device_reminders, later) == 0
    assert len(mail.outbox) == 1

    assert _sweep(sweeps.device_reminders, day_one + 24 * HOUR) == 2  # the next day, one more
    assert len(mail.outbox) == 2

    Photo.objects.filter(batch=batch).update(device_deleted_at=day_one + 30 * HOUR)
    assert _sweep(sweeps.device_reminders, day_one + 48 * HOUR) == 0  # confirmed: no more reminders
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_it_sends_a_photographer_one_reminder_a_day_for_uploads_made_at_different_times(photographer, family_and_child):
    family, child = family_and_child
    now = timezone.now()
    morning = ready_photo(family, [child], photographer, at=now - 25 * HOUR)
    afternoon = ready_photo(family, [child], photographer, at=now - 20 * HOUR)
    assert _sweep(sweeps.device_reminders, now) == 1  # the morning photo
    assert _sweep(sweeps.device_reminders, now + 5 * HOUR) == 0  # the afternoon one waits for tomorrow's
    assert _sweep(sweeps.device_reminders, now + 24 * HOUR) == 2
    assert [m.subject for m in mail.outbox] == [
        "Please delete 1 photo(s) from your device",
        "Please delete 2 photo(s) from your device",
    ]
    assert {p.pk for p in (morning, afternoon)} == set(
        Photo.objects.filter(device_reminder_sent_at=now + 24 * HOUR).values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_it_reminds_each_photographer_about_their_own_uploads(photographer, family_and_child):
    family, child = family_and_child
    other = factories.staff_user("photographer", email="second.photographer@example.org")
    now = timezone.now()
    ready_photo(family, [child], photographer, at=now - 25 * HOUR)
    ready_photo(family, [child], other, at=now - 25 * HOUR)
    ready_photo(family, [child], other, at=now - 26 * HOUR)
    _sweep(sweeps.device_reminders, now)
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (photographer.email, "Please delete 1 photo(s) from your device"),
        (other.email, "Please delete 2 photo(s) from your device"),
    ]


@pytest.mark.django_db
def test_it_reminds_each_photographer_once_when_the_sweep_takes_several_batches(
    photographer, family_and_child, monkeypatch
):
    # Each batch is claimed after the one before it committed, so it sees that batch's stamps.
    monkeypatch.setattr(sweeps, "BATCH", 2)
    family, child = family_and_child
    second = factories.staff_user("photographer", email="second.photographer@example.org")
    third = factories.staff_user("photographer", email="third.photographer@example.org")
    now = timezone.now()
    for person, count in ((photographer, 2), (second, 2), (third, 1)):
        for _ in range(count):
            ready_photo(family, [child], person, at=now - 25 * HOUR)

    assert _sweep(sweeps.device_reminders, now) == 5  # three batches
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (photographer.email, "Please delete 2 photo(s) from your device"),
        (second.email, "Please delete 2 photo(s) from your device"),
        (third.email, "Please delete 1 photo(s) from your device"),
    ]
    assert not Photo.objects.filter(device_reminder_sent_at__isnull=True).exists()
    assert _sweep(sweeps.device_reminders, now + timedelta(minutes=15)) == 0
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_a_photographer_with_more_than_a_batch_of_photos_gets_one_reminder_a_day(
    photographer, family_and_child, monkeypatch
):
    monkeypatch.setattr(sweeps, "BATCH", 2)
    family, child = family_and_child
    other = factories.staff_user("photographer", email="second.photographer@example.org")
    now = timezone.now()
    for _ in range(3):
        ready_photo(family, [child], photographer, at=now - 25 * HOUR)
    ready_photo(family, [child], other, at=now - 25 * HOUR)

    # The first batch is two of the photographer's three; the second leaves out their third, as they
    # were reminded a moment ago, and takes the other photographer's.
    assert _sweep(sweeps.device_reminders, now) == 3
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (photographer.email, "Please delete 2 photo(s) from your device"),
        (other.email, "Please delete 1 photo(s) from your device"),
    ]
    assert _sweep(sweeps.device_reminders, now + 12 * HOUR) == 0
    assert _sweep(sweeps.device_reminders, now + 24 * HOUR) == 3
    assert sorted(m.to[0] for m in mail.outbox[2:]) == [photographer.email, other.email]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Photo.Status.REFUSED, Photo.Status.DELETED])
def test_it_does_not_chase_photos_that_are_not_in_the_vault(photographer, family_and_child, status):
    family, child = family_and_child
    now = timezone.now()
    photo = ready_photo(family, [child], photographer, at=now - 100 * HOUR)
    Photo.objects.filter(pk=photo.pk).update(status=status)
    assert _sweep(sweeps.device_reminders, now) == 0
    assert _sweep(sweeps.device_escalations, now) == 0
    assert mail.outbox == []


# --- escalation -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_tells_the_familys_coordinators_once_after_72_hours(photographer, coordinator, family_and_child):
    family, child = family_and_child
    second = factories.staff_user("coordinator", email="second.coordinator@example.org")
    assign(second, family)
    outsider = factories.staff_user("coordinator", email="not.this.family@example.org")
    consented_child(coordinator=outsider)
    now = timezone.now()
    batch = _batch_of(family, [child], photographer, at=now - 71 * HOUR)

    assert _sweep(sweeps.device_escalations, now) == 0
    assert _sweep(sweeps.device_escalations, now + 2 * HOUR) == 2
    # One message to each coordinator, so neither sees the other's address; nobody else.
    assert sorted(m.to for m in mail.outbox) == [[coordinator.email], [second.email]]
    message = mail.outbox[0]
    assert message.subject == f"Photos of family {family.reference} may still be on a device"
    assert reverse("photos:unconfirmed") in message.body
    assert "2 photos" in message.body and str(photographer) in message.body

    for later in (now + 3 * HOUR, now + 50 * HOUR):
        assert _sweep(sweeps.device_escalations, later) == 0
    assert len(mail.outbox) == 2
    assert all(p.device_escalated_at == now + 2 * HOUR for p in batch.photos.all())


@pytest.mark.django_db
def test_a_family_with_no_coordinator_is_escalated_to_the_ceo(photographer, coordinator, ceo):
    family, child, _ = consented_child()  # nobody coordinates this family
    other_family, other_child, _ = consented_child(coordinator=coordinator)
    now = timezone.now()
    _batch_of(family, [child], photographer, at=now - 80 * HOUR)
    _batch_of(other_family, [other_child], photographer, at=now - 80 * HOUR)

    assert _sweep(sweeps.device_escalations, now) == 4
    by_person = {m.to[0]: m for m in mail.outbox}
    assert set(by_person) == {coordinator.email, ceo.email}
    to_ceo = by_person[ceo.email]
    assert (
        to_ceo.subject
        == f"Photos of family {family.reference} may still be on a device (the family has no coordinator)"
    )
    assert "No coordinator is assigned to this family" in to_ceo.body
    assert reverse("consents:family_detail", args=[family.reference]) in to_ceo.body
    assert other_family.reference in by_person[coordinator.email].subject
    assert "No coordinator" not in by_person[coordinator.email].body


@pytest.mark.django_db
def test_it_tells_each_family_once_when_the_sweep_takes_several_batches(
    photographer, coordinator, family_and_child, monkeypatch
):
    monkeypatch.setattr(sweeps, "BATCH", 2)
    family, child = family_and_child
    other_family, other_child, _ = consented_child(coordinator=coordinator)
    now = timezone.now()
    _batch_of(family, [child], photographer, at=now - 80 * HOUR)
    _batch_of(other_family, [other_child], photographer, files=1, at=now - 80 * HOUR)

    assert _sweep(sweeps.device_escalations, now) == 3
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"Photos of family {f.reference} may still be on a device" for f in (family, other_family)
    )
    assert not Photo.objects.filter(device_escalated_at__isnull=True).exists()
    assert _sweep(sweeps.device_escalations, now + timedelta(minutes=15)) == 0


@pytest.mark.django_db
def test_the_whole_sweep_twice_sends_everything_once(photographer, coordinator, family_and_child):
    family, child = family_and_child
    now = timezone.now()
    _batch_of(family, [child], photographer, at=now - 80 * HOUR)
    first = _sweep(sweeps.vault_sweep, now)
    second = _sweep(sweeps.vault_sweep, now + timedelta(minutes=15))
    assert first == {
        "device_reminders": 2,
        "device_escalations": 2,
        "device_breaches": 0,
        "deleted": 0,
        "retention": 0,
        "requeued": 0,
        "faces_checked": 0,
        "orphan_blobs": 0,
    }
    assert second == dict.fromkeys(first, 0)
    assert sorted(m.to[0] for m in mail.outbox) == [coordinator.email, photographer.email]


@pytest.mark.django_db
def test_the_celery_task_runs_the_sweep(photographer, family_and_child):
    family, child = family_and_child
    ready_photo(family, [child], photographer, at=timezone.now() - 25 * HOUR)
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = tasks.vault_sweep.delay().get()
    assert result["device_reminders"] == 1
    assert [m.to for m in mail.outbox] == [[photographer.email]]


# --- the coordinators' list -----------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_the_unconfirmed_uploads_of_the_coordinators_families(
    client, photographer, coordinator, family_and_child
):
    family, child = family_and_child
    now = timezone.now()
    old = ready_photo(family, [child], photographer, at=now - 80 * HOUR)
    recent = ready_photo(family, [child], photographer, at=now - 2 * HOUR)
    confirmed = ready_photo(family, [child], photographer, at=now - 90 * HOUR)
    Photo.objects.filter(pk=confirmed.pk).update(device_deleted_at=now - 85 * HOUR)
    outsider = factories.staff_user("coordinator")
    other_family, other_child, _ = consented_child(coordinator=outsider)
    elsewhere = ready_photo(other_family, [other_child], photographer, at=now - 80 * HOUR)
    _sweep(sweeps.vault_sweep, now)

    client.force_login(coordinator)
    response = client.get(UNCONFIRMED)
    assert list(response.context["page"].object_list) == [old, recent]  # oldest first
    body = response.content.decode()
    assert "Coordinators told" in body and photographer.email in body

    client.force_login(photographer)
    client.post(CONFIRM, {"photo": [str(old.public_id)]})
    client.force_login(coordinator)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == [recent]  # confirmed ones drop off

    client.force_login(outsider)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == [elsewhere]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_the_unconfirmed_list_needs_a_fixed_number_of_queries(
    client, photographer, coordinator, family_and_child, django_assert_num_queries, count
):
    family, child = family_and_child
    photos = bulk_photos(family, [child], photographer, count)
    Photo.objects.filter(pk__in=[p.pk for p in photos]).update(device_deleted_at=None)
    client.force_login(coordinator)
    client.get(UNCONFIRMED)  # the first request creates the usersession row
    # + the page count; the page of photos with their photographers and uploads; their tags' families
    # and those families (photos.selectors.families_of_photos).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 4):
        response = client.get(UNCONFIRMED)
    assert len(response.context["page"].object_list) == count


# --- stuck uploads --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_queues_a_photo_stuck_in_processing_again(
    photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, child = family_and_child
    # Uploaded, but the task was lost (a broker restart): nothing ran after commit.
    with django_capture_on_commit_callbacks(execute=False) as lost:
        batch = photo_upload(
            family=family, children=[child], files=[unique_jpeg()], no_child_identifiable=False, by=photographer
        )
    assert len(lost) == 1
    photo = batch.photos.get()
    now = timezone.now()
    assert sweeps.requeue_stuck(now) == 0  # still within its first quarter of an hour
    Photo.objects.filter(pk=photo.pk).update(uploaded_at=now - timedelta(minutes=16))

    assert sweeps.requeue_stuck(now) == 1  # eager in tests: processed at once

    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY and photo.original_blob and not photo.incoming_blob
    assert sweeps.requeue_stuck(now) == 0  # done: not queued again
