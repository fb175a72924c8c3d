"""The pages around a removal request that sticks (issue 13): the parent's posts page names only their own
children and says the photo is held; the child's consent page lists "Photos you asked FiG not to use online"
with a button to allow each again (the lift view: parents with parental responsibility for that child only,
POST only, CSRF-checked, a double submit harmless); the post form neither offers nor accepts a held photo; the
post page says why a post with one cannot be approved.

Personas: Ava's mother (family A), Ben's father (family B, his son is in the same group photo), a carer of
family A without parental responsibility, a parent of another family, a member of staff, anonymous people.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from consents.models import Child, Family
from photos.models import Photo, PhotoTag
from social.models import PhotoOnlineHold, Post
from social.posts import services as posts
from social.posts.checks import photo_words
from staff.models import AuditEvent, User
from tests import factories
from tests.conftest import says
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo

TEXT = "Thank you to everyone who came to the family craft afternoon this week."
MANUAL_URL = "https://www.facebook.com/figcharity/posts/123456"
ALL_TICKED = dict.fromkeys(posts.CHECKLIST, True)
HELD_WORDS = "FiG will not use this photo online again unless you say so here."


@dataclass
class World:
    family_a: Family
    ava: Child
    ava_mother: User
    family_b: Family
    ben: Child
    ben_father: User
    photo: Photo  # Ava and Ben together, uploaded for family A
    published: Post


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def reviewer(db) -> User:
    return factories.staff_user("social_admin", email="reviewer@example.org")


def _draft(author: User, photos=()) -> Post:
    return posts.post_save_draft(author=author, text=TEXT, channels=["facebook"], scheduled_for=None, photos=photos)


def _submitted(author: User, photos=()) -> Post:
    post = _draft(author, photos)
    posts.post_submit(post=post, by=author)
    return Post.objects.get(pk=post.pk)


def _published(author: User, reviewer: User, photos=()) -> Post:
    post = posts.post_approve(post=_submitted(author, photos), by=reviewer, checklist=ALL_TICKED, dismissals={})
    return posts.post_publish(post=post, by=reviewer, adapter_name="manual", url=MANUAL_URL)


@pytest.fixture
def world(author, reviewer, coordinator) -> World:
    family_a, ava, [mo] = cf.family_with_child(coordinator=coordinator)
    family_b, ben, [dad] = cf.family_with_child(coordinator=coordinator)
    Child.objects.filter(pk=ava.pk).update(first_name="Ava", last_name="Alder")
    Child.objects.filter(pk=ben.pk).update(first_name="Ben", last_name="Birch")
    ava.refresh_from_db()
    ben.refresh_from_db()
    cf.give(ava, mo)
    cf.give(ben, dad)
    photo = ready_photo(family_a, [ava], coordinator)
    PhotoTag.objects.create(photo=photo, child=ben, tagged_by=coordinator)  # the upload form may not tag B yet
    return World(
        family_a,
        ava,
        factories.parent_user(email=mo.email),
        family_b,
        ben,
        factories.parent_user(email=dad.email),
        photo,
        _published(author, reviewer, [photo]),
    )


def _ask(client, world: World, user: User) -> None:
    client.force_login(user)
    response = client.post(reverse("social:parent_request_removal", args=[world.published.pk]))
    assert response.status_code == 302


def _lift_url(hold: PhotoOnlineHold) -> str:
    return reverse("social:parent_hold_lift", args=[hold.pk])


def _consent_page(child: Child) -> str:
    return reverse("consents:my_child", args=[child.pk])


def _state() -> list:
    return [
        list(PhotoOnlineHold.objects.order_by("pk").values_list("lifted_at", "lifted_by")),
        AuditEvent.objects.count(),
    ]


# --- the parent's posts page: their own children only -------------------------------------------------------------


@pytest.mark.django_db
def test_it_names_only_the_parents_own_child_in_a_photo_of_two_families(client, world):
    client.force_login(world.ava_mother)
    body = client.get(reverse("social:parent_posts")).content.decode()
    assert "It includes 1 photo of Ava." in body
    assert not says(body, "Ben") and not says(body, "Birch")

    client.force_login(world.ben_father)
    response = client.get(reverse("social:parent_posts"))
    body = response.content.decode()
    assert [card.children for card in response.context["cards"]] == [["Ben"]]
    assert "It includes 1 photo of Ben." in body
    assert not says(body, "Ava") and not says(body, "Alder")


@pytest.mark.django_db
def test_it_tells_the_parent_the_photo_is_held_after_they_ask(client, world):
    _ask(client, world, world.ava_mother)
    assert list(PhotoOnlineHold.objects.values_list("photo", "child")) == [(world.photo.pk, world.ava.pk)]
    body = client.get(reverse("social:parent_posts")).content.decode()
    assert "FiG will not use this photo of Ava online again unless you say so on" in body
    assert f'href="{_consent_page(world.ava)}"' in body
    # Ben's father has not asked: his page says nothing of a hold, nor of Ava.
    client.force_login(world.ben_father)
    body = client.get(reverse("social:parent_posts")).content.decode()
    assert "FiG will not use this photo of" not in body and not says(body, "Ava")


# --- the consent page -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_consent_page_lists_the_held_photo_in_plain_words_with_a_button(client, world):
    _ask(client, world, world.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    response = client.get(_consent_page(world.ava))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Photos you asked FiG not to use online" in body
    assert HELD_WORDS in body
    assert f'action="{_lift_url(hold)}"' in body and "csrfmiddlewaretoken" in body
    assert "Allow FiG to use this photo online again" in body
    assert not says(body, "Ben")


@pytest.mark.django_db
def test_the_consent_page_of_another_child_in_the_photo_lists_nothing(client, world):
    _ask(client, world, world.ava_mother)
    client.force_login(world.ben_father)
    body = client.get(_consent_page(world.ben)).content.decode()
    assert "Photos you asked FiG not to use online" not in body and not says(body, "Ava")


# --- allowing it again ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lets_the_parent_allow_the_photo_again_and_a_second_press_changes_nothing(client, world):
    _ask(client, world, world.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    response = client.post(_lift_url(hold), follow=True)
    assert response.redirect_chain == [(_consent_page(world.ava), 302)]
    body = response.content.decode()
    assert "Done. FiG may use this photo of Ava online again" in body
    assert "Photos you asked FiG not to use online" not in body
    hold.refresh_from_db()
    assert hold.lifted_by == world.ava_mother and hold.lifted_at is not None
    assert AuditEvent.objects.filter(action="photo.online_hold_lifted", actor=world.ava_mother).count() == 1

    before = _state()
    again = client.post(_lift_url(hold), follow=True)
    assert "You have already allowed FiG to use this photo of Ava online again." in again.content.decode()
    assert _state() == before


@pytest.mark.django_db
def test_it_sends_anonymous_people_to_sign_in(client, world):
    _ask(client, world, world.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    client.logout()
    before = _state()
    response = client.post(_lift_url(hold))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert _state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["staff", "another_family", "other_child_in_the_photo", "carer_without_pr"])
def test_it_hides_the_hold_from_everyone_else(client, world, member_of_staff, who):
    _ask(client, world, world.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    if who == "staff":
        user = member_of_staff
    elif who == "another_family":
        _, _, [elsewhere] = cf.family_with_child()
        user = factories.parent_user(email=elsewhere.email)
    elif who == "other_child_in_the_photo":
        user = world.ben_father
    else:
        no_pr = cf.CarerFactory(family=world.family_a, has_parental_responsibility=False)
        user = factories.parent_user(email=no_pr.email)
    client.force_login(user)
    before = _state()
    assert client.post(_lift_url(hold)).status_code == 404
    assert _state() == before
    assert PhotoOnlineHold.objects.get().lifted_at is None


@pytest.mark.django_db
def test_it_takes_post_only(client, world):
    _ask(client, world, world.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    before = _state()
    assert client.get(_lift_url(hold)).status_code == 405
    assert _state() == before


@pytest.mark.django_db
def test_it_refuses_a_post_without_the_csrf_token(world):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.ava_mother)
    posts.parent_request_removal(post=world.published, user=world.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    before = _state()
    assert strict.post(_lift_url(hold)).status_code == 403
    assert _state() == before


@pytest.mark.django_db
def test_an_unknown_hold_is_404(client, world):
    client.force_login(world.ava_mother)
    assert client.post(reverse("social:parent_hold_lift", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_asking_again_on_the_posts_page_after_allowing_it_holds_it_again(client, world):
    _ask(client, world, world.ava_mother)
    client.post(_lift_url(PhotoOnlineHold.objects.get()))
    response = client.post(reverse("social:parent_request_removal", args=[world.published.pk]), follow=True)
    assert "You have already asked FiG to remove this post." in response.content.decode()
    assert PhotoOnlineHold.objects.filter(lifted_at__isnull=True).count() == 1


# --- staff pages --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_post_form_neither_offers_nor_accepts_a_held_photo(client, world, author):
    posts.parent_request_removal(post=world.published, user=world.ava_mother)
    client.force_login(author)
    page = client.get(reverse("social:post_new"))
    assert str(world.photo.public_id) not in page.content.decode()
    count = Post.objects.count()
    response = client.post(
        reverse("social:post_new"), {"text": TEXT, "channels": ["facebook"], "photos": [str(world.photo.public_id)]}
    )
    assert response.status_code == 400
    assert "a parent or carer asked FiG not to use it" in response.content.decode()
    assert Post.objects.count() == count
    assert client.get(reverse("social:post_photo_thumbnail", args=[world.photo.public_id])).status_code == 404


@pytest.mark.django_db
def test_the_post_page_says_why_a_post_with_a_held_photo_cannot_be_approved(client, world, author, reviewer):
    submitted = _submitted(author, [world.photo])
    posts.parent_request_removal(post=world.published, user=world.ava_mother)
    client.force_login(reviewer)
    body = client.get(reverse("social:post", args=[submitted.pk])).content.decode()
    assert "A parent or carer asked FiG not to use a photo in this post online, so this post cannot be approved" in body
    assert photo_words(world.photo) in body
    assert not says(body, "Ava") and not says(body, "Ben")

    response = client.post(
        reverse("social:post_approve", args=[submitted.pk]), {f"check_{k}": "on" for k in ALL_TICKED}
    )
    assert response.status_code == 400
    assert "so it cannot be approved" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == Post.Status.SUBMITTED


@pytest.mark.django_db
def test_the_other_family_can_still_ask_while_the_post_is_coming_down(client, world):
    _ask(client, world, world.ava_mother)
    client.force_login(world.ben_father)
    page = client.get(reverse("social:parent_posts")).content.decode()
    assert "FiG is already taking this post down." in page and "Ask FiG to remove this post" in page
    response = client.post(reverse("social:parent_request_removal", args=[world.published.pk]), follow=True)
    body = response.content.decode()
    assert "your request has been added" in body
    assert "FiG will not use this photo of Ben online again unless you say so on" in body
    assert "Ask FiG to remove this post" not in body
    assert sorted(PhotoOnlineHold.objects.values_list("child", flat=True)) == sorted([world.ava.pk, world.ben.pk])
