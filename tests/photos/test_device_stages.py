"""Device deletion in stages: each upload's due time; overdue on the photographer's and the coordinators'
lists; reminders, the coordinators told, and after FIG_DEVICE_BREACH_DAYS a possible breach in the breach
register with the CEO told; each stage sent once, and none after the photographer confirms.

The clock is moved by passing `now` to the sweeps; nothing sleeps."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from photos import sweeps
from photos.models import Photo, PhotoTag, UploadBatch
from photos.services import photo_upload, photos_confirm_device_deleted
from staff.models import AuditEvent, BreachReport
from tests import factories
from tests.consents.factories import assign
from tests.photos.fixtures import bulk_photos, consented_child, ready_photo, unique_jpeg
from tests.query_counts import STAFF_REQUEST_QUERIES

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MY_UPLOADS = reverse("photos:my_uploads")
UNCONFIRMED = reverse("photos:unconfirmed")
REMINDER = "Please delete"
ESCALATION = "may still be on a device"
BREACH = "Possible breach"


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org", full_name="Pat Snapper")


@pytest.fixture
def family_and_child(coordinator):
    family, child, _ = consented_child(coordinator=coordinator)
    return family, child


def _sweep(now) -> dict[str, int]:
    """The whole vault sweep as beat runs it, with the emails it queued delivered after commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sweeps.vault_sweep(now)


def _batch_of(family, children, by, files: int, at) -> UploadBatch:
    first = ready_photo(family, children, by, at=at)
    for _ in range(files - 1):
        photo = ready_photo(family, children, by, at=at)
        Photo.objects.filter(pk=photo.pk).update(batch=first.batch)
    return first.batch


def _sent(kind: str) -> list:
    return [m for m in mail.outbox if kind in m.subject]


# --- the due time -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sets_each_photos_due_time_at_upload(photographer, family_and_child, settings):
    settings.FIG_DEVICE_REMINDER_HOURS = 30
    family, child = family_and_child
    batch = photo_upload(
        family=family,
        children=[child],
        files=[unique_jpeg(), unique_jpeg()],
        no_child_identifiable=False,
        by=photographer,
    )
    assert [p.device_deletion_due_at for p in batch.photos.all()] == [batch.created_at + 30 * HOUR] * 2


@pytest.mark.django_db
def test_the_migration_gives_existing_photos_a_due_time(photographer, family_and_child, settings):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer, at=timezone.now() - 5 * DAY)
    done = ready_photo(family, [child], photographer)
    Photo.objects.filter(pk=photo.pk).update(device_deletion_due_at=None)
    migration = importlib.import_module("photos.migrations.0006_device_deletion_stages")
    migration.backfill_due_times(apps, None)
    photo.refresh_from_db()
    assert photo.device_deletion_due_at == photo.uploaded_at + settings.FIG_DEVICE_REMINDER_HOURS * HOUR
    assert Photo.objects.get(pk=done.pk).device_deletion_due_at == done.device_deletion_due_at  # left alone


# --- the stages, each once --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_each_device_deletion_stage_once(photographer, coordinator, ceo, family_and_child):
    family, child = family_and_child
    start = timezone.now()
    batch = _batch_of(family, [child], photographer, files=2, at=start)
    photos = list(batch.photos.all())

    # Not yet due: nothing.
    assert _sweep(start + 23 * HOUR)["device_reminders"] == 0
    assert mail.outbox == []

    # Due: the photographer is reminded, once that day, however often the sweep runs.
    for later in (start + 24 * HOUR, start + 24 * HOUR + 15 * timedelta(minutes=1), start + 40 * HOUR):
        _sweep(later)
    assert [m.to for m in _sent(REMINDER)] == [[photographer.email]]
    assert _sent(ESCALATION) == [] and _sent(BREACH) == []

    # After 72 hours the coordinators are told, once.
    for later in (start + 72 * HOUR, start + 73 * HOUR, start + 95 * HOUR):
        _sweep(later)
    assert [m.to for m in _sent(ESCALATION)] == [[coordinator.email]]
    assert _sent(BREACH) == []

    # After 7 days: a possible breach in the register and the CEO told, once.
    seven_days = start + 7 * DAY
    assert _sweep(seven_days - timedelta(minutes=1))["device_breaches"] == 0
    assert _sweep(seven_days)["device_breaches"] == 1
    for later in (seven_days + timedelta(minutes=15), seven_days + DAY, seven_days + 30 * DAY):
        assert _sweep(later)["device_breaches"] == 0
    assert [m.to for m in _sent(BREACH)] == [[ceo.email]]
    assert BreachReport.objects.count() == 1
    assert [m.to for m in _sent(ESCALATION)] == [[coordinator.email]]  # still once
    assert UploadBatch.objects.get(pk=batch.pk).device_breach_reported_at == seven_days
    # The daily reminder goes on while the photos are unconfirmed, never twice within a day: at 24 and 72
    # hours, a minute before 7 days, at 8 days and at 37 days.
    assert len(_sent(REMINDER)) == 5
    assert all(p.device_deleted_at is None for p in Photo.objects.filter(pk__in=[p.pk for p in photos]))


