"""Parents see the photos of their own children (issue 18, point 5): on the child's consent page, the photos
the child is tagged in and the image of each post that showed them, each image served by a view that checks
the parent holds parental responsibility for a child tagged in it, logs the access and is never cached. A
group photo that also shows another family's child is shown only with every face blurred, once a coordinator
has confirmed nobody can be recognised in it; another family's photos, and photos of the family without the
child tagged, are 404. Staff and anyone else are refused.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from fig_safety.vault import vault_read
from photos.faces import FaceBox
from photos.models import Photo, PhotoAccess
from photos.parents import photos_of_child_for_parent, posts_of_child_for_parent
from photos.services import photo_add_face, photo_confirm_unidentifiable
from social.models import Post
from tests import factories
from tests.conftest import says
from tests.consents.factories import CarerFactory, assign
from tests.photos.fixtures import ready_photo
from tests.photos.subject_access import History, history, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(coordinator) -> History:
    return history(coordinator)


def _image(photo: Photo, version: str = "original", size: str = "thumbnail") -> str:
    return reverse("photos:parent_image", args=[photo.public_id, version, size])


def _page(client, world: History):
    response = client.get(reverse("consents:my_child", args=[world.ava.pk]))
    assert response.status_code == 200
    return response


def _blur(world: History, photo: Photo) -> Photo:
    """Draw a face on the photo (its blurred version is made) and confirm nobody can be recognised in it."""
    photo_add_face(photo=photo, box=FaceBox(x=4, y=4, w=20, h=20, score=1.0), by=world.coordinator)
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=world.coordinator)
    photo.refresh_from_db()
    return photo


def test_it_shows_a_parent_the_photos_of_their_child(client, world):
    client.force_login(world.mother)

    response = _page(client, world)

    photos = response.context["child_photos"]
    assert [(i.photo, i.version) for i in photos.shown] == [(world.solo, "original")]
    assert photos.withheld == 1  # the group photo: not confirmed unidentifiable
    body = response.content.decode()
    assert "Photos of Ava" in body
    assert _image(world.solo) in body and _image(world.solo, size="full") in body
    assert str(world.group.public_id) not in body and str(world.untagged.public_id) not in body
    assert "also shows children of other families" in body
    assert not says(body, "Ben")


def test_the_image_is_served_access_logged_and_never_cached(client, world):
    client.force_login(world.mother)

    thumbnail = client.get(_image(world.solo))
    full = client.get(_image(world.solo, size="full"))

    assert thumbnail.status_code == full.status_code == 200
    assert thumbnail.content == vault_read(name=world.solo.thumbnail_blob, key_id=world.solo.thumbnail_key_id)
    assert full.content == vault_read(name=world.solo.original_blob, key_id=world.solo.original_key_id)
    for response in (thumbnail, full):
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        assert response["Content-Disposition"].startswith("inline")
    logged = PhotoAccess.objects.filter(photo=world.solo, action=PhotoAccess.Action.PARENT)
    assert list(logged.values_list("user", flat=True)) == [world.mother.pk, world.mother.pk]


def test_a_group_photo_is_shown_only_blurred_and_only_once_confirmed(client, world):
    client.force_login(world.mother)
    assert client.get(_image(world.group)).status_code == 404
    assert client.get(_image(world.group, "unidentifiable")).status_code == 404

    group = _blur(world, world.group)

    photos = _page(client, world).context["child_photos"]
    assert [(i.photo, i.version) for i in photos.shown] == [(group, "unidentifiable"), (world.solo, "original")]
    assert photos.withheld == 0
    blurred = photos.shown[0]
    assert blurred.alt.startswith("Photo of Ava Demo and a child from another family")
    assert client.get(_image(group)).status_code == 404  # never as taken
    response = client.get(_image(group, "unidentifiable"))
    assert response.status_code == 200
    assert response.content == vault_read(
        name=group.unidentifiable_thumbnail_blob, key_id=group.unidentifiable_thumbnail_key_id
    )
    photo_confirm_unidentifiable(photo=group, confirmed=False, by=world.coordinator)
    assert client.get(_image(group, "unidentifiable")).status_code == 404


def test_never_another_familys_photo_nor_one_their_child_is_not_tagged_in(client, world):
    client.force_login(world.mother)
    _blur(world, world.ben_solo)

    for photo in (world.ben_solo, world.untagged):
        for version in ("original", "unidentifiable"):
            for size in ("thumbnail", "full"):
                assert client.get(_image(photo, version, size)).status_code == 404
    assert client.get(_image(world.solo, "original", "download")).status_code == 404
    assert client.get(_image(world.solo, "other", "thumbnail")).status_code == 404
    assert not PhotoAccess.objects.filter(action=PhotoAccess.Action.PARENT).exists()


def test_another_familys_parent_cannot_see_the_child(client, world):
    client.force_login(world.father)

    assert client.get(_image(world.solo)).status_code == 404
    assert client.get(reverse("consents:my_child", args=[world.ava.pk])).status_code == 404
    assert not PhotoAccess.objects.filter(action=PhotoAccess.Action.PARENT).exists()


def test_a_carer_without_parental_responsibility_is_refused(client, world):
    carer = CarerFactory(family=world.family_a, has_parental_responsibility=False, email="gran@example.org")
    client.force_login(factories.parent_user(email=carer.email))

    assert client.get(_image(world.solo)).status_code == 404


def test_anonymous_people_are_sent_to_sign_in(client, world):
    response = client.get(_image(world.solo))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert not PhotoAccess.objects.filter(action=PhotoAccess.Action.PARENT).exists()


@pytest.mark.parametrize("persona", ["coordinator", "photographer", "member_of_staff", "admin"])
def test_staff_are_refused(client, world, persona, request):
    user = getattr(world, persona) if persona in {"photographer", "admin"} else request.getfixturevalue(persona)
    client.force_login(user)

    assert client.get(_image(world.solo)).status_code == 404
    assert not PhotoAccess.objects.filter(action=PhotoAccess.Action.PARENT).exists()


def test_it_refuses_the_wrong_http_method(client, world):
    client.force_login(world.mother)

    assert client.post(_image(world.solo)).status_code == 405
    assert not PhotoAccess.objects.filter(action=PhotoAccess.Action.PARENT).exists()


def test_the_posts_that_showed_the_child_show_the_image_as_published(client, world):
    client.force_login(world.mother)

    response = _page(client, world)

    cards = {card.post: card for card in response.context["child_posts"]}
    assert set(cards) == {world.ava_post, world.group_post}
    ava_post = cards[world.ava_post]
    assert [(i.photo, i.version) for i in ava_post.images] == [(world.solo, "original")]
    assert [d.channel for d in ava_post.deliveries] == ["facebook"]
    # The group post went out as taken: it shows Ben's face, so it is described, not shown.
    assert cards[world.group_post].images == [] and cards[world.group_post].withheld == 1
    body = response.content.decode()
    assert "Posts that showed Ava" in body
    assert "Facebook Page" in body and "taken down" in body
    assert world.ava_post.text[:30] in body
    assert client.get(_image(world.solo)).status_code == 200


def test_a_post_that_used_the_blurred_version_shows_it_blurred(client, world):
    group = _blur(world, world.group)
    Post.objects.filter(pk=world.group_post.pk).update(photo_versions={str(group.pk): "unidentifiable"})
    client.force_login(world.mother)

    cards = {card.post: card for card in _page(client, world).context["child_posts"]}

    [image] = cards[world.group_post].images
    assert (image.photo, image.version) == (group, "unidentifiable")
    assert client.get(image.thumbnail_url).status_code == 200
    assert client.get(image.full_url).content == vault_read(
        name=group.unidentifiable_blob, key_id=group.unidentifiable_key_id
    )


def test_the_photos_and_posts_are_read_in_a_fixed_number_of_queries(world, django_assert_num_queries):
    another = ready_photo(world.family_a, [world.ava], world.photographer)
    publish(world.author, world.admin, "Another sunny day in the park.", [another])

    # The parent's families, the photos, their tags.
    with django_assert_num_queries(3):
        photos_of_child_for_parent(world.mother, world.ava)
    # The parent's families, the posts, the child's photos, those in the posts, the photos, their tags, the
    # channels: however many posts.
    with django_assert_num_queries(7):
        assert len(posts_of_child_for_parent(world.mother, world.ava)) == 3


def test_a_coordinator_is_told_of_another_familys_parent_only_as_such(client, world):
    group = _blur(world, world.group)
    for parent in (world.mother, world.father):
        client.force_login(parent)
        assert client.get(_image(group, "unidentifiable")).status_code == 200
    only_a = factories.staff_user("coordinator", email="ada@example.org")
    assign(only_a, world.family_a)
    log = reverse("photos:access_log", args=[group.public_id])

    client.force_login(only_a)
    body = client.get(log).content.decode()

    assert world.mother.email in body and "Seen by a parent or carer of the child" in body
    assert world.father.email not in body and not says(body, world.father.get_full_name())
    assert "A parent or carer of another child in this photo" in body
    client.force_login(world.coordinator)  # coordinates both families
    assert world.father.email in client.get(log).content.decode()
