"""Who sees the small copy of a photo offered for posts (issue 13, point 5): the staff chosen to write posts
(the "post_writer" role) and the social media administrators who approve them, only while the photo may go
online, only as the version that would be published, and never larger than the 480-pixel thumbnail. The rest
of the staff, volunteers included, get 403 and leave no access-log row; anonymous people are sent to sign in.

Personas: anonymous, a parent of the family, a volunteer, a member of staff who does not write posts, a
photographer (the photo's own uploader), the family's coordinator, a coordinator of another family, a member
of staff who writes posts, a social media administrator, the CEO, and a superuser.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.urls import reverse
from PIL import Image

from consents.models import Purpose
from fig_safety.vault import vault_read
from photos.models import Photo, PhotoAccess
from photos.processing import THUMBNAIL_SIZE
from social.models import Post
from social.posts.services import PostError, post_save_draft
from staff.models import User
from tests import factories
from tests.consents import factories as cf
from tests.consents.factories import withdraw
from tests.photos.fixtures import consented_child, ready_photo
from tests.photos.images import astronaut, jpeg


@dataclass
class World:
    photo: Photo  # 2000 x 1500, its child consented to everything
    blurred: Photo  # a face; its child consented online but not to a recognisable face; blurred version confirmed
    people: dict[str, User]


@pytest.fixture
def world(db) -> World:
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    coordinator = factories.staff_user("coordinator", email="coordinator@example.org")
    family, child, carer = consented_child(coordinator=coordinator)
    photo = ready_photo(family, [child], photographer, data=jpeg(2000, 1500))
    blurred_child = cf.ChildFactory(family=family)
    cf.give(blurred_child, carer, cf.all_answers(face_online=False))
    blurred = ready_photo(family, [blurred_child], photographer, data=astronaut())
    assert blurred.unidentifiable_thumbnail_blob, "the astronaut's face was found and blurred"
    Photo.objects.filter(pk=blurred.pk).update(marked_unidentifiable=True)
    blurred.refresh_from_db()
    other_coordinator = factories.staff_user("coordinator", email="other.coordinator@example.org")
    consented_child(coordinator=other_coordinator)
    people = {
        "parent": factories.parent_user(email=carer.email),
        "volunteer": factories.staff_user("staff", email="volunteer@example.org"),
        "staff": factories.staff_user("staff", email="staff@example.org"),
        "photographer": photographer,
        "coordinator": coordinator,
        "other_coordinator": other_coordinator,
        "post_writer": factories.staff_user("staff", "post_writer", email="writer@example.org"),
        "social_admin": factories.staff_user("social_admin", email="admin@example.org"),
        "ceo": factories.staff_user("ceo", email="ceo@example.org"),
        "superuser": factories.staff_user("staff", email="root@example.org", is_superuser=True, is_staff=True),
    }
    return World(photo=photo, blurred=blurred, people=people)


def _url(photo: Photo, version: str = "") -> str:
    url = reverse("social:post_photo_thumbnail", args=[photo.public_id])
    return f"{url}?version={version}" if version else url


# The rule, persona by persona. Volunteers and the rest of the staff hold only the "Staff or volunteer" role:
# they may write posts, without photos. Seeing the photos takes the "Post writer" role
# (docs/security.md, "Who sees children's photos").
MATRIX = {
    "parent": 403,
    "volunteer": 403,
    "staff": 403,
    "photographer": 403,
    "coordinator": 403,  # sees the photo in the vault, not here: coordinators neither write nor approve posts
    "other_coordinator": 403,
    "post_writer": 200,
    "social_admin": 200,
    "ceo": 403,
    "superuser": 200,
}


@pytest.mark.django_db
def test_it_sends_anonymous_people_to_sign_in(client, world):
    response = client.get(_url(world.photo))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "expected"), MATRIX.items())
def test_it_follows_the_access_matrix(client, world, persona, expected):
    user = world.people[persona]
    client.force_login(user)
    response = client.get(_url(world.photo))
    assert response.status_code == expected, persona
    accesses = list(PhotoAccess.objects.filter(photo=world.photo).values_list("user", "action"))
    if expected != 200:
        assert b"\xff\xd8\xff" not in response.content
        assert accesses == []
        return
    # The thumbnail as it would be published: never larger than 480 pixels, never the full size.
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("inline;")
    image = Image.open(io.BytesIO(response.content))
    assert max(image.size) <= max(THUMBNAIL_SIZE) < max(world.photo.width, world.photo.height)
    assert response.content == vault_read(name=world.photo.thumbnail_blob, key_id=world.photo.thumbnail_key_id)
    assert accesses == [(user.pk, PhotoAccess.Action.THUMBNAIL)]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", [p for p, expected in MATRIX.items() if expected == 403])
def test_it_refuses_before_saying_whether_a_photo_may_go_online(client, world, persona):
    # A photo that may not go online is 404 to the people who may see the thumbnails; to everyone else
    # it is the same 403 as one that may, so the refusal says nothing about the photo.
    photographer = world.people["photographer"]
    family, child, _ = consented_child(online=False)
    hidden = ready_photo(family, [child], photographer)
    client.force_login(world.people[persona])
    assert client.get(_url(hidden)).status_code == client.get(_url(world.photo)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["post_writer", "social_admin"])
@pytest.mark.parametrize("version", ["", "original", "unidentifiable"])
def test_it_serves_only_the_blurred_version_when_only_that_may_go_online(client, world, persona, version):
    client.force_login(world.people[persona])
    response = client.get(_url(world.blurred, version))
    assert response.status_code == 200
    blurred = vault_read(
        name=world.blurred.unidentifiable_thumbnail_blob, key_id=world.blurred.unidentifiable_thumbnail_key_id
    )
    assert response.content == blurred
    assert max(Image.open(io.BytesIO(response.content)).size) <= max(THUMBNAIL_SIZE)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["post_writer", "social_admin"])
def test_it_stops_serving_the_thumbnail_once_online_consent_is_withdrawn(client, world, persona):
    child = world.photo.children.get()
    withdraw(child, child.family.carers.get(), [Purpose.ONLINE])
    client.force_login(world.people[persona])
    assert client.get(_url(world.photo)).status_code == 404
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
def test_it_has_no_full_size(client, world):
    # There is one size here, the thumbnail: no query string or path reaches the original.
    client.force_login(world.people["social_admin"])
    for query in ("?size=full", "?version=full", "?version=download"):
        response = client.get(_url(world.photo) + query)
        assert response.status_code == 200
        assert max(Image.open(io.BytesIO(response.content)).size) <= max(THUMBNAIL_SIZE)
    assert client.get(_url(world.photo).replace("thumbnail/", "full/")).status_code == 404


# --- attaching photos follows the same rule ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff", "coordinator", "photographer", "ceo"])
def test_staff_who_may_not_see_post_photos_are_not_offered_them_and_cannot_attach_them(client, role):
    """The drafting page shows nobody a thumbnail they would be refused, and a forged POST attaching a photo
    is refused by the service with nothing saved."""
    user = factories.staff_user(role, email=f"{role}-writer@example.org")
    photographer = factories.staff_user("photographer", email="snap@example.org")
    family, child, _ = consented_child()
    photo = ready_photo(family, [child], photographer)
    client.force_login(user)
    page = client.get(reverse("social:post_new"))
    assert page.status_code == 200
    body = page.content.decode()
    assert str(photo.public_id) not in body and "Only the staff who write FiG's posts" in body
    with pytest.raises(PostError, match="Only the staff who write FiG's posts"):
        post_save_draft(author=user, text="Our summer fair", channels=["website"], scheduled_for=None, photos=[photo])
    assert not Post.objects.exists() and Photo.objects.filter(pk=photo.pk).exists()


@pytest.mark.django_db
def test_staff_who_may_not_see_post_photos_still_write_posts_without_them(client):
    user = factories.staff_user("staff", email="volunteer@example.org")
    client.force_login(user)
    response = client.post(
        reverse("social:post_new"), {"text": "Our summer fair is on Saturday", "channels": ["website"]}
    )
    post = Post.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("social:post", args=[post.pk])
    assert post.author == user and not post.photos.exists()


@pytest.mark.django_db
def test_a_forged_post_attaching_a_photo_is_refused_on_the_page_with_nothing_saved(client):
    user = factories.staff_user("staff", email="volunteer@example.org")
    photographer = factories.staff_user("photographer", email="snap@example.org")
    family, child, _ = consented_child()
    photo = ready_photo(family, [child], photographer)
    client.force_login(user)
    response = client.post(
        reverse("social:post_new"),
        {"text": "Our summer fair", "channels": ["website"], "photos": [str(photo.public_id)]},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Only the staff who write FiG&#x27;s posts" in body and str(photo.public_id) not in body
    assert not Post.objects.exists() and not PhotoAccess.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("roles", [("staff", "post_writer"), ("post_writer",), ("social_admin",)])
def test_post_writers_and_social_media_administrators_are_offered_photos_and_attach_them(client, roles):
    user = factories.staff_user(*roles, email="writer@example.org")
    photographer = factories.staff_user("photographer", email="snap@example.org")
    family, child, _ = consented_child()
    photo = ready_photo(family, [child], photographer)
    client.force_login(user)
    page = client.get(reverse("social:post_new"))
    assert str(photo.public_id) in page.content.decode()
    post = post_save_draft(
        author=user, text="Our summer fair", channels=["website"], scheduled_for=None, photos=[photo]
    )
    assert list(post.photos.all()) == [photo]