@pytest.mark.django_db
@pytest.mark.parametrize("confirmed_after_hours", [30, 80])
def test_confirming_stops_the_stages_still_to_come(
    photographer, coordinator, ceo, family_and_child, confirmed_after_hours
):
    family, child = family_and_child
    start = timezone.now()
    batch = _batch_of(family, [child], photographer, files=2, at=start)
    _sweep(start + 25 * HOUR)
    if confirmed_after_hours > 72:
        _sweep(start + 73 * HOUR)
    told = len(_sent(ESCALATION))
    photos_confirm_device_deleted(photos=batch.photos.all(), by=photographer)
    reminded = len(_sent(REMINDER))

    results = [_sweep(start + hours * HOUR) for hours in (confirmed_after_hours, 100, 7 * 24, 10 * 24)]
    assert all(r["device_reminders"] == r["device_escalations"] == r["device_breaches"] == 0 for r in results)
    assert (len(_sent(REMINDER)), len(_sent(ESCALATION)), _sent(BREACH)) == (reminded, told, [])
    assert not BreachReport.objects.exists()


@pytest.mark.django_db
def test_a_partly_confirmed_upload_reports_only_the_photos_still_on_the_device(
    photographer, coordinator, ceo, family_and_child
):
    family, child = family_and_child
    start = timezone.now()
    batch = _batch_of(family, [child], photographer, files=3, at=start)
    photos_confirm_device_deleted(photos=batch.photos.order_by("pk")[:2], by=photographer)
    assert _sweep(start + 7 * DAY)["device_breaches"] == 1
    report = BreachReport.objects.get()
    assert "1 photo from the phone" in report.description
    assert "1 photo from 1 upload has not been confirmed" in _sent(BREACH)[0].body


# --- the possible breach ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_possible_breach_says_who_which_families_how_many_and_when(
    photographer, coordinator, ceo, family_and_child
):
    family, child = family_and_child
    other_family, other_child, _ = consented_child(coordinator=coordinator)
    second_ceo = factories.staff_user("ceo", email="second.ceo@example.org")
    start = timezone.now() - 8 * DAY
    _batch_of(family, [child], photographer, files=2, at=start)
    _batch_of(other_family, [other_child], photographer, files=1, at=start + HOUR)
    someone_else = factories.staff_user("photographer", email="other.photographer@example.org")
    ready_photo(family, [child], someone_else, at=start)

    assert _sweep(timezone.now())["device_breaches"] == 3  # three uploads ...
    reports = {r.people_involved.split(" (")[0]: r for r in BreachReport.objects.all()}
    assert set(reports) == {"Pat Snapper", str(someone_else)}  # ... in one report per photographer

    report = reports["Pat Snapper"]
    assert report.status == BreachReport.Status.NEW
    assert report.reporter is None  # found by FiG Safety, not reported by a person
    assert report.occurred_on == timezone.localtime(start + 24 * HOUR).date()  # when the confirmation was due
    assert report.description.startswith("Found automatically by FiG Safety")
    assert "Pat Snapper (photographer@example.org) has not confirmed deleting 3 photos" in report.description
    assert f"2 photos of family {family.reference}" in report.description
    assert f"1 photo of family {other_family.reference}" in report.description
    assert timezone.localtime(start).strftime("%B %Y") in report.description
    assert "photographer@example.org" in report.people_involved

    # Each CEO is told on their own, with the link and none of the details: no names of anyone.
    to_ceos = [m for m in _sent(BREACH) if f"#{report.pk}:" in m.subject]
    assert sorted(m.to[0] for m in to_ceos) == sorted([ceo.email, second_ceo.email])
    message = to_ceos[0]
    assert message.subject == f"Possible breach #{report.pk}: photos not confirmed deleted from a device"
    assert reverse("staff:breach_detail", args=[report.pk]) in message.body
    assert "3 photos from 2 uploads" in message.body
    for name in (child.first_name, child.last_name, other_child.first_name, "Pat Snapper", photographer.email):
        assert name not in message.subject and name not in message.body
    for m in mail.outbox:
        assert child.first_name not in m.subject and other_child.first_name not in m.subject

    event = AuditEvent.objects.get(action="breach.found", target_id=str(report.pk))
    assert event.actor is None and event.details["families"] == sorted([family.reference, other_family.reference])


