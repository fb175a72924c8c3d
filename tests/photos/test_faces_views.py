"""The faces on the vault's pages: the photo page's boxes, sentence and forms, drawing a face the detector
missed, confirming the blurred version, and the face counts on the upload status page.

The photos are real photographs (tests/photos/images.py) put through the real upload and processing, so the
boxes are the detector's own.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from photos import services
from photos.models import Photo
from staff.models import AuditEvent
from tests import factories
from tests.consents import factories as cf
from tests.photos import images
from tests.photos.fixtures import consented_child, ready_photo

FOUND_BOX = re.compile(r'<rect class="face-box face-box-found" [^>]*aria-label="Face \d+ found by FiG Safety"')
DRAWN_BOX = re.compile(r'<rect class="face-box face-box-drawn" [^>]*aria-label="Face \d+, drawn by a coordinator"')


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def other_coordinator(db):
    """A coordinator of another family."""
    coordinator = factories.staff_user("coordinator", email="other.coordinator@example.org")
    cf.assign(coordinator, cf.FamilyFactory())
    return coordinator


@pytest.fixture
def family(coordinator):
    """Two children whose carer agreed to online use but not to a recognisable face."""
    family, ava, carer = consented_child(coordinator=coordinator, face_online=False)
    consented_child(family=family, face_online=False)
    return family


@pytest.fixture
def group_photo(family, photographer) -> Photo:
    """Three faces (the detector's), two children tagged."""
    photo = ready_photo(family, family.children.all(), photographer, data=images.group())
    assert len(photo.faces) == 3 and photo.unidentifiable_blob
    return photo


def _detail(photo: Photo) -> str:
    return reverse("photos:detail", args=[photo.public_id])


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _face_form(photo: Photo) -> str:
    return f'action="{reverse("photos:add_face", args=[photo.public_id])}"'


def _confirm_form(photo: Photo) -> str:
    return f'action="{reverse("photos:mark_unidentifiable", args=[photo.public_id])}"'


# --- the photo page ---------------------------------------------------------------------------------


def test_it_shows_the_familys_coordinator_every_box_the_sentence_and_the_forms(client, coordinator, group_photo):
    client.force_login(coordinator)
    response = client.get(_detail(group_photo))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="unidentifiable"' in page
    assert "3 faces found, 2 children tagged." in page
    assert f'viewBox="0 0 {group_photo.width} {group_photo.height}"' in page
    assert len(FOUND_BOX.findall(page)) == 3
    assert not DRAWN_BOX.findall(page)
    box = group_photo.faces[0]
    assert f'x="{box["x"]}" y="{box["y"]}" width="{box["w"]}" height="{box["h"]}"' in page
    assert "Solid yellow box: a face FiG Safety found" in page and "Dashed white box" in page
    # Drawing a missed face, typed (the keyboard way, and the only one without JavaScript).
    assert _face_form(group_photo) in page
    assert "Draw a face FiG Safety missed" in page
    assert f"The photo is {group_photo.width} × {group_photo.height} pixels" in page
    for label in ("From the left (pixels)", "From the top (pixels)", "Width (pixels)", "Height (pixels)"):
        assert label in page
    # The blurred version and its confirmation.
    assert reverse("photos:image", args=[group_photo.public_id, "unidentifiable"]) in page
    assert "Every face in it is blurred" in page
    assert "Not confirmed" in page
    assert _confirm_form(group_photo) in page
    assert "I checked: no child can be recognised in the blurred version" in page
    assert "Confirm the blurred version" in page
    assert "Mark as unidentifiable" not in page
    # Retagging as "no child can be identified" would be refused: the box says so.
    assert 'aria-describedby="retag-faces-hint"' in page
    assert "Faces were found in this photo, so this will be refused" in page


def test_the_photographer_sees_the_boxes_but_cannot_draw_or_confirm(client, photographer, group_photo):
    client.force_login(photographer)
    page = client.get(_detail(group_photo)).content.decode()
    assert "3 faces found, 2 children tagged." in page
    assert len(FOUND_BOX.findall(page)) == 3
    assert _face_form(group_photo) not in page
    assert _confirm_form(group_photo) not in page
    assert "Not confirmed" in page


def test_a_coordinator_of_another_family_gets_404(client, other_coordinator, group_photo):
    client.force_login(other_coordinator)
    assert client.get(_detail(group_photo)).status_code == 404


def test_anonymous_people_are_sent_to_sign_in(client, group_photo):
    response = client.get(_detail(group_photo))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_it_says_when_no_face_was_found(client, coordinator, family, photographer):
    photo = ready_photo(family, [family.children.first()], photographer, data=images.landscape())
    client.force_login(coordinator)
    page = client.get(_detail(photo)).content.decode()
    assert "No face found, 1 child tagged." in page
    assert not FOUND_BOX.findall(page)
    assert "There is none: no face was found to blur." in page
    assert _face_form(photo) in page  # a face it missed can still be drawn
    assert _confirm_form(photo) not in page  # nothing blurred to confirm
    assert "retag-faces-hint" not in page


def test_it_says_when_a_photo_was_stored_before_faces_were_checked(client, coordinator, family, photographer):
    photo = ready_photo(family, [], photographer, data=images.landscape())
    Photo.objects.filter(pk=photo.pk).update(faces_checked_at=None)
    client.force_login(coordinator)
    page = client.get(_detail(photo)).content.decode()
    assert "Not checked for faces yet, no child tagged." in page


def test_a_photo_kept_only_blurred_says_so(client, coordinator, family, photographer):
    batch = services.photo_upload(
        family=family,
        children=[],
        files=[images.group()],
        no_child_identifiable=True,
        blur_faces=True,
        by=photographer,
        queue=False,
    )
    photo = services.photo_process(photo_id=batch.photos.get().pk)
    assert photo.status == Photo.Status.READY and photo.blurred_only
    client.force_login(coordinator)
    page = client.get(_detail(photo)).content.decode()
    assert "3 faces found and blurred, no child tagged." in page
    assert "Only a version with every face blurred was kept" in page
    assert reverse("photos:image", args=[photo.public_id, "unidentifiable"]) not in page
    assert "Confirm the blurred version" in page


# --- drawing a face the detector missed -------------------------------------------------------------


def _add_face(client, photo: Photo, **box):
    return client.post(reverse("photos:add_face", args=[photo.public_id]), box)


def test_it_adds_a_typed_box_as_a_drawn_face(client, coordinator, group_photo):
    blurred_before = group_photo.unidentifiable_blob
    client.force_login(coordinator)
    response = _add_face(client, group_photo, x=10, y=20, w=60, h=80)
    assert response.status_code == 302
    assert response.url == _detail(group_photo) + "#unidentifiable"
    assert _messages(response) == ["The face is added and blurred. Check the blurred version, then confirm it."]
    group_photo.refresh_from_db()
    assert [{k: box[k] for k in "xywh"} for box in group_photo.drawn_faces] == [{"x": 10, "y": 20, "w": 60, "h": 80}]
    assert group_photo.face_count == 4
    assert group_photo.unidentifiable_blob and group_photo.unidentifiable_blob != blurred_before
    event = AuditEvent.objects.get(action="photo.face_drawn")
    assert event.actor == coordinator

    page = client.get(_detail(group_photo)).content.decode()
    assert "4 faces found (1 of them drawn by a coordinator), 2 children tagged." in page
    assert len(FOUND_BOX.findall(page)) == 3
    assert DRAWN_BOX.findall(page) and 'aria-label="Face 4, drawn by a coordinator"' in page


@pytest.mark.parametrize(
    "box",
    [
        {"x": 1500, "y": 10, "w": 100, "h": 100},  # past the right-hand edge (the photo is 1536 wide)
        {"x": 10, "y": 500, "w": 40, "h": 40},  # past the bottom (512 high)
        {"x": -5, "y": 10, "w": 40, "h": 40},
        {"x": 10, "y": 10, "w": 2, "h": 40},  # too small to be a face
        {"x": "left", "y": 10, "w": 40, "h": 40},
        {},
    ],
)
def test_a_box_outside_the_photo_is_refused_and_changes_nothing(client, coordinator, group_photo, box):
    before = (group_photo.unidentifiable_blob, group_photo.face_count)
    client.force_login(coordinator)
    response = _add_face(client, group_photo, **box)
    assert response.status_code == 302 and response.url.endswith("#unidentifiable")
    [message] = _messages(response)
    assert message
    group_photo.refresh_from_db()
    assert group_photo.drawn_faces == []
    assert (group_photo.unidentifiable_blob, group_photo.face_count) == before
    assert not AuditEvent.objects.filter(action="photo.face_drawn").exists()


def test_a_box_past_the_edge_is_refused_in_plain_words(client, coordinator, group_photo):
    client.force_login(coordinator)
    response = _add_face(client, group_photo, x=1500, y=10, w=100, h=100)
    assert _messages(response) == ["Draw the box inside the photo."]


def test_drawing_a_face_takes_back_a_confirmation(client, coordinator, group_photo):
    services.photo_confirm_unidentifiable(photo=group_photo, confirmed=True, by=coordinator)
    client.force_login(coordinator)
    _add_face(client, group_photo, x=10, y=20, w=60, h=80)
    group_photo.refresh_from_db()
    assert not group_photo.marked_unidentifiable and group_photo.marked_unidentifiable_by is None


@pytest.mark.parametrize("who", ["photographer", "other_coordinator"])
def test_only_the_familys_coordinator_can_add_a_face(client, request, group_photo, who):
    client.force_login(request.getfixturevalue(who))
    assert _add_face(client, group_photo, x=10, y=20, w=60, h=80).status_code == 404
    group_photo.refresh_from_db()
    assert group_photo.drawn_faces == []


def test_adding_a_face_is_post_only(client, coordinator, group_photo):
    client.force_login(coordinator)
    assert client.get(reverse("photos:add_face", args=[group_photo.public_id])).status_code == 405


# --- confirming the blurred version -----------------------------------------------------------------


def _confirm(client, photo: Photo, **data):
    return client.post(reverse("photos:mark_unidentifiable", args=[photo.public_id]), data)


def test_confirming_without_the_checkbox_is_refused_and_changes_nothing(client, coordinator, group_photo):
    client.force_login(coordinator)
    response = _confirm(client, group_photo, confirmed="yes")
    assert response.status_code == 302 and response.url == _detail(group_photo) + "#unidentifiable"
    assert _messages(response) == ["Tick “I checked: no child can be recognised” to confirm the blurred version."]
    group_photo.refresh_from_db()
    assert not group_photo.marked_unidentifiable
    assert group_photo.marked_unidentifiable_by is None and group_photo.marked_unidentifiable_at is None
    assert not AuditEvent.objects.filter(action__startswith="photo.unidentifiable").exists()


def test_the_familys_coordinator_confirms_and_takes_it_back(client, coordinator, group_photo):
    client.force_login(coordinator)
    response = _confirm(client, group_photo, confirmed="yes", checked="on")
    assert response.status_code == 302
    group_photo.refresh_from_db()
    assert group_photo.marked_unidentifiable
    assert group_photo.marked_unidentifiable_by == coordinator and group_photo.marked_unidentifiable_at
    assert AuditEvent.objects.filter(action="photo.unidentifiable_confirmed", actor=coordinator).count() == 1

    page = client.get(_detail(group_photo)).content.decode()
    assert f"by {coordinator}" in page and "Confirmed" in page
    assert "Take back the confirmation" in page
    assert "Confirm the blurred version" not in page

    _confirm(client, group_photo, confirmed="no")
    group_photo.refresh_from_db()
    assert not group_photo.marked_unidentifiable and group_photo.marked_unidentifiable_by is None
    assert AuditEvent.objects.filter(action="photo.unidentifiable_unconfirmed", actor=coordinator).exists()


@pytest.mark.parametrize("who", ["photographer", "other_coordinator", "member_of_staff"])
def test_only_the_familys_coordinator_can_confirm(client, request, group_photo, who):
    client.force_login(request.getfixturevalue(who))
    assert _confirm(client, group_photo, confirmed="yes", checked="on").status_code == 404
    group_photo.refresh_from_db()
    assert not group_photo.marked_unidentifiable


# --- the upload status page -------------------------------------------------------------------------


def test_the_upload_status_gives_the_faces_found_and_children_tagged(client, photographer, group_photo):
    client.force_login(photographer)
    url = reverse("photos:batch", args=[group_photo.batch.public_id])
    answer = client.get(url, headers={"Accept": "application/json"}).json()
    [row] = answer["photos"]
    assert row["status"] == "ready"
    assert (row["face_count"], row["tagged"], row["faces"]) == (3, 2, "3 faces found, 2 children tagged")

    page = client.get(url).content.decode()
    assert "3 faces found, 2 children tagged." in page
    assert f'href="{_detail(group_photo)}#unidentifiable">Check the faces</a>' in page


def test_the_upload_status_gives_the_faces_refusal(client, photographer, family):
    batch = services.photo_upload(
        family=family, children=[], files=[images.group()], no_child_identifiable=True, by=photographer, queue=False
    )
    services.photo_process(photo_id=batch.photos.get().pk)
    client.force_login(photographer)
    url = reverse("photos:batch", args=[batch.public_id])
    [row] = client.get(url, headers={"Accept": "application/json"}).json()["photos"]
    assert row["status"] == "refused"
    assert row["reason"].startswith("FiG Safety found 3 faces in this photo")
    assert row["faces"] == ""
    page = client.get(url).content.decode()
    assert "FiG Safety found 3 faces in this photo" in page
    assert "Check the faces" not in page


def test_the_upload_page_offers_to_keep_only_a_blurred_version(client, photographer, family):
    client.force_login(photographer)
    page = client.get(reverse("photos:upload"), {"family": family.reference}).content.decode()
    assert 'name="blur_faces"' in page
    assert "Keep only a version with every face blurred" in page
    assert 'aria-describedby="blur-faces-hint"' in page
    assert "the photo as taken is never kept" in page
