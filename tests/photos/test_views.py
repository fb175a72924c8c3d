"""The vault's pages, behaviour by behaviour: upload, processing status, the photo page, retagging, the access log.

Who may reach each URL at all is in test_access.py; this module checks what the
pages do for the people who may.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from consents.models import Purpose
from fig_safety.append_only import AppendOnlyError
from photos.models import Photo, PhotoAccess, PhotoTag, UploadBatch
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import ChildFactory, give, withdraw
from tests.photos import images
from tests.photos.fixtures import bulk_photos, consented_child, ready_photo, vault_files
from tests.query_counts import STAFF_REQUEST_QUERIES

UPLOAD = reverse("photos:upload")
RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def family_and_child(coordinator):
    family, child, _ = consented_child(coordinator=coordinator)
    return family, child


def _files(*colours) -> list:
    return [images.upload(images.jpeg(colour=c), name=f"IMG_{i}.jpg") for i, c in enumerate(colours)]


def _post(client, capture, data: dict, **headers):
    """POST the upload form and run what it queued after commit (processing, eagerly)."""
    with capture(execute=True):
        return client.post(UPLOAD, data, headers=headers)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot() -> dict:
    return {
        "batches": UploadBatch.objects.count(),
        "photos": Photo.objects.count(),
        "tags": PhotoTag.objects.count(),
        "vault": vault_files(),
        "mail": len(mail.outbox),
        "audit": AuditEvent.objects.count(),
    }


def _refused_upload(client, capture, data: dict, message: str) -> None:
    before = snapshot()
    response = _post(client, capture, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before  # nothing stored, nothing queued


# --- upload -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lets_a_photographer_upload_for_any_family(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, child = family_and_child  # the photographer is not assigned to it
    client.force_login(photographer)
    page = client.get(UPLOAD, {"family": family.reference})
    assert page.status_code == 200
    assert page.context["taggable"] == [child]
    files_before = len(vault_files())

    response = _post(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "children": [child.pk], "files": _files(RED, GREEN)},
    )

    batch = UploadBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("photos:batch", args=[batch.public_id])
    assert (batch.family, batch.uploaded_by) == (family, photographer)
    photos = list(batch.photos.all())
    assert [p.status for p in photos] == [Photo.Status.READY] * 2
    assert all(list(p.children.all()) == [child] and not p.no_child_identifiable for p in photos)
    assert len(vault_files()) == files_before + 4  # an original and a thumbnail each; the incoming copies are gone
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.content.decode().count("status-ready") == 2
    assert AuditEvent.objects.filter(action="photo.uploaded", actor=photographer).count() == 1


@pytest.mark.django_db
def test_it_lets_a_coordinator_upload_for_their_own_family(
    client, coordinator, family_and_child, django_capture_on_commit_callbacks
):
    family, child = family_and_child
    client.force_login(coordinator)
    response = _post(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "children": [child.pk], "files": _files(RED)},
    )
    assert response.status_code == 302
    assert Photo.objects.get().status == Photo.Status.READY


@pytest.mark.django_db
def test_it_refuses_a_coordinator_a_family_not_assigned_to_them(
    client, other_coordinator, family_and_child, django_capture_on_commit_callbacks
):
    family, child = family_and_child
    client.force_login(other_coordinator)
    page = client.get(UPLOAD, {"family": family.reference})
    assert page.status_code == 200
    assert page.context["family"] is None and family.reference not in page.content.decode()
    _refused_upload(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "children": [child.pk], "files": _files(RED)},
        "Select a valid choice",
    )


@pytest.mark.django_db
def test_it_does_not_offer_a_child_without_consent_to_be_photographed(client, photographer, family_and_child):
    family, ava = family_and_child
    ben = ChildFactory(family=family, first_name="Ben")  # nobody answered for Ben
    _, cara, _ = consented_child(family, photographed=False)  # photographed refused
    _, dan, _ = consented_child(family, stored=False)  # may be photographed, but not kept
    client.force_login(photographer)
    response = client.get(UPLOAD, {"family": family.reference})
    assert response.context["taggable"] == [ava]
    # Listed with exactly the consent each lacks: Dan may be photographed, just not kept in the vault.
    assert dict(response.context["not_taggable"]) == {
        ben: "no consent to be photographed or kept in the vault",
        cara: "no consent to be photographed",
        dan: "no consent to be kept in the vault",
    }
    body = response.content.decode()
    assert f'value="{ava.pk}"' in body
    for child, reason in response.context["not_taggable"]:
        assert f'value="{child.pk}"' not in body
        assert f'<li>{escape(child)}: <span class="not-taggable-reason">{reason}</span></li>' in body


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["never_asked", "refused", "withdrawn"])
def test_it_refuses_a_child_without_consent_posted_anyway(
    client, photographer, family_and_child, how, django_capture_on_commit_callbacks
):
    family, ava = family_and_child
    if how == "never_asked":
        child = ChildFactory(family=family, first_name="Ben", last_name="Nocon")
    else:
        _, child, carer = consented_child(family, photographed=how != "refused")
        child.first_name, child.last_name = "Ben", "Nocon"
        child.save()
        if how == "withdrawn":
            withdraw(child, carer, [Purpose.PHOTOGRAPHED])
    client.force_login(photographer)
    _refused_upload(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "children": [ava.pk, child.pk], "files": _files(RED)},
        "No current consent for Ben Nocon to be photographed and kept in the vault",
    )


@pytest.mark.django_db
def test_it_refuses_a_child_of_another_family(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, _ = family_and_child
    _, outsider, _ = consented_child()
    client.force_login(photographer)
    _refused_upload(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "children": [outsider.pk], "files": _files(RED)},
        "Select a valid choice",
    )


@pytest.mark.django_db
def test_it_refuses_photos_with_no_child_tagged_unless_none_can_be_identified(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, _ = family_and_child
    client.force_login(photographer)
    _refused_upload(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "files": _files(RED)},
        "confirm that no child can be identified",
    )

    response = _post(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "no_child_identifiable": "on", "files": _files(RED)},
    )
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.no_child_identifiable and not photo.tags.exists()
    assert photo.status == Photo.Status.READY


@pytest.mark.django_db
def test_it_refuses_a_post_without_files(client, photographer, family_and_child, django_capture_on_commit_callbacks):
    family, child = family_and_child
    client.force_login(photographer)
    _refused_upload(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "children": [child.pk]},
        "Choose at least one photo.",
    )


@pytest.mark.django_db
def test_it_answers_a_script_in_json_with_the_batch_and_where_to_follow_it(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, child = family_and_child
    client.force_login(photographer)
    data = {
        "family": family.reference,
        "children": [child.pk],
        "files": [*_files(RED), images.upload(images.truncated_jpeg(), name="broken.jpg")],
    }
    response = _post(client, django_capture_on_commit_callbacks, data, accept="application/json")
    assert response.status_code == 200
    batch = UploadBatch.objects.get()
    assert response.json() == {
        "batch": str(batch.public_id),
        "status_url": reverse("photos:batch", args=[batch.public_id]),
    }

    status = client.get(response.json()["status_url"], headers={"accept": "application/json"})
    assert status.status_code == 200
    photos = list(batch.photos.order_by("id"))
    assert status.json() == {
        "photos": [
            {
                "id": str(photos[0].public_id),
                "status": "ready",
                "label": "Ready",
                "reason": "",
                "face_count": 0,
                "tagged": 1,
                "faces": "No face found, 1 child tagged",
            },
            {
                "id": str(photos[1].public_id),
                "status": "refused",
                "label": "Refused",
                "reason": "The file is damaged or incomplete, so it cannot be read as a photo.",
                "face_count": 0,
                "tagged": 1,
                "faces": "",
            },
        ]
    }
    # Nothing of the refused file is kept.
    assert not photos[1].original_blob and not photos[1].incoming_blob and not photos[1].upload_sha256


@pytest.mark.django_db
def test_it_answers_a_refused_upload_in_json_with_the_reasons(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, _ = family_and_child
    client.force_login(photographer)
    before = snapshot()
    response = _post(
        client,
        django_capture_on_commit_callbacks,
        {"family": family.reference, "files": _files(RED)},
        accept="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": ["Tag the children in the photos, or confirm that no child can be identified in them."]
    }
    assert snapshot() == before


@pytest.mark.django_db
def test_it_refuses_the_same_photos_posted_twice_as_duplicates(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    # A double submit (or the same photos sent again) makes a second batch whose photos are
    # refused as duplicates: the vault keeps one copy, and the photographer sees why.
    family, child = family_and_child
    client.force_login(photographer)
    data = lambda: {"family": family.reference, "children": [child.pk], "files": _files(RED, GREEN)}  # noqa: E731
    _post(client, django_capture_on_commit_callbacks, data())
    stored = vault_files()
    _post(client, django_capture_on_commit_callbacks, data())

    first, second = UploadBatch.objects.order_by("created_at", "id")
    assert {p.status for p in first.photos.all()} == {Photo.Status.READY}
    assert [(p.status, p.refusal_reason) for p in second.photos.all()] == [
        (Photo.Status.REFUSED, "This photo is already in the vault.")
    ] * 2
    assert vault_files() == stored
    page = client.get(reverse("photos:batch", args=[second.public_id]))
    assert page.content.decode().count("This photo is already in the vault.") == 2


@pytest.mark.django_db
def test_it_takes_the_same_photo_for_two_different_families(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, child = family_and_child
    other_family, other_child, _ = consented_child()
    client.force_login(photographer)
    for fam, kid in ((family, child), (other_family, other_child)):
        _post(
            client,
            django_capture_on_commit_callbacks,
            {"family": fam.reference, "children": [kid.pk], "files": _files(BLUE)},
        )
    assert [p.status for p in Photo.objects.all()] == [Photo.Status.READY] * 2


# --- the batch page -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_batch_only_to_the_person_who_uploaded_it(client, photographer, coordinator, family_and_child):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer)
    url = reverse("photos:batch", args=[photo.batch.public_id])
    client.force_login(photographer)
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["photos"] == [photo]
    client.force_login(coordinator)  # sees the photo itself in the vault, but the upload page is the uploader's
    assert client.get(url).status_code == 404
    assert client.get(reverse("photos:batch", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404


# --- the photo page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_a_photos_uses_live_from_its_childrens_consents(client, coordinator, family_and_child):
    family, ava = family_and_child
    _, ben, ben_carer = consented_child(family, print=False)
    photo = ready_photo(family, [ava, ben], coordinator)
    client.force_login(coordinator)
    url = reverse("photos:detail", args=[photo.public_id])

    uses = dict(client.get(url).context["uses"])
    assert uses[Purpose.PRINT.label] is False  # Ben said no to print: least permissive wins
    assert uses[Purpose.ONLINE.label] is True

    withdraw(ben, ben_carer, [Purpose.ONLINE])
    response = client.get(url)
    assert dict(response.context["uses"])[Purpose.ONLINE.label] is False
    assert response.context["keep_form"] is None  # online only narrows uses; nothing is queued
    body = response.content.decode()
    assert str(ava) in body and str(ben) in body
    assert reverse("photos:access_log", args=[photo.public_id]) in body
    assert not PhotoAccess.objects.exists()  # the page is not the bytes: only the image view logs


@pytest.mark.django_db
def test_it_offers_the_keep_form_only_for_a_photo_queued_for_deletion(client, coordinator, family_and_child):
    family, child = family_and_child
    photo = ready_photo(family, [child], coordinator)
    client.force_login(coordinator)
    url = reverse("photos:detail", args=[photo.public_id])
    assert client.get(url).context["keep_form"] is None
    Photo.objects.filter(pk=photo.pk).update(deletion_due_at=timezone.now() + timedelta(days=7))
    response = client.get(url)
    assert response.context["keep_form"] is not None
    assert reverse("photos:keep", args=[photo.public_id]) in response.content.decode()


# --- retagging ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_retags_a_photo_and_records_before_and_after(client, coordinator, family_and_child):
    family, ava = family_and_child
    _, ben, _ = consented_child(family)
    photo = ready_photo(family, [ava], coordinator)
    client.force_login(coordinator)
    response = client.post(reverse("photos:retag", args=[photo.public_id]), {"children": [ava.pk, ben.pk]})
    assert response.status_code == 302
    assert set(photo.children.all()) == {ava, ben}
    assert "The tags are saved." in _messages(response)
    event = AuditEvent.objects.get(action="photo.retagged")
    assert event.details == {"before": [ava.pk], "after": sorted([ava.pk, ben.pk])}
    assert event.actor == coordinator


@pytest.mark.django_db
def test_it_will_not_retag_to_a_child_without_consent(client, coordinator, family_and_child):
    family, ava = family_and_child
    ben = ChildFactory(family=family, first_name="Ben", last_name="Nocon")
    photo = ready_photo(family, [ava], coordinator)
    client.force_login(coordinator)
    response = client.post(reverse("photos:retag", args=[photo.public_id]), {"children": [ben.pk]})
    assert response.status_code == 302
    assert "No current consent for Ben Nocon" in _messages(response)[-1]
    assert list(photo.children.all()) == [ava]
    assert not AuditEvent.objects.filter(action="photo.retagged").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{}, "outsider"])
def test_it_will_not_retag_to_nobody_or_to_another_familys_child(client, coordinator, family_and_child, data):
    family, ava = family_and_child
    if data == "outsider":
        _, outsider, _ = consented_child()
        data = {"children": [outsider.pk]}
    photo = ready_photo(family, [ava], coordinator)
    client.force_login(coordinator)
    response = client.post(reverse("photos:retag", args=[photo.public_id]), data)
    assert response.status_code == 302
    assert list(photo.children.all()) == [ava]
    assert _messages(response)[-1] in {
        "Choose children from the families shown.",
        "Tag the children in the photo, or confirm that no child can be identified in it.",
    }


# --- the access log -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_coordinator_who_saw_the_photo(client, coordinator, photographer, family_and_child):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer)
    for user, size in ((photographer, "thumbnail"), (coordinator, "full"), (coordinator, "download")):
        client.force_login(user)
        assert client.get(reverse("photos:image", args=[photo.public_id, size])).status_code == 200
    client.force_login(coordinator)
    response = client.get(reverse("photos:access_log", args=[photo.public_id]))
    assert response.status_code == 200
    entries = list(response.context["page"].object_list)
    assert [(e.user, e.action) for e in entries] == [
        (coordinator, "download"),
        (coordinator, "view"),
        (photographer, "thumbnail"),
    ]
    body = response.content.decode()
    assert photographer.email in body or photographer.full_name in body
    assert "Downloaded" in body


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_the_access_log_needs_a_fixed_number_of_queries(
    client, coordinator, family_and_child, django_assert_num_queries, count
):
    family, child = family_and_child
    [photo] = bulk_photos(family, [child], coordinator, 1)
    viewers = [factories.staff_user("coordinator") for _ in range(3)]
    PhotoAccess.objects.bulk_create(
        [PhotoAccess(photo=photo, user=viewers[i % 3], action=PhotoAccess.Action.VIEW) for i in range(count)]
    )
    client.force_login(coordinator)
    url = reverse("photos:access_log", args=[photo.public_id])
    client.get(url)  # the first request creates the usersession row
    # + the photo (visible to this coordinator, with family, uploader and batch); may they manage it
    # (the family assignment); the page count; the page of entries with their users.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 4):
        response = client.get(url)
    assert len(response.context["page"].object_list) == count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_the_photographers_uploads_need_a_fixed_number_of_queries(
    client, photographer, family_and_child, django_assert_num_queries, count
):
    family, child = family_and_child
    photos = bulk_photos(family, [child], photographer, count)
    Photo.objects.filter(pk__in=[p.pk for p in photos]).update(device_deleted_at=None)
    client.force_login(photographer)
    url = reverse("photos:my_uploads")
    client.get(url)  # the first request creates the usersession row
    # + the photos with their families and batches.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        response = client.get(url)
    assert response.content.decode().count('name="photo"') == count


@pytest.mark.django_db
def test_it_keeps_the_access_log_append_only(coordinator, family_and_child):
    family, child = family_and_child
    photo = ready_photo(family, [child], coordinator)
    entry = PhotoAccess.objects.create(photo=photo, user=coordinator, action=PhotoAccess.Action.VIEW)
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        PhotoAccess.objects.filter(photo=photo).update(action=PhotoAccess.Action.THUMBNAIL)
    assert PhotoAccess.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_it_lists_the_photographers_unconfirmed_uploads(client, photographer, family_and_child):
    family, child = family_and_child
    mine = ready_photo(family, [child], photographer)
    done = ready_photo(family, [child], photographer)
    Photo.objects.filter(pk=done.pk).update(device_deleted_at=timezone.now())
    ready_photo(family, [child], factories.staff_user("photographer"))  # someone else's
    client.force_login(photographer)
    response = client.get(reverse("photos:my_uploads"))
    assert response.status_code == 200
    assert list(response.context["photos"]) == [mine]


@pytest.mark.django_db
def test_it_still_tags_a_child_once_their_consent_is_given_again(
    client, photographer, family_and_child, django_capture_on_commit_callbacks
):
    family, ava = family_and_child
    carer = family.carers.get()
    withdraw(ava, carer, [Purpose.PHOTOGRAPHED])
    client.force_login(photographer)
    assert client.get(UPLOAD, {"family": family.reference}).context["taggable"] == []
    give(ava, carer)
    assert client.get(UPLOAD, {"family": family.reference}).context["taggable"] == [ava]
