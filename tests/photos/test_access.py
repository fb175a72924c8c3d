"""Who may reach which vault URL, and how the photo's bytes are served.

Personas: the family's coordinator, a coordinator of another family, the photographer who
uploaded the photo (inside and after the fix-tags window), another photographer, staff without
a vault role (staff member, social media administrator, CEO), a parent, and anonymous people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from consents.models import Child, Family
from photos.access import access_batch, access_photo
from photos.models import Photo, PhotoAccess, PhotoTag, UploadBatch
from staff.models import AuditEvent
from tests import factories
from tests.photos.fixtures import consented_child, ready_photo, unique_jpeg, vault_files

# --- personas and a small world -----------------------------------------------------------


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def other_photographer(db):
    return factories.staff_user("photographer", email="other.photographer@example.org")


@pytest.fixture
def social_admin(db):
    return factories.staff_user("social_admin", email="social@example.org")


@dataclass
class World:
    family: Family
    child: Child
    photo: Photo  # uploaded by the photographer a moment ago, queued for deletion in a week
    other_family: Family


@pytest.fixture
def world(coordinator, other_coordinator, photographer) -> World:
    family, child, _ = consented_child(coordinator=coordinator)
    photo = ready_photo(family, [child], photographer)
    # Queued for deletion, so the keep view has something to keep.
    Photo.objects.filter(pk=photo.pk).update(deletion_due_at=timezone.now() + timedelta(days=7))
    photo.refresh_from_db()
    other_family, _, _ = consented_child(coordinator=other_coordinator)
    return World(family, child, photo, other_family)


Target = tuple[str, str, Callable[[], dict]]


def _targets(w: World) -> dict[str, Target]:
    """Every vault URL: (method, url, a body that would change something if allowed)."""
    pid = w.photo.public_id
    return {
        "gallery": ("get", reverse("photos:gallery"), dict),
        "upload": (
            "post",
            reverse("photos:upload"),
            lambda: {
                "family": w.family.reference,
                "children": [w.child.pk],
                "files": [SimpleUploadedFile("a.jpg", unique_jpeg(), content_type="image/jpeg")],
            },
        ),
        "my_uploads": ("get", reverse("photos:my_uploads"), dict),
        "confirm_device_deleted": (
            "post",
            reverse("photos:confirm_device_deleted"),
            lambda: {"batch": str(w.photo.batch.public_id)},
        ),
        "batch": ("get", reverse("photos:batch", args=[w.photo.batch.public_id]), dict),
        "unconfirmed": ("get", reverse("photos:unconfirmed"), dict),
        "deletion_queue": ("get", reverse("photos:deletion_queue"), dict),
        "detail": ("get", reverse("photos:detail", args=[pid]), dict),
        "thumbnail": ("get", reverse("photos:image", args=[pid, "thumbnail"]), dict),
        "full": ("get", reverse("photos:image", args=[pid, "full"]), dict),
        "download": ("get", reverse("photos:image", args=[pid, "download"]), dict),
        "retag": ("post", reverse("photos:retag", args=[pid]), lambda: {"no_child_identifiable": "on"}),
        "keep": (
            "post",
            reverse("photos:keep", args=[pid]),
            lambda: {"reason": "Evidence in an open safeguarding case, held for the police."},
        ),
        "access_log": ("get", reverse("photos:access_log", args=[pid]), dict),
    }


ALL = [
    "gallery",
    "upload",
    "my_uploads",
    "confirm_device_deleted",
    "batch",
    "unconfirmed",
    "deletion_queue",
    "detail",
    "thumbnail",
    "full",
    "download",
    "retag",
    "keep",
    "access_log",
]
IMAGES = ["thumbnail", "full", "download"]
PHOTO_PAGES = ["detail", *IMAGES, "retag", "keep", "access_log"]
COORDINATOR_ONLY = ["unconfirmed", "deletion_queue", "keep", "access_log"]
POST_ONLY = ["confirm_device_deleted", "retag", "keep"]
GET_ONLY = ["gallery", "my_uploads", "batch", "unconfirmed", "deletion_queue", "detail", *IMAGES, "access_log"]
ACTIONS = {
    "thumbnail": PhotoAccess.Action.THUMBNAIL,
    "full": PhotoAccess.Action.VIEW,
    "download": PhotoAccess.Action.DOWNLOAD,
}


def _call(client, w: World, name: str):
    method, url, body = _targets(w)[name]
    return client.post(url, body()) if method == "post" else client.get(url)


def snapshot() -> dict:
    """Everything a vault URL could change."""
    return {
        "photos": list(
            Photo.objects.order_by("pk").values_list(
                "status", "no_child_identifiable", "device_deleted_at", "keep_reason", "deletion_due_at"
            )
        ),
        "tags": list(PhotoTag.objects.order_by("pk").values_list("photo_id", "child_id")),
        "batches": UploadBatch.objects.count(),
        "accesses": PhotoAccess.objects.count(),
        "audit": AuditEvent.objects.count(),
        "vault": vault_files(),
        "mail": len(mail.outbox),
    }


def _refused(client, w: World, name: str, expected: int, capture) -> None:
    before = snapshot()
    with capture(execute=True) as callbacks:
        response = _call(client, w, name)
    assert response.status_code == expected, (name, response.status_code)
    assert callbacks == []  # no task or email queued
    assert snapshot() == before  # nothing changed, not even an access-log row


# --- the access matrix --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ALL)
def test_it_sends_anonymous_people_to_sign_in(client, world, name):
    before = snapshot()
    response = _call(client, world, name)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["parent", "member_of_staff", "social_admin", "ceo"])
@pytest.mark.parametrize("name", ALL)
def test_it_answers_404_to_people_without_a_vault_role(
    client, world, persona, name, request, django_capture_on_commit_callbacks
):
    # "Everyone else gets 404": the vault does not even admit that the page exists.
    client.force_login(request.getfixturevalue(persona))
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["parent", "member_of_staff"])
def test_it_answers_404_for_a_photo_that_does_not_exist_and_one_that_does_alike(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    made_up = "00000000-0000-4000-8000-000000000000"
    for size in ("", "image/full/", "access-log/"):
        real = client.get(f"/photos/{world.photo.public_id}/{size}")
        missing = client.get(f"/photos/{made_up}/{size}")
        assert real.status_code == missing.status_code == 404
        assert real.templates[0].name == missing.templates[0].name == "404.html"


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*PHOTO_PAGES, "batch"])
def test_it_hides_a_photo_from_a_coordinator_of_another_family(
    client, world, other_coordinator, name, django_capture_on_commit_callbacks
):
    client.force_login(other_coordinator)
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["gallery", "unconfirmed", "deletion_queue"])
def test_it_leaves_another_familys_photo_out_of_a_coordinators_lists(client, world, other_coordinator, name):
    client.force_login(other_coordinator)
    response = client.get(_targets(world)[name][1])
    assert response.status_code == 200
    listed = response.context["cards"] if name == "gallery" else response.context["page"].object_list
    assert list(listed) == []
    body = response.content.decode()
    assert str(world.photo.public_id) not in body and world.family.reference not in body


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["detail", *IMAGES, "retag", "batch"])
def test_it_hides_a_photo_from_another_photographer(
    client, world, other_photographer, name, django_capture_on_commit_callbacks
):
    client.force_login(other_photographer)
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["detail", "thumbnail", "full"])  # never the download: tests/photos/test_who_sees.py
def test_it_shows_the_uploader_their_photo_while_they_can_fix_its_tags(client, world, photographer, name):
    client.force_login(photographer)
    assert _call(client, world, name).status_code == 200


@pytest.mark.django_db
def test_it_lets_the_uploader_fix_the_tags_in_the_window(client, world, photographer):
    client.force_login(photographer)
    response = _call(client, world, "retag")
    assert response.status_code == 302
    world.photo.refresh_from_db()
    assert world.photo.no_child_identifiable
    assert not world.photo.tags.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", COORDINATOR_ONLY)
def test_it_refuses_the_uploader_the_coordinators_pages(
    client, world, photographer, name, django_capture_on_commit_callbacks
):
    client.force_login(photographer)
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["detail", *IMAGES, "retag"])
def test_it_hides_the_photo_from_its_uploader_once_the_window_has_closed(
    client, world, photographer, name, django_capture_on_commit_callbacks
):
    hours = settings.FIG_PHOTO_FIX_TAGS_HOURS
    assert hours == 24
    Photo.objects.filter(pk=world.photo.pk).update(uploaded_at=timezone.now() - timedelta(hours=hours, minutes=1))
    client.force_login(photographer)
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_it_still_shows_the_uploader_their_photo_just_inside_the_window(client, world, photographer):
    hours = settings.FIG_PHOTO_FIX_TAGS_HOURS
    Photo.objects.filter(pk=world.photo.pk).update(uploaded_at=timezone.now() - timedelta(hours=hours, minutes=-1))
    client.force_login(photographer)
    assert _call(client, world, "detail").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["gallery", "upload", "my_uploads", "unconfirmed", "deletion_queue", "detail", *IMAGES, "access_log"]
)
def test_it_opens_every_page_for_the_familys_coordinator(client, world, coordinator, name):
    client.force_login(coordinator)
    assert client.get(_targets(world)[name][1]).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["retag", "keep"])
def test_it_lets_the_familys_coordinator_make_every_change(
    client, world, coordinator, name, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    before = snapshot()
    response = _call(client, world, name)
    assert response.status_code == 302
    assert response["Location"] == reverse("photos:detail", args=[world.photo.public_id])
    assert snapshot() != before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ALL)
def test_it_refuses_the_wrong_http_method(client, world, coordinator, name, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    method, url, body = _targets(world)[name]
    before = snapshot()
    if name in POST_ONLY:
        assert client.get(url).status_code == 405
    elif name in GET_ONLY:
        assert client.post(url, body()).status_code == 405
    else:  # the upload page takes GET and POST
        assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405
    assert snapshot() == before


# --- the bytes ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "name"),
    # The photographer sees but never downloads their upload (tests/photos/test_who_sees.py).
    [*(("coordinator", name) for name in IMAGES), ("photographer", "thumbnail"), ("photographer", "full")],
)
def test_it_serves_the_bytes_privately_and_logs_each_request(client, world, persona, name, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    for _ in range(2):
        before = PhotoAccess.objects.count()
        response = _call(client, world, name)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.content.startswith(b"\xff\xd8\xff")  # decrypted: a JPEG, not the vault's sealed blob
        assert PhotoAccess.objects.count() == before + 1
    entries = list(PhotoAccess.objects.filter(photo=world.photo).order_by("id"))
    assert [(e.user, e.action) for e in entries] == [(user, ACTIONS[name])] * 2
    assert entries[0].ip_address == "127.0.0.1"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;" if name == "download" else "inline;")
    assert world.family.reference in disposition and world.child.first_name not in disposition


@pytest.mark.django_db
def test_it_has_no_size_but_the_three(client, world, coordinator):
    client.force_login(coordinator)
    for size in ("original", "incoming", "raw", "../full"):
        response = client.get(f"/photos/{world.photo.public_id}/image/{size}/")
        assert response.status_code == 404
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Photo.Status.PROCESSING, Photo.Status.REFUSED, Photo.Status.DELETED])
def test_it_serves_no_bytes_of_a_photo_that_is_not_ready(client, world, coordinator, status):
    Photo.objects.filter(pk=world.photo.pk).update(status=status)
    client.force_login(coordinator)
    for name in IMAGES:
        assert _call(client, world, name).status_code == 404
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
def test_it_has_no_public_media_url_for_the_vault(client, world, coordinator):
    from fig_safety import settings as project_settings

    # No media folder or URL is configured at all (Django's own default for MEDIA_URL reads as "/").
    assert not hasattr(project_settings, "MEDIA_URL") and not hasattr(project_settings, "MEDIA_ROOT")
    vault = settings.FIG_VAULT_DIR.resolve()
    static_places = [settings.STATIC_ROOT, *settings.STATICFILES_DIRS]
    assert not any(vault.is_relative_to(Path(place).resolve()) for place in static_places)
    photo = world.photo
    for signed_in in (False, True):
        if signed_in:
            client.force_login(coordinator)
        for name in (photo.original_blob, photo.thumbnail_blob):
            assert name
            for prefix in ("/media/", "/static/", "/", "/vault/", "/media/vault/"):
                response = client.get(prefix + name)
                assert response.status_code == 404, prefix + name
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
def test_the_access_helpers_give_each_persona_what_they_may_have(
    world, coordinator, other_coordinator, photographer, other_photographer
):
    pid, batch = world.photo.public_id, world.photo.batch.public_id
    assert access_batch(photographer, batch) == world.photo.batch
    for person in (coordinator, other_coordinator, other_photographer):
        with pytest.raises(Http404):
            access_batch(person, batch)
    for flags in ({}, {"retag": True}, {"manage": True}):
        assert access_photo(coordinator, pid, **flags) == world.photo
    for flags in ({}, {"retag": True}):
        assert access_photo(photographer, pid, **flags) == world.photo
    refused = [
        (other_coordinator, {}),
        (other_photographer, {}),
        (other_photographer, {"retag": True}),
        (photographer, {"manage": True}),  # their upload, but their coordinators' to manage
    ]
    for person, flags in refused:
        with pytest.raises(Http404):
            access_photo(person, pid, **flags)
