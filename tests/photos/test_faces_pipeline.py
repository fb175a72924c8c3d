"""Faces through the whole pipeline: found on every photo, "no child can be identified" checked against
them, a real unidentifiable version, confirmed by a coordinator, and exactly that image published.

The photographs are real: scikit-image's astronaut (Eileen Collins), shipped inside the package.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from PIL import Image, ImageChops

from consents.models import Purpose
from fig_safety.vault import vault_read
from photos.faces import FaceBox, find_faces
from photos.models import Photo
from photos.processing import process_upload
from photos.selectors import ORIGINAL, UNIDENTIFIABLE, online_versions, uses_for_photos
from photos.services import (
    UploadError,
    photo_add_face,
    photo_confirm_unidentifiable,
    photo_process,
    photo_retag,
    photo_upload,
)
from photos.sweeps import check_faces
from social.models import Post
from social.posts import services as posts
from social.posts.selectors import postable_photos
from social.posts.services import CHECKLIST
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import all_answers, family_with_child, give
from tests.photos.fixtures import ready_photo, vault_files
from tests.photos.images import astronaut, group, landscape
from tests.social.fake_graph import FakeGraph, page_graph

pytestmark = pytest.mark.django_db


def _open(name: str, key_id: str) -> Image.Image:
    return Image.open(io.BytesIO(vault_read(name=name, key_id=key_id))).convert("RGB")


def _box_difference(a: Image.Image, b: Image.Image, box: dict) -> float:
    """Mean absolute difference of two images inside a box, 0 to 255."""
    area = (box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"])
    return float(np.asarray(ImageChops.difference(a.crop(area), b.crop(area)), dtype=np.float32).mean())


def _upload(family, children, by, data: bytes, **options) -> Photo:
    batch = photo_upload(
        family=family, children=children, files=[data], no_child_identifiable=not children, by=by, **options
    )
    return photo_process(photo_id=batch.photos.get().pk)


@pytest.fixture
def family(coordinator):
    family, _child, _carers = family_with_child(coordinator)
    return family


@pytest.fixture
def online_without_face(family):
    """A child whose carer agreed to photos online, but not to a recognisable face."""
    child = family.children.get()
    give(child, family.carers.get(), all_answers(True, face_online=False))
    return child


# --- "no child can be identified" is checked, not believed -----------------------------------------------


def test_a_photo_with_faces_and_the_box_ticked_is_refused_and_nothing_is_stored(family, coordinator):
    before = vault_files()
    photo = _upload(family, [], coordinator, astronaut())
    assert photo.status == Photo.Status.REFUSED
    assert "found a face in this photo" in photo.refusal_reason
    assert "Tag the children in it, or upload it again choosing to keep only a version" in photo.refusal_reason
    assert vault_files() == before  # not the upload, not a version of it
    assert (photo.original_blob, photo.unidentifiable_blob, photo.upload_sha256) == ("", "", "")


def test_a_photo_without_people_and_the_box_ticked_is_accepted_with_every_use(family, coordinator):
    photo = _upload(family, [], coordinator, landscape())
    assert photo.status == Photo.Status.READY
    assert (photo.face_count, photo.faces, photo.unidentifiable_blob) == (0, [], "")
    assert photo.faces_checked_at is not None
    assert uses_for_photos([photo])[photo.pk] == frozenset(p for p in Purpose)
    assert online_versions([photo])[photo.pk] == ORIGINAL


def test_faces_are_found_and_kept_as_positions_only(family, coordinator, online_without_face):
    photo = _upload(family, [online_without_face], coordinator, group())
    assert photo.status == Photo.Status.READY
    assert photo.face_count == len(photo.faces) >= 3
    for box in photo.faces:
        assert set(box) == {"x", "y", "w", "h", "score"}  # where, and how sure: nothing about who
        FaceBox.from_dict(box)
    assert AuditEvent.objects.get(action="photo.stored", target_id=str(photo.pk)).details["faces"] == photo.face_count


def test_retagging_a_photo_with_faces_as_no_child_identifiable_is_refused(family, coordinator, online_without_face):
    photo = _upload(family, [online_without_face], coordinator, astronaut())
    with pytest.raises(UploadError, match="found faces in this photo"):
        photo_retag(photo=photo, children=[], no_child_identifiable=True, by=coordinator)
    assert list(photo.tags.values_list("child_id", flat=True)) == [online_without_face.pk]


# --- keeping only the blurred version ---------------------------------------------------------------------


def test_blur_faces_keeps_no_byte_of_the_original(family, coordinator):
    clean = process_upload(astronaut())  # what the original would have been, had it been kept
    before = vault_files()
    photo = _upload(family, [], coordinator, astronaut(), blur_faces=True)

    assert photo.status == Photo.Status.READY and photo.blurred_only and photo.face_count >= 1
    assert photo.unidentifiable_blob == ""  # the stored photo is the blurred one
    new = vault_files() - before
    assert len(new) == 2  # the blurred photo and its thumbnail: nothing else
    stored = {vault_read(name=photo.original_blob, key_id=photo.original_key_id)}
    stored.add(vault_read(name=photo.thumbnail_blob, key_id=photo.thumbnail_key_id))
    assert clean.original not in stored and clean.thumbnail not in stored
    blurred = _open(photo.original_blob, photo.original_key_id)
    assert find_faces(blurred) == []
    for box in photo.faces:
        assert _box_difference(blurred, Image.open(io.BytesIO(clean.original)).convert("RGB"), box) > 20


def test_a_blurred_only_photo_is_used_only_once_a_coordinator_confirms_it(family, coordinator):
    photo = _upload(family, [], coordinator, astronaut(), blur_faces=True)
    assert uses_for_photos([photo])[photo.pk] == {Purpose.PHOTOGRAPHED, Purpose.STORED}
    assert not postable_photos().filter(pk=photo.pk).exists()
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    assert postable_photos().filter(pk=photo.pk).exists()
    assert online_versions([photo])[photo.pk] == ORIGINAL  # its only image, blurred


def test_keeping_only_a_blurred_version_is_for_untagged_photos(family, coordinator, online_without_face):
    with pytest.raises(UploadError, match="no child is tagged"):
        photo_upload(
            family=family,
            children=[online_without_face],
            files=[astronaut()],
            no_child_identifiable=False,
            blur_faces=True,
            by=coordinator,
        )


# --- the unidentifiable version --------------------------------------------------------------------------


def test_every_photo_with_faces_gets_a_version_with_every_face_blurred(family, coordinator, online_without_face):
    photo = _upload(family, [online_without_face], coordinator, group())
    original = _open(photo.original_blob, photo.original_key_id)
    blurred = _open(photo.unidentifiable_blob, photo.unidentifiable_key_id)
    assert blurred.size == original.size
    assert find_faces(blurred) == []  # the project's own detector finds no face again
    for box in photo.faces:
        assert _box_difference(original, blurred, box) > 20
    corner = {"x": 0, "y": 0, "w": 40, "h": 40}  # the white background, far from any face
    assert _box_difference(original, blurred, corner) < 3
    assert _open(photo.unidentifiable_thumbnail_blob, photo.unidentifiable_thumbnail_key_id).width <= 480


def test_a_box_a_coordinator_draws_is_blurred_and_the_version_needs_confirming_again(
    family, coordinator, online_without_face
):
    photo = _upload(family, [online_without_face], coordinator, astronaut())
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    old_blob = Photo.objects.get(pk=photo.pk).unidentifiable_blob
    drawn = FaceBox(x=330, y=380, w=120, h=100, score=1.0)  # the astronaut's hand-held badge area

    photo = photo_add_face(photo=photo, box=drawn, by=coordinator)

    assert photo.drawn_faces == [drawn.as_dict()] and photo.face_count == len(photo.faces) + 1
    assert not photo.marked_unidentifiable and photo.marked_unidentifiable_by is None
    assert photo.unidentifiable_blob != old_blob
    original = _open(photo.original_blob, photo.original_key_id)
    blurred = _open(photo.unidentifiable_blob, photo.unidentifiable_key_id)
    assert _box_difference(original, blurred, drawn.as_dict()) > 15
    event = AuditEvent.objects.get(action="photo.face_drawn")
    assert event.actor == coordinator and event.details["confirmation_withdrawn"] is True


def test_a_box_outside_the_photo_is_refused(family, coordinator, online_without_face):
    photo = _upload(family, [online_without_face], coordinator, astronaut())
    with pytest.raises(UploadError, match="inside the photo"):
        photo_add_face(photo=photo, box=FaceBox(x=500, y=500, w=100, h=100, score=1.0), by=coordinator)
    assert Photo.objects.get(pk=photo.pk).drawn_faces == []


def test_confirming_is_audited_and_needs_a_blurred_version(family, coordinator, online_without_face):
    no_faces = _upload(family, [online_without_face], coordinator, landscape())
    with pytest.raises(UploadError, match="no face in this photo"):
        photo_confirm_unidentifiable(photo=no_faces, confirmed=True, by=coordinator)

    photo = _upload(family, [online_without_face], coordinator, astronaut())
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    assert (photo.marked_unidentifiable, photo.marked_unidentifiable_by) == (True, coordinator)
    assert photo.marked_unidentifiable_at is not None
    assert AuditEvent.objects.get(action="photo.unidentifiable_confirmed").actor == coordinator


# --- the right image goes out ------------------------------------------------------------------------------


def test_an_unconfirmed_unidentifiable_version_is_not_offered_to_posts(family, coordinator, online_without_face):
    photo = _upload(family, [online_without_face], coordinator, astronaut())
    assert photo.unidentifiable_blob
    assert not postable_photos().filter(pk=photo.pk).exists()
    assert online_versions([photo])[photo.pk] is None

    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    assert postable_photos().filter(pk=photo.pk).exists()
    assert online_versions([photo])[photo.pk] == UNIDENTIFIABLE


def test_a_child_consented_to_a_recognisable_face_is_published_as_taken(family, coordinator):
    child = family.children.get()
    give(child, family.carers.get())
    photo = _upload(family, [child], coordinator, astronaut())
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    assert online_versions([photo])[photo.pk] == ORIGINAL


@pytest.fixture
def graph(settings) -> Iterator[FakeGraph]:
    with page_graph(settings) as fake:
        yield fake


def test_a_post_using_the_unidentifiable_version_publishes_the_blurred_bytes(
    family, coordinator, online_without_face, graph, django_capture_on_commit_callbacks, client
):
    photo = _upload(family, [online_without_face], coordinator, astronaut())
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    post = posts.post_save_draft(
        author=author, text="Our summer trip!", channels=["facebook"], scheduled_for=None, photos=[photo]
    )
    assert post.photo_versions == {str(photo.pk): UNIDENTIFIABLE}
    posts.post_submit(post=post, by=author)
    posts.post_approve(post=post, by=admin, checklist=dict.fromkeys(CHECKLIST, True), dismissals={})
    client.force_login(admin)
    assert "Published blurred: every face hidden" in client.get(f"/social/posts/{post.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")

    assert Post.objects.get(pk=post.pk).status == Post.Status.PUBLISHED
    [upload] = graph.to("photos")
    sent = upload.files["source"][2]
    assert sent == vault_read(name=photo.unidentifiable_blob, key_id=photo.unidentifiable_key_id)
    assert sent != vault_read(name=photo.original_blob, key_id=photo.original_key_id)  # the original stays in
    assert mail.outbox  # the author heard


def test_a_post_approved_with_the_original_goes_back_if_the_face_consent_goes(family, coordinator):
    child = family.children.get()
    carer = family.carers.get()
    give(child, carer)
    photo = _upload(family, [child], coordinator, astronaut())
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    post = posts.post_save_draft(author=author, text="Hello", channels=["website"], scheduled_for=None, photos=[photo])
    assert post.photo_versions == {str(photo.pk): ORIGINAL}
    posts.post_submit(post=post, by=author)
    posts.post_approve(post=post, by=admin, checklist=dict.fromkeys(CHECKLIST, True), dismissals={})
    give(child, carer, all_answers(True, face_online=False))  # a new form: no recognisable face

    # Sent back at once (the post was approved as taken), never switched silently to the blurred image.
    post.refresh_from_db()
    assert post.status == Post.Status.CHANGES_REQUESTED and post.photo_versions == {str(photo.pk): ORIGINAL}
    with pytest.raises(posts.PostError):
        posts.post_publish(post=post, by=admin, adapter_name="manual", url="https://example.org/p/1")


# --- photos stored before the check ------------------------------------------------------------------------


def test_a_photo_stored_before_the_check_is_checked_by_the_sweep(family, coordinator):
    photo = ready_photo(family, [], coordinator, data=landscape())
    Photo.objects.filter(pk=photo.pk).update(faces_checked_at=None, face_count=0, faces=[])
    photo.refresh_from_db()
    assert not postable_photos().filter(pk=photo.pk).exists()  # unchecked: not trusted online
    assert check_faces(timezone.now()) == 1
    photo.refresh_from_db()
    assert photo.faces_checked_at is not None and photo.face_count == 0
    assert postable_photos().filter(pk=photo.pk).exists()
    assert check_faces(timezone.now()) == 0


# --- export -------------------------------------------------------------------------------------------------


def test_vault_export_writes_the_unidentifiable_version_and_the_face_fields(
    family, coordinator, online_without_face, tmp_path
):
    photo = _upload(family, [online_without_face], coordinator, astronaut())
    photo_add_face(photo=photo, box=FaceBox(x=10, y=10, w=50, h=50, score=1.0), by=coordinator)
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    out = tmp_path / "export"
    call_command("vault_export", "--family", family.reference, "--out", str(out), "--by", coordinator.email)

    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["photos"]
    assert entry["unidentifiable_file"] == f"unidentifiable/{photo.public_id}.jpg"
    exported = (out / entry["unidentifiable_file"]).read_bytes()
    assert exported == vault_read(name=photo.unidentifiable_blob, key_id=photo.unidentifiable_key_id)
    assert entry["faces_found"] == len(photo.faces) and entry["faces_drawn"] == 1
    assert [b for b in entry["face_boxes"] if b["drawn"]] == [{**photo.drawn_faces[0], "drawn": True}]
    assert entry["unidentifiable_confirmed_by"] == coordinator.email
    assert entry["unidentifiable_confirmed_at"]


# --- vault_import ------------------------------------------------------------------------------------------


def test_vault_import_refuses_a_photo_with_faces_as_no_child_identifiable(family, coordinator, tmp_path):
    path = tmp_path / "portrait.jpg"
    path.write_bytes(astronaut())
    before = vault_files()
    with pytest.raises(CommandError, match="refused"):
        call_command(
            "vault_import",
            str(path),
            "--family",
            family.reference,
            "--no-child-identifiable",
            "--taken-by",
            coordinator.email,
            stdout=io.StringIO(),
        )
    assert vault_files() == before


def test_vault_import_blur_faces_stores_only_the_blurred_version(family, coordinator, tmp_path):
    path = tmp_path / "portrait.jpg"
    path.write_bytes(astronaut())
    clean = process_upload(astronaut())
    out = io.StringIO()
    call_command(
        "vault_import",
        str(path),
        "--family",
        family.reference,
        "--no-child-identifiable",
        "--blur-faces",
        "--taken-by",
        coordinator.email,
        stdout=out,
    )
    assert "face(s) found, blurred" in out.getvalue()
    photo = Photo.objects.get(family=family)
    assert photo.blurred_only
    blobs = [vault_read(name=photo.original_blob, key_id=photo.original_key_id)]
    blobs.append(vault_read(name=photo.thumbnail_blob, key_id=photo.thumbnail_key_id))
    assert clean.original not in blobs and clean.thumbnail not in blobs


def test_vault_import_blur_faces_needs_no_child_identifiable(family, coordinator, tmp_path):
    path = tmp_path / "portrait.jpg"
    path.write_bytes(astronaut())
    with pytest.raises(CommandError, match="goes with --no-child-identifiable"):
        call_command(
            "vault_import", str(path), "--family", family.reference, "--blur-faces", "--taken-by", coordinator.email
        )
