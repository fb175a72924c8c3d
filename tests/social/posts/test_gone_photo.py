"""A post holding a photo that has since been deleted (at once, for retention, or by an erasure) cannot be
sent for review or approved: the gate says the photo is no longer in the vault, and cannot be dismissed."""

from __future__ import annotations

import pytest

from photos.models import Photo
from social.posts import services as posts
from social.posts.checks import check_photos
from social.posts.services import CHECKLIST, PostError
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo

TEXT = "Our summer picnic was a joy. Thank you to every volunteer who came along."
CHECKED = dict.fromkeys(CHECKLIST, True)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(coordinator):
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    cf.give(child, carer)
    photo = ready_photo(family, [child], coordinator)
    post = posts.post_save_draft(author=author, text=TEXT, channels=["facebook"], scheduled_for=None, photos=[photo])
    return author, admin, photo, post


def _delete(photo: Photo) -> None:
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.DELETED, original_blob="", thumbnail_blob="")


def test_the_gate_finds_a_deleted_photo_and_it_cannot_be_dismissed(world):
    _, _, photo, _ = world
    assert [f.check for f in check_photos([photo])] == []
    _delete(photo)
    photo.refresh_from_db()
    [finding] = check_photos([photo])
    assert finding.check == "gone" and not finding.dismissible


def test_a_draft_with_a_deleted_photo_cannot_be_sent_for_review(world):
    author, _, photo, post = world
    _delete(photo)
    with pytest.raises(PostError):
        posts.post_submit(post=post, by=author)
    post.refresh_from_db()
    assert post.status == post.Status.DRAFT


def test_a_post_submitted_before_the_photo_went_cannot_be_approved(world):
    author, admin, photo, post = world
    posts.post_submit(post=post, by=author)
    _delete(photo)
    with pytest.raises(PostError):
        posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})
