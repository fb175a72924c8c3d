"""Consent before the photo was taken (issue 13, point 4): the date a photo was taken is read from the file
before its metadata goes, and a photo taken before the consent that allows it was given, or while it was
withdrawn, is refused. The uploader may state the real date when the camera's clock was wrong; who stated
it is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from consents.models import Purpose
from fig_safety.times import LONDON
from photos.models import Photo, PhotoTag
from photos.services import UploadError, photo_process, photo_retag, photo_upload
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import ChildFactory, all_answers, family_with_child, give, withdraw
from tests.photos import images
from tests.photos.fixtures import vault_files

pytestmark = pytest.mark.django_db

CONSENTED = datetime(2026, 3, 2, 9, 0, tzinfo=LONDON)


def exif(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y:%m:%d %H:%M:%S")


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def family_and_child():
    """A child whose consent was given on 2 March 2026 at 09:00."""
    family, _, [carer] = family_with_child()
    child = ChildFactory(family=family, first_name="Tia", last_name="Taken")
    give(child, carer, all_answers(), at=CONSENTED)
    return family, child, carer


def _upload(family, child, photographer, data: bytes, **extra) -> Photo:
    batch = photo_upload(
        family=family,
        children=[child],
        files=[data],
        no_child_identifiable=False,
        by=photographer,
        queue=False,
        **extra,
    )
    return photo_process(photo_id=batch.photos.get().pk)


def test_a_photo_taken_before_consent_was_given_is_refused_and_nothing_is_kept(family_and_child, photographer):
    family, child, _ = family_and_child
    before = vault_files()
    photo = _upload(family, child, photographer, images.jpeg(taken_at=exif(CONSENTED - timedelta(minutes=5))))
    assert photo.status == Photo.Status.REFUSED
    assert photo.refusal_reason.startswith("This photo was taken on Monday 2 March 2026 at 08:55, when there was no ")
    assert "Tia Taken" in photo.refusal_reason and "giving the real date and time" in photo.refusal_reason
    assert vault_files() == before and not photo.original_blob


def test_a_photo_taken_after_consent_is_kept_with_the_cameras_date(family_and_child, photographer):
    family, child, _ = family_and_child
    moment = CONSENTED + timedelta(days=1)
    photo = _upload(family, child, photographer, images.jpeg(taken_at=exif(moment)))
    assert photo.status == Photo.Status.READY, photo.refusal_reason
    assert (photo.taken_at, photo.taken_at_source, photo.taken_at_stated_by) == (moment, "camera", None)


def test_a_photo_taken_while_consent_was_withdrawn_is_refused(family_and_child, photographer):
    family, child, carer = family_and_child
    withdrawn = CONSENTED + timedelta(days=10)
    withdraw(child, carer, [Purpose.PHOTOGRAPHED], at=withdrawn)
    give(child, carer, all_answers(), at=withdrawn + timedelta(days=10))
    during = _upload(family, child, photographer, images.jpeg(taken_at=exif(withdrawn + timedelta(days=1))))
    assert during.status == Photo.Status.REFUSED and "had been withdrawn" in during.refusal_reason
    after = _upload(
        family, child, photographer, images.jpeg(colour=(9, 9, 9), taken_at=exif(withdrawn + timedelta(days=11)))
    )
    assert after.status == Photo.Status.READY, after.refusal_reason


def test_with_no_date_in_the_file_the_upload_time_counts(family_and_child, photographer):
    family, child, _ = family_and_child
    photo = _upload(family, child, photographer, images.jpeg())
    assert photo.status == Photo.Status.READY
    assert (photo.taken_at, photo.taken_at_source) == (None, "")


def test_a_camera_date_in_the_future_is_not_believed(family_and_child, photographer):
    family, child, _ = family_and_child
    photo = _upload(family, child, photographer, images.jpeg(taken_at=exif(timezone.now() + timedelta(days=400))))
    assert photo.status == Photo.Status.READY
    assert (photo.taken_at, photo.taken_at_source) == (None, "")


def test_a_stated_date_replaces_a_wrong_camera_clock_and_is_audited(family_and_child, photographer):
    family, child, _ = family_and_child
    stated = CONSENTED + timedelta(days=2, hours=5)
    # The camera says 2020 (its clock was never set): that would be before consent.
    photo = _upload(family, child, photographer, images.jpeg(taken_at="2020:01:01 00:00:00"), taken_at=stated)
    assert photo.status == Photo.Status.READY, photo.refusal_reason
    assert (photo.taken_at, photo.taken_at_source, photo.taken_at_stated_by) == (stated, "stated", photographer)
    event = AuditEvent.objects.get(action="photo.taken_at_stated")
    assert event.actor == photographer and event.details["taken_at"] == stated.isoformat()


def test_a_stated_date_before_consent_is_refused_at_upload_and_nothing_is_stored(family_and_child, photographer):
    family, child, _ = family_and_child
    before = vault_files()
    with pytest.raises(UploadError, match=r"^These photos were taken on Sunday 1 March 2026 at 09:00, .*Tia Taken"):
        photo_upload(
            family=family,
            children=[child],
            files=[images.jpeg()],
            no_child_identifiable=False,
            by=photographer,
            taken_at=CONSENTED - timedelta(days=1),
        )
    assert vault_files() == before and not Photo.objects.exists()
    assert not AuditEvent.objects.filter(action="photo.taken_at_stated").exists()


def test_a_stated_date_in_the_future_is_refused(family_and_child, photographer):
    family, child, _ = family_and_child
    with pytest.raises(UploadError, match="cannot be in the future"):
        photo_upload(
            family=family,
            children=[child],
            files=[images.jpeg()],
            no_child_identifiable=False,
            by=photographer,
            taken_at=timezone.now() + timedelta(days=1),
        )
    assert not Photo.objects.exists()


def test_a_child_whose_consent_came_later_cannot_be_added_by_retagging(family_and_child, photographer):
    family, child, carer = family_and_child
    photo = _upload(family, child, photographer, images.jpeg(taken_at=exif(CONSENTED + timedelta(days=1))))
    late = ChildFactory(family=family, first_name="Lou", last_name="Late")
    give(late, carer, all_answers(), at=CONSENTED + timedelta(days=5))
    with pytest.raises(UploadError, match="no consent for Lou Late to be photographed.*cannot be tagged in it"):
        photo_retag(photo=photo, children=[child, late], no_child_identifiable=False, by=photographer)
    assert list(PhotoTag.objects.filter(photo=photo).values_list("child_id", flat=True)) == [child.pk]


def test_the_upload_page_takes_the_real_date(
    client, family_and_child, photographer, django_capture_on_commit_callbacks
):
    family, child, _ = family_and_child
    client.force_login(photographer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("photos:upload"),
            {
                "family": family.reference,
                "children": [child.pk],
                "taken_at": "2026-03-04T15:45",
                "files": [images.upload(images.jpeg(taken_at="2019:01:01 00:00:00"), name="IMG_1.jpg")],
            },
        )
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.status == Photo.Status.READY
    assert photo.taken_at == datetime(2026, 3, 4, 15, 45, tzinfo=LONDON) and photo.taken_at_stated_by == photographer
    page = client.get(reverse("photos:detail", args=[photo.public_id])).content.decode()
    assert "4 March 2026, 15:45" in page and "stated by" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("last Tuesday", "Give the date and time the photos were taken"),
        ("2026-02-01T10:00", "These photos were taken on Sunday 1 February 2026 at 10:00"),
    ],
)
def test_the_upload_page_refuses_a_bad_or_too_early_date_and_stores_nothing(
    client, family_and_child, photographer, value, message
):
    family, child, _ = family_and_child
    client.force_login(photographer)
    before = vault_files()
    response = client.post(
        reverse("photos:upload"),
        {
            "family": family.reference,
            "children": [child.pk],
            "taken_at": value,
            "files": [images.upload(images.jpeg(), name="IMG_1.jpg")],
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Photo.objects.exists() and vault_files() == before


def test_vault_import_takes_the_real_date(family_and_child, photographer, tmp_path):
    family, child, _ = family_and_child
    path = tmp_path / "IMG_1.jpg"
    path.write_bytes(images.jpeg(taken_at="2019:01:01 00:00:00"))
    args = [str(path), "--family", family.reference, "--child", str(child.pk), "--taken-by", photographer.email]
    with pytest.raises(CommandError, match="--taken-at needs a date and time"):
        call_command("vault_import", *args, "--taken-at", "yesterday", stdout=StringIO())
    with pytest.raises(CommandError, match="These photos were taken on Friday 27 February 2026"):
        call_command("vault_import", *args, "--taken-at", "2026-02-27 10:00", stdout=StringIO())
    assert not Photo.objects.exists()
    call_command("vault_import", *args, "--taken-at", "2026-03-05 10:00", stdout=StringIO())
    photo = Photo.objects.get()
    assert photo.status == Photo.Status.READY
    assert (photo.taken_at, photo.taken_at_source) == (datetime(2026, 3, 5, 10, 0, tzinfo=LONDON), "stated")
    assert AuditEvent.objects.filter(action="photo.taken_at_stated", actor=photographer).exists()
