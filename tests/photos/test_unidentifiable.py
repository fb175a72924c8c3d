"""Coordinators confirm a photo's unidentifiable version (every face blurred); the post consent gate then
needs online consent only, and a post uses that version."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consents.models import Purpose
from photos.models import Photo
from social.posts.checks import check_photos
from staff.models import AuditEvent
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo
from tests.photos.images import astronaut


@pytest.fixture
def photo(db, coordinator):
    """A real photograph with a face, of a child consented for online use but not a recognisable face."""
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    cf.give(child, carer, answers=cf.all_answers(face_online=False))
    return ready_photo(family, [child], coordinator, data=astronaut())


def _url(photo: Photo) -> str:
    return reverse("photos:mark_unidentifiable", args=[photo.public_id])


def test_it_lets_the_familys_coordinator_mark_a_photo_unidentifiable(client, coordinator, photo):
    assert check_photos([photo])[0].check == "consent"  # no consent for a recognisable face
    client.force_login(coordinator)
    assert client.post(_url(photo), {"confirmed": "yes"}).status_code == 302  # the box is not ticked
    photo.refresh_from_db()
    assert not photo.marked_unidentifiable
    assert client.post(_url(photo), {"confirmed": "yes", "checked": "on"}).status_code == 302
    photo.refresh_from_db()
    assert photo.marked_unidentifiable and photo.marked_unidentifiable_by == coordinator
    assert check_photos([photo]) == []
    assert AuditEvent.objects.filter(action="photo.unidentifiable_confirmed", actor=coordinator).exists()
    client.post(_url(photo), {"confirmed": "no"})
    photo.refresh_from_db()
    assert not photo.marked_unidentifiable
    assert check_photos([photo])


def test_online_consent_is_still_needed_for_an_unidentifiable_photo(coordinator, photo):
    photo.marked_unidentifiable = True
    photo.save()
    child = photo.children.get()
    cf.withdraw(child, child.family.carers.get(), [Purpose.ONLINE])
    assert check_photos([photo])[0].check == "consent"


@pytest.mark.parametrize("role", ["photographer", "staff", "social_admin", "ceo"])
def test_only_coordinators_mark_photos(client, photo, role):
    client.force_login(factories.staff_user(role))
    assert client.post(_url(photo), {"confirmed": "yes", "checked": "on"}).status_code == 404
    photo.refresh_from_db()
    assert not photo.marked_unidentifiable


def test_a_coordinator_of_another_family_gets_404(client, photo):
    client.force_login(factories.staff_user("coordinator"))
    assert client.post(_url(photo), {"confirmed": "yes", "checked": "on"}).status_code == 404
    photo.refresh_from_db()
    assert not photo.marked_unidentifiable


def test_it_is_post_only(client, coordinator, photo):
    client.force_login(coordinator)
    assert client.get(_url(photo)).status_code == 405


def test_an_unidentifiable_photo_is_offered_for_posts_without_face_consent(coordinator, photo):
    from social.posts.selectors import postable_photos

    assert photo not in postable_photos()
    photo.marked_unidentifiable = True
    photo.save()
    assert photo in postable_photos()