@pytest.mark.django_db
def test_the_ceo_reads_the_possible_breach_in_the_register(client, photographer, ceo, coordinator, family_and_child):
    family, child = family_and_child
    ready_photo(family, [child], photographer, at=timezone.now() - 8 * DAY)
    _sweep(timezone.now())
    report = BreachReport.objects.get()
    url = reverse("staff:breach_detail", args=[report.pk])
    client.force_login(ceo)
    response = client.get(url)
    assert response.status_code == 200 and "Found automatically by FiG Safety" in response.content.decode()
    for outsider in (photographer, coordinator):
        client.force_login(outsider)
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_with_no_ceo_nothing_is_recorded_until_one_is_appointed(photographer, coordinator, family_and_child):
    family, child = family_and_child
    start = timezone.now() - 8 * DAY
    batch = _batch_of(family, [child], photographer, files=1, at=start)
    assert _sweep(timezone.now())["device_breaches"] == 0
    assert not BreachReport.objects.exists() and _sent(BREACH) == []
    assert UploadBatch.objects.get(pk=batch.pk).device_breach_reported_at is None  # waits, not lost

    ceo = factories.staff_user("ceo", email="new.ceo@example.org")
    assert _sweep(timezone.now() + HOUR)["device_breaches"] == 1
    assert [m.to for m in _sent(BREACH)] == [[ceo.email]]


@pytest.mark.django_db
def test_a_ceo_leaving_during_the_sweep_leaves_the_uploads_waiting(photographer, family_and_child, monkeypatch):
    # The sweep saw a CEO, but none is active when the report is filed: that batch rolls back, unstamped.
    monkeypatch.setattr(sweeps, "emails_of", lambda *roles: ["gone.ceo@example.org"])
    family, child = family_and_child
    batch = _batch_of(family, [child], photographer, files=1, at=timezone.now() - 8 * DAY)
    assert _sweep(timezone.now())["device_breaches"] == 0
    assert not BreachReport.objects.exists() and _sent(BREACH) == []
    assert UploadBatch.objects.get(pk=batch.pk).device_breach_reported_at is None


@pytest.mark.django_db
def test_the_breach_stage_follows_its_setting(photographer, ceo, family_and_child, settings):
    settings.FIG_DEVICE_BREACH_DAYS = 10
    family, child = family_and_child
    start = timezone.now()
    ready_photo(family, [child], photographer, at=start)
    assert _sweep(start + 9 * DAY)["device_breaches"] == 0
    assert _sweep(start + 10 * DAY)["device_breaches"] == 1
    assert "10 days or more" in BreachReport.objects.get().description


