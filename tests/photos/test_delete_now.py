"""Delete this photo now (issue 19, point 1): a coordinator of a family the photo belongs to deletes it at once
with a reason; every blob of it leaves storage once the deletion commits (and none if it rolls back); posts that
used it go back to their authors or get a takedown; and the orphan sweep removes what a failed removal left.

Personas: the family's coordinator, a coordinator of another family, the photographer who uploaded the photo,
a social media administrator, a post author, and anonymous people.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.storage import storages
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fig_safety import vault
from fig_safety.vault import vault_save
from photos import hooks, services, sweeps
from photos.models import Photo
from photos.services import DELETE_NOW_REASON_MIN, UploadError, photo_delete, photo_delete_now, photo_upload
from social.models import Post, PostChannel, Takedown
from social.posts import services as posts
from social.posts.services import CHECKLIST
from staff.models import AuditEvent
from tests import factories, s3_server
from tests.photos.fixtures import consented_child, ready_photo, unique_jpeg, vault_files
from tests.photos.images import astronaut
from tests.s3_server import bucket_objects

pytestmark = pytest.mark.django_db

s3_vault = s3_server.s3_vault  # the fixture (tests/s3_server.py)

REASON = "The family asked for this photo to be deleted at once."
S = Post.Status


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def social_admin(db):
    return factories.staff_user("social_admin", email="social@example.org")


@pytest.fixture
def author(db):
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def family_and_child(coordinator, other_coordinator):
    family, child, _ = consented_child(coordinator=coordinator)
    consented_child(coordinator=other_coordinator)  # the other coordinator has a family of their own
    return family, child


@pytest.fixture
def photo(family_and_child, photographer) -> Photo:
    """A real photograph with a face, so it has every stored version: as taken, its thumbnail, and the version
    with faces blurred and its thumbnail."""
    family, child = family_and_child
    return ready_photo(family, [child], photographer, data=astronaut())


@pytest.fixture
def own_vault(settings, tmp_path):
    """A vault folder of this test's own: the orphan sweep here ages blobs, and a later test's sweep in the same
    run must not find them (the rows that named them are rolled back)."""
    folder = tmp_path / "vault"
    settings.FIG_VAULT_DIR = folder
    settings.STORAGES = {
        **settings.STORAGES,
        "vault": {
            **settings.STORAGES["vault"],
            "OPTIONS": {**settings.STORAGES["vault"]["OPTIONS"], "location": str(folder)},
        },
    }
    return folder


def _blobs(photo: Photo) -> list[str]:
    names = [
        photo.original_blob,
        photo.thumbnail_blob,
        photo.unidentifiable_blob,
        photo.unidentifiable_thumbnail_blob,
        photo.incoming_blob,
    ]
    return [name for name in names if name]


def _stored(names: list[str]) -> list[bool]:
    return [storages["vault"].exists(name) for name in names]


def _path(name: str) -> str:
    return str(Path(settings.FIG_VAULT_DIR) / name)


def _fresh(instance):
    return type(instance).objects.get(pk=instance.pk)


# --- the blobs -------------------------------------------------------------------------------------------------


def test_it_removes_every_blob_of_the_photo_from_storage_once_the_deletion_commits(
    photo, coordinator, django_capture_on_commit_callbacks
):
    names = _blobs(photo)
    assert len(names) == 4 and all(_stored(names))  # as taken, thumbnail, blurred version and its thumbnail
    before = vault_files()

    with django_capture_on_commit_callbacks() as callbacks:
        done = photo_delete_now(photo=photo, reason=REASON, by=coordinator)
        assert done.deleted
        assert all(_stored(names))  # nothing leaves storage before the commit
    for callback in callbacks:
        callback()

    assert _stored(names) == [False] * 4
    assert vault_files() == before - {_path(name) for name in names}  # those four, and nothing else
    photo.refresh_from_db()
    assert photo.status == Photo.Status.DELETED and _blobs(photo) == []
    assert photo.deletion_reason == REASON and photo.deleted_at is not None


def test_it_removes_the_uploaded_file_of_a_photo_still_being_processed(
    family_and_child, coordinator, photographer, django_capture_on_commit_callbacks
):
    family, child = family_and_child
    batch = photo_upload(
        family=family,
        children=[child],
        files=[unique_jpeg()],
        no_child_identifiable=False,
        by=photographer,
        queue=False,
    )
    processing = batch.photos.get()
    assert processing.status == Photo.Status.PROCESSING and _stored([processing.incoming_blob]) == [True]

    with django_capture_on_commit_callbacks(execute=True):
        photo_delete_now(photo=processing, reason=REASON, by=coordinator)

    assert _stored([processing.incoming_blob]) == [False]
    assert services.photo_process(photo_id=processing.pk).status == Photo.Status.DELETED  # the task finds it gone


def test_nothing_leaves_storage_when_the_deletion_rolls_back(photo, django_capture_on_commit_callbacks):
    names = _blobs(photo)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        photo_delete(photo_id=photo.pk, reason="Retention period over.")
        raise RuntimeError("the transaction fails after the deletion")

    assert callbacks == []
    assert all(_stored(names))
    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY and _blobs(photo) == names  # the row still names blobs that exist


def test_a_blob_that_cannot_be_removed_is_logged_and_the_others_still_go(
    own_vault,
    photo,
    coordinator,
    photographer,
    family_and_child,
    monkeypatch,
    caplog,
    django_capture_on_commit_callbacks,
):
    family, child = family_and_child
    kept = ready_photo(family, [child], photographer)
    names = _blobs(photo)
    real_delete = vault.vault_delete

    def failing(*, name: str) -> None:
        if name == photo.thumbnail_blob:
            raise OSError("the storage is unreachable")
        real_delete(name=name)

    monkeypatch.setattr(services, "vault_delete", failing)
    with caplog.at_level(logging.ERROR, logger="photos.services"), django_capture_on_commit_callbacks(execute=True):
        photo_delete_now(photo=photo, reason=REASON, by=coordinator)

    assert _stored(names) == [False, True, False, False]
    assert f"Could not delete vault blob {photo.thumbnail_blob}" in caplog.text
    assert _fresh(photo).status == Photo.Status.DELETED  # the deletion stands; the sweep removes the leftover

    os.utime(_path(photo.thumbnail_blob), (0, (timezone.now() - timedelta(days=2)).timestamp()))
    assert sweeps.delete_orphan_blobs() == 1
    assert _stored(names) == [False] * 4
    assert all(_stored(_blobs(kept)))


# --- the orphan sweep -------------------------------------------------------------------------------------------


def _age(name: str, days: float) -> None:
    moment = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(_path(name), (moment, moment))


def test_the_orphan_sweep_deletes_old_orphans_and_keeps_young_ones_and_every_named_blob(own_vault, photo):
    named = _blobs(photo)
    for name in named:
        _age(name, 400)  # a blob a row names is kept however old it is
    old_orphan = vault_save(b"left behind", folder="photos").name
    _age(old_orphan, 1.5)
    young_orphan = vault_save(b"being written now", folder="incoming").name
    _age(young_orphan, 0.9)
    not_ours = Path(settings.FIG_VAULT_DIR) / "notes" / "readme.txt"
    not_ours.parent.mkdir(parents=True, exist_ok=True)
    not_ours.write_text("not a vault blob")
    os.utime(not_ours, (0, 0))

    # A clock moved forward does not make a young blob old: the wall clock decides.
    assert sweeps.delete_orphan_blobs(timezone.now() + timedelta(days=30)) == 1
    assert _stored([old_orphan, young_orphan, *named]) == [False, True, True, True, True, True]
    assert not_ours.exists()
    assert sweeps.delete_orphan_blobs() == 0  # run again: nothing more

    _age(young_orphan, 1.1)
    result = sweeps.vault_sweep()
    assert result["orphan_blobs"] == 1
    assert _stored([young_orphan, *named]) == [False, True, True, True, True]


def test_the_orphan_sweep_works_on_the_s3_vault(s3_vault, family_and_child, photographer, monkeypatch):
    family, child = family_and_child
    photo = ready_photo(family, [child], photographer)
    orphan = vault_save(b"left behind", folder="photos").name
    assert {key.removeprefix("vault/") for key in bucket_objects(s3_vault)} == {*_blobs(photo), orphan}

    monkeypatch.setattr(sweeps, "ORPHAN_AGE", timedelta(hours=1))  # everything here was written just now
    assert sweeps.delete_orphan_blobs() == 0
    monkeypatch.setattr(sweeps, "ORPHAN_AGE", timedelta(0))
    assert sweeps.delete_orphan_blobs() == 1
    assert {key.removeprefix("vault/") for key in bucket_objects(s3_vault)} == set(_blobs(photo))


def test_the_orphan_sweep_deletes_nothing_when_the_database_names_no_blob(own_vault, caplog):
    orphan = vault_save(b"the database is empty", folder="photos").name
    _age(orphan, 10)
    with caplog.at_level(logging.WARNING, logger="photos.sweeps"):
        assert sweeps.delete_orphan_blobs() == 0
    assert _stored([orphan]) == [True]
    assert "The database names no vault blob" in caplog.text


# --- posts that used it ---------------------------------------------------------------------------------------


def _draft(author, photo: Photo, channels=("facebook",)) -> Post:
    return posts.post_save_draft(
        author=author, text="A lovely day out.", channels=list(channels), scheduled_for=None, photos=[photo]
    )


def _submitted(author, photo: Photo) -> Post:
    post = _draft(author, photo)
    posts.post_submit(post=post, by=author)
    return _fresh(post)


def _approved(author, admin, photo: Photo) -> Post:
    return posts.post_approve(
        post=_submitted(author, photo), by=admin, checklist=dict.fromkeys(CHECKLIST, True), dismissals={}
    )


def _published(author, admin, photo: Photo) -> Post:
    return posts.post_publish(
        post=_approved(author, admin, photo),
        by=admin,
        adapter_name="manual",
        url="https://www.facebook.com/fig/posts/1",
    )


def _call_under_way(author, admin, photo: Photo) -> Post:
    """An approved post whose call to the platform began and has not answered yet."""
    post = _approved(author, admin, photo)
    PostChannel.objects.filter(post=post).update(state=PostChannel.State.SENDING, send_started_at=timezone.now())
    Post.objects.filter(pk=post.pk).update(status=S.PUBLISHING)
    return _fresh(post)


@pytest.fixture
def queue(photo, author, social_admin, family_and_child, photographer) -> dict[str, Post]:
    family, child = family_and_child
    other_photo = ready_photo(family, [child], photographer)
    return {
        "draft": _draft(author, photo),
        "submitted": _submitted(author, photo),
        "approved": _approved(author, social_admin, photo),
        "published": _published(author, social_admin, photo),
        "call under way": _call_under_way(author, social_admin, photo),
        "another photo published": _published(author, social_admin, other_photo),
    }


def test_posts_that_used_it_go_back_to_their_authors_or_get_a_takedown(
    photo, queue, coordinator, author, social_admin, mailoutbox, django_capture_on_commit_callbacks
):
    assert queue["published"].status == S.PUBLISHED
    with django_capture_on_commit_callbacks(execute=True):
        done = photo_delete_now(photo=photo, reason=REASON, by=coordinator)

    statuses = {name: _fresh(post).status for name, post in queue.items()}
    assert statuses == {
        "draft": S.DRAFT,
        "submitted": S.CHANGES_REQUESTED,
        "approved": S.CHANGES_REQUESTED,
        "published": S.PUBLISHED,  # until someone takes it down
        "call under way": S.PUBLISHING,  # the takedown starts when the platform answers
        "another photo published": S.PUBLISHED,
    }
    for name in ("submitted", "approved"):
        assert _fresh(queue[name]).review_note == posts.PHOTO_DELETED_NOTE
    takedowns = Takedown.objects.filter(status=Takedown.Status.OPEN).order_by("post_id")
    assert [t.post for t in takedowns] == [queue["published"], queue["call under way"]]
    assert all(t.reason == posts.PHOTO_DELETED_REASON and "deleted" in t.reason for t in takedowns)
    subjects = [(m.subject, m.to) for m in mailoutbox]
    assert subjects.count(("Your post needs changes", [author.email])) == 2
    assert (f"Takedown needed for published post #{queue['published'].pk}", [social_admin.email]) in subjects

    assert [effect.done for effect in done.effects] == ["sent back to its author"] * 2 + [
        "a takedown was opened to bring it down"
    ] * 2
    [event] = AuditEvent.objects.filter(action="photo.deleted_now")
    assert event.details["effects"] == [f"{e.what}: {e.done}" for e in done.effects]


def test_deleting_a_photo_no_post_uses_changes_no_post(photo, coordinator):
    done = photo_delete_now(photo=photo, reason=REASON, by=coordinator)
    assert done.deleted and done.effects == []
    assert not Takedown.objects.exists()


def test_the_photos_app_learns_of_posts_only_through_the_hook(photo, queue, coordinator):
    saved = (list(hooks._handlers), list(hooks._previews))
    hooks._handlers.clear()
    hooks._previews.clear()
    try:
        assert photo_delete_now(photo=photo, reason=REASON, by=coordinator).effects == []
    finally:
        hooks._handlers[:], hooks._previews[:] = saved
    assert _fresh(queue["approved"]).status == S.APPROVED and not Takedown.objects.exists()


# --- the audit trail and a second press ---------------------------------------------------------------------------


def test_it_records_who_deleted_it_and_why(photo, coordinator):
    photo_delete_now(photo=photo, reason=f"  {REASON}  ", by=coordinator)
    [now] = AuditEvent.objects.filter(action="photo.deleted_now")
    assert (now.actor, now.target_type, now.target_id) == (coordinator, "photos.photo", str(photo.pk))
    assert now.details == {"reason": REASON, "effects": []}
    [deleted] = AuditEvent.objects.filter(action="photo.deleted")
    assert (deleted.actor, deleted.details) == (coordinator, {"reason": REASON})


def test_deleting_it_again_changes_nothing_and_says_so(photo, coordinator, client):
    assert photo_delete_now(photo=photo, reason=REASON, by=coordinator).deleted
    events = AuditEvent.objects.count()
    again = photo_delete_now(photo=photo, reason="Pressed the button twice by mistake.", by=coordinator)
    assert not again.deleted and again.effects == []
    assert AuditEvent.objects.count() == events
    assert _fresh(photo).deletion_reason == REASON

    client.force_login(coordinator)
    events = AuditEvent.objects.count()
    response = client.post(reverse("photos:delete_now", args=[photo.public_id]), {"reason": REASON})
    assert response.status_code == 302 and response["Location"] == reverse("photos:gallery")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "This photo was already deleted: nothing more was changed."
    ]
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("reason", ["", "   ", "Because"])
def test_it_needs_a_reason(photo, coordinator, reason):
    assert len(reason.strip()) < DELETE_NOW_REASON_MIN
    with pytest.raises(UploadError, match="Say why this photo is being deleted"):
        photo_delete_now(photo=photo, reason=reason, by=coordinator)
    assert _fresh(photo).status == Photo.Status.READY and all(_stored(_blobs(photo)))


@pytest.mark.parametrize("persona", ["photographer", "other_coordinator", "social_admin"])
def test_only_a_coordinator_of_its_family_may_delete_it(photo, persona, request, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(UploadError, match="Only a coordinator"):
        photo_delete_now(photo=photo, reason=REASON, by=request.getfixturevalue(persona))
    assert _fresh(photo).status == Photo.Status.READY and all(_stored(_blobs(photo)))
    assert not AuditEvent.objects.filter(action__startswith="photo.deleted").exists()


def test_a_coordinator_of_any_tagged_childs_family_may_delete_a_group_photo(
    family_and_child, photographer, other_coordinator, coordinator, django_capture_on_commit_callbacks
):
    family, ava = family_and_child
    other_family, ben, _ = consented_child(coordinator=other_coordinator)
    group = ready_photo(family, [ava, ben], photographer)
    third = factories.staff_user("coordinator")
    consented_child(coordinator=third)
    with pytest.raises(UploadError):
        photo_delete_now(photo=group, reason=REASON, by=third)
    with django_capture_on_commit_callbacks(execute=True):
        assert photo_delete_now(photo=group, reason=REASON, by=other_coordinator).deleted
    assert _stored([group.original_blob, group.thumbnail_blob]) == [False, False]


# --- the pages ------------------------------------------------------------------------------------------------------


def _url(photo: Photo) -> str:
    return reverse("photos:delete_now", args=[photo.public_id])


def _unchanged(photo: Photo) -> bool:
    return _fresh(photo).status == Photo.Status.READY and all(_stored(_blobs(photo)))


def test_the_photo_page_offers_the_button_to_its_coordinators_only(client, photo, coordinator, photographer):
    client.force_login(coordinator)
    assert _url(photo) in client.get(reverse("photos:detail", args=[photo.public_id])).content.decode()
    client.force_login(photographer)  # the uploader, who sees it while they can fix its tags
    response = client.get(reverse("photos:detail", args=[photo.public_id]))
    assert response.status_code == 200 and _url(photo) not in response.content.decode()


def test_the_confirmation_page_warns_and_says_what_happens_to_each_post(client, photo, queue, coordinator):
    client.force_login(coordinator)
    response = client.get(_url(photo))
    assert response.status_code == 200
    body = response.content.decode()
    assert "This cannot be undone." in body
    for name in ("submitted", "approved"):
        assert f"Post #{queue[name].pk} (" in body
    assert body.count("It will be sent back to its author.") == 2
    assert body.count("A takedown will be opened") == 2
    assert f"Post #{queue['draft'].pk} (" not in body and f"Post #{queue['another photo published'].pk} (" not in body
    assert f"Post #{queue['published'].pk} (published, for Facebook Page)" in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert _unchanged(photo)  # GET never deletes
    assert _fresh(queue["approved"]).status == S.APPROVED


def test_the_coordinator_deletes_it_and_is_sent_to_the_gallery(
    client, photo, coordinator, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(photo), {"reason": REASON})
    assert response.status_code == 302 and response["Location"] == reverse("photos:gallery")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The photo is deleted, with every stored copy of it."
    ]
    assert _fresh(photo).status == Photo.Status.DELETED and _stored(_blobs(photo)) == [False] * 4
    event = AuditEvent.objects.get(action="photo.deleted_now")
    assert event.ip_address and event.details["reason"] == REASON
    gallery = client.get(reverse("photos:gallery"))
    assert photo not in [card["photo"] for card in gallery.context["cards"]]
    assert client.get(reverse("photos:detail", args=[photo.public_id])).status_code == 404


@pytest.mark.parametrize("reason", ["", "Short"])
def test_without_a_reason_the_page_says_so_and_nothing_is_deleted(client, photo, coordinator, reason):
    client.force_login(coordinator)
    response = client.post(_url(photo), {"reason": reason})
    assert response.status_code == 400
    assert "Say why this photo is being deleted" in response.content.decode()
    assert "There is a problem" in response.content.decode()
    assert _unchanged(photo)


def test_anonymous_people_are_sent_to_sign_in(client, photo):
    for response in (client.get(_url(photo)), client.post(_url(photo), {"reason": REASON})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert _unchanged(photo)


@pytest.mark.parametrize("persona", ["photographer", "other_coordinator", "social_admin", "member_of_staff", "parent"])
def test_everyone_else_gets_404_and_nothing_is_deleted(client, photo, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(_url(photo)).status_code == 404
    assert client.post(_url(photo), {"reason": REASON}).status_code == 404
    assert _unchanged(photo)
    assert not AuditEvent.objects.filter(action__startswith="photo.deleted").exists()


def test_a_post_without_the_csrf_token_is_refused(photo, coordinator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    assert client.post(_url(photo), {"reason": REASON}).status_code == 403
    assert _unchanged(photo)


def test_other_methods_are_refused(client, photo, coordinator):
    client.force_login(coordinator)
    assert client.put(_url(photo)).status_code == 405
    assert client.delete(_url(photo)).status_code == 405
    assert _unchanged(photo)