@pytest.mark.django_db
def test_it_reports_each_upload_once_when_the_sweep_takes_several_batches(
    photographer, ceo, family_and_child, monkeypatch
):
    monkeypatch.setattr(sweeps, "BATCH", 2)
    family, child = family_and_child
    start = timezone.now() - 8 * DAY
    for hours in range(5):
        ready_photo(family, [child], photographer, at=start + hours * HOUR)  # five uploads of one photo
    assert _sweep(timezone.now())["device_breaches"] == 5
    assert UploadBatch.objects.filter(device_breach_reported_at__isnull=True).count() == 0
    # Three batches of uploads, each photographer's in one report a batch: three reports for five uploads.
    assert BreachReport.objects.count() == len(_sent(BREACH)) == 3
    assert _sweep(timezone.now() + HOUR)["device_breaches"] == 0
    assert BreachReport.objects.count() == 3


# --- a photo of several families --------------------------------------------------------------


@pytest.fixture
def group_photo(photographer, coordinator, family_and_child):
    """A photo uploaded for the coordinator's family that also shows a child of a second family."""
    family, child = family_and_child
    second_coordinator = factories.staff_user("coordinator", email="second.coordinator@example.org")
    other_family, other_child, _ = consented_child(coordinator=second_coordinator)
    photo = ready_photo(family, [child], photographer, at=timezone.now() - 80 * HOUR)
    PhotoTag.objects.create(photo=photo, child=other_child, tagged_by=photographer)
    return photo, family, other_family, second_coordinator


@pytest.mark.django_db
def test_a_group_photo_is_escalated_to_the_coordinators_of_every_family(coordinator, group_photo):
    photo, family, other_family, second_coordinator = group_photo
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert sweeps.device_escalations(timezone.now()) == 1
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == sorted(
        [
            (coordinator.email, f"Photos of family {family.reference} may still be on a device"),
            (second_coordinator.email, f"Photos of family {other_family.reference} may still be on a device"),
        ]
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert sweeps.device_escalations(timezone.now() + HOUR) == 0
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_group_photo_is_on_the_list_of_the_coordinators_of_every_family(client, coordinator, group_photo):
    photo, family, other_family, second_coordinator = group_photo
    for someone in (coordinator, second_coordinator):
        client.force_login(someone)
        response = client.get(UNCONFIRMED)
        assert list(response.context["page"].object_list) == [photo]
        assert response.context["page"].object_list[0].families == sorted(
            [family, other_family], key=lambda f: f.reference
        )
        body = response.content.decode()
        assert family.reference in body and other_family.reference in body
    outsider = factories.staff_user("coordinator")
    consented_child(coordinator=outsider)
    client.force_login(outsider)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == []


@pytest.mark.django_db
def test_a_group_photos_breach_names_every_family(photographer, ceo, group_photo):
    photo, family, other_family, _ = group_photo
    Photo.objects.filter(pk=photo.pk).update(uploaded_at=timezone.now() - 8 * DAY)
    _sweep(timezone.now())
    description = BreachReport.objects.get().description
    first, second = sorted([family.reference, other_family.reference])
    assert f"1 photo of families {first}, {second}" in description


# --- the lists --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_photographer_sees_overdue_uploads_oldest_first(client, photographer, ceo, family_and_child):
    family, child = family_and_child
    now = timezone.now()
    fresh = ready_photo(family, [child], photographer, at=now - 2 * HOUR)
    overdue = ready_photo(family, [child], photographer, at=now - 30 * HOUR)
    reported = ready_photo(family, [child], photographer, at=now - 8 * DAY)
    _sweep(now)
    client.force_login(photographer)
    response = client.get(MY_UPLOADS)
    assert list(response.context["photos"]) == [reported, overdue, fresh]
    body = response.content.decode()
    assert body.count("Overdue since") == 2
    due = timezone.localtime(overdue.device_deletion_due_at)
    assert f"Overdue since {due:%-d %B %Y}, {due:%H:%M}" in body
    assert "Reported to the CEO as a possible breach" in body
    assert "Confirm by" in body
    assert body.index(f"batch-{reported.batch.public_id}") < body.index(f"batch-{overdue.batch.public_id}")


@pytest.mark.django_db
def test_the_coordinators_see_overdue_uploads_oldest_first(client, photographer, coordinator, ceo, family_and_child):
    family, child = family_and_child
    now = timezone.now()
    fresh = ready_photo(family, [child], photographer, at=now - 2 * HOUR)
    reported = ready_photo(family, [child], photographer, at=now - 8 * DAY)
    overdue = ready_photo(family, [child], photographer, at=now - 30 * HOUR)
    _sweep(now)
    client.force_login(coordinator)
    response = client.get(UNCONFIRMED)
    assert list(response.context["page"].object_list) == [reported, overdue, fresh]
    body = response.content.decode()
    assert body.count("Overdue since") == 2
    due = timezone.localtime(reported.device_deletion_due_at)
    assert f"Overdue since {due:%-d %b %Y}, {due:%H:%M}" in body
    assert "Reported to the CEO" in body and "Reminder sent" in body
    assert "after 7 days it is reported to the CEO" in body


@pytest.mark.django_db
def test_the_lists_are_for_their_people_only(client, photographer, coordinator, family_and_child, parent):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer, at=timezone.now() - 30 * HOUR)
    # Anonymous: sent to sign in.
    for url in (MY_UPLOADS, UNCONFIRMED):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
    # Wrong role: a parent sees neither; a photographer does not see the coordinators' list.
    client.force_login(parent)
    assert client.get(MY_UPLOADS).status_code == 404
    assert client.get(UNCONFIRMED).status_code == 404
    client.force_login(photographer)
    assert client.get(UNCONFIRMED).status_code == 404
    # Another photographer and another family's coordinator do not see this upload.
    client.force_login(factories.staff_user("photographer"))
    assert list(client.get(MY_UPLOADS).context["photos"]) == []
    other = factories.staff_user("coordinator")
    consented_child(coordinator=other)
    client.force_login(other)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == []
    client.force_login(coordinator)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == [photo]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_the_coordinators_list_needs_a_fixed_number_of_queries(
    client, photographer, coordinator, family_and_child, django_assert_num_queries, count
):
    family, child = family_and_child
    other_family, other_child, _ = consented_child(coordinator=coordinator)
    photos = bulk_photos(family, [child, other_child], photographer, count, at=timezone.now() - 8 * DAY)
    photos += bulk_photos(other_family, [], photographer, count, at=timezone.now() - 2 * DAY)
    Photo.objects.filter(pk__in=[p.pk for p in photos]).update(device_deleted_at=None)
    client.force_login(coordinator)
    client.get(UNCONFIRMED)  # the first request creates the usersession row
    # + the page count; the page of photos with their photographers and uploads; their tags' families
    # and those families (photos.selectors.families_of_photos).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 4):
        response = client.get(UNCONFIRMED)
    assert len(response.context["page"].object_list) == 2 * count
    assert response.content.decode().count("Overdue since") == 2 * count


@pytest.mark.django_db
def test_the_coordinators_list_follows_the_family_assignment(client, photographer, family_and_child):
    # The list follows the assignment, not who coordinated the family at upload time.
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer, at=timezone.now() - 30 * HOUR)
    newcomer = factories.staff_user("coordinator")
    client.force_login(newcomer)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == []
    assign(newcomer, family)
    assert list(client.get(UNCONFIRMED).context["page"].object_list) == [photo]


@pytest.mark.django_db
def test_a_breach_found_by_the_sweep_says_so_and_its_update_emails_no_reporter(
    client, photographer, family_and_child, ceo
):
    family, child = family_and_child
    _batch_of(family, [child], photographer, files=1, at=timezone.now() - 8 * DAY)
    _sweep(timezone.now())
    report = BreachReport.objects.get()
    client.force_login(ceo)
    assert (
        "FiG Safety (found automatically)"
        in client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    )
    assert "FiG Safety (found automatically)" in client.get(reverse("staff:breach_list")).content.decode()
    mail.outbox.clear()
    response = client.post(
        reverse("staff:breach_update", args=[report.pk]),
        {"status": BreachReport.Status.INVESTIGATING, "outcome": "Asked the photographer to delete them."},
        follow=True,
    )
    assert response.status_code == 200 and "The report is updated." in response.content.decode()
    report.refresh_from_db()
    assert report.status == BreachReport.Status.INVESTIGATING and mail.outbox == []
