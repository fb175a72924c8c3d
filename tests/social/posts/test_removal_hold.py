"""A parent's removal request sticks (issue 13): each photo of their child in the post is held back from online
use until a parent of that child allows it again. A held photo is not offered to new posts, and a post that
attaches it cannot be saved, sent for review, approved or published, nor sent by the send task; neither can
its blurred version or a copy of it. Only a parent with parental responsibility for the child lifts a hold.

Personas: an author (staff), a social media administrator, a coordinator who uploads the photos, Ava's mother
(family A), Ben's father (family B, whose son is in the same group photo), a parent of an unrelated family, and
a carer in family A without parental responsibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from consents.models import Child, Family
from photos.models import Photo, PhotoTag
from social.models import PhotoOnlineHold, Post, PostChannel, Takedown
from social.posts import services as posts
from social.posts.checks import check_photos, photo_words
from social.posts.selectors import held_photos, postable_photos
from social.posts.services import CHECKLIST, PostError
from staff.models import AuditEvent, User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo, unique_jpeg
from tests.social.fake_graph import page_graph

TEXT = "What a wonderful summer picnic! Thank you to all our volunteers."
CHECKED = dict.fromkeys(CHECKLIST, True)
S, C = Post.Status, PostChannel.State


@dataclass
class Group:
    """Ava (family A) and Ben (family B) in one photo, uploaded for family A; each family has its own parent."""

    family_a: Family
    ava: Child
    ava_mother: User
    family_b: Family
    ben: Child
    ben_father: User
    photo: Photo


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def group(coordinator) -> Group:
    family_a, ava, [mo] = cf.family_with_child(coordinator=coordinator)
    family_b, ben, [dad] = cf.family_with_child(coordinator=coordinator)
    cf.give(ava, mo)
    cf.give(ben, dad)
    photo = ready_photo(family_a, [ava], coordinator)
    PhotoTag.objects.create(photo=photo, child=ben, tagged_by=coordinator)  # the upload form may not tag B yet
    return Group(
        family_a,
        ava,
        factories.parent_user(email=mo.email),
        family_b,
        ben,
        factories.parent_user(email=dad.email),
        photo,
    )


def _draft(author: User, photos=()) -> Post:
    return posts.post_save_draft(author=author, text=TEXT, channels=["facebook"], scheduled_for=None, photos=photos)


def _submitted(author: User, photos=()) -> Post:
    post = _draft(author, photos)
    posts.post_submit(post=post, by=author)
    return Post.objects.get(pk=post.pk)


def _approved(author: User, admin: User, photos=()) -> Post:
    return posts.post_approve(post=_submitted(author, photos), by=admin, checklist=CHECKED, dismissals={})


def _published(author: User, admin: User, photos=()) -> Post:
    return posts.post_publish(
        post=_approved(author, admin, photos),
        by=admin,
        adapter_name="manual",
        url="https://www.facebook.com/fig/posts/1",
        published_at=timezone.now() - timedelta(minutes=1),
    )


def _facebook(post: Post) -> PostChannel:
    return PostChannel.objects.get(post=post, channel="facebook")


def _active(**filters) -> list[tuple[int, int]]:
    return list(
        PhotoOnlineHold.objects.filter(lifted_at__isnull=True, **filters)
        .order_by("photo_id", "child_id")
        .values_list("photo_id", "child_id")
    )


# --- asking -------------------------------------------------------------------------------------------------------


def test_a_removal_request_holds_each_photo_of_the_parents_child_once(author, admin, coordinator, group):
    alone = ready_photo(group.family_a, [group.ava], coordinator)
    of_ben_only = ready_photo(group.family_b, [group.ben], coordinator)
    post = _published(author, admin, [group.photo, alone, of_ben_only])

    takedown = posts.parent_request_removal(post=post, user=group.ava_mother)

    # Ava's two photos, for Ava only: not Ben's photo, and not Ben in the group photo (his father did not ask).
    assert _active() == sorted([(group.photo.pk, group.ava.pk), (alone.pk, group.ava.pk)])
    hold = PhotoOnlineHold.objects.get(photo=alone)
    assert (hold.post, hold.requested_by, hold.lifted_at, hold.lifted_by) == (post, group.ava_mother, None, None)
    event = AuditEvent.objects.get(action="post.removal_requested")
    assert event.actor == group.ava_mother and event.details == {"photos_held": sorted([group.photo.pk, alone.pk])}

    # Asking again creates nothing twice and records nothing new.
    assert posts.parent_request_removal(post=post, user=group.ava_mother) == takedown
    assert PhotoOnlineHold.objects.count() == 2
    assert AuditEvent.objects.filter(action="post.removal_requested").count() == 1
    assert Takedown.objects.count() == 1


def test_each_family_that_asks_holds_the_group_photo_for_its_own_child(author, admin, group):
    post = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=post, user=group.ava_mother)
    posts.parent_request_removal(post=post, user=group.ben_father)
    assert _active() == sorted([(group.photo.pk, group.ava.pk), (group.photo.pk, group.ben.pk)])
    assert Takedown.objects.get().requested_by == group.ava_mother  # one case; the second parent joins it


def test_two_requests_about_two_posts_with_the_same_photo_make_one_active_hold(author, admin, group):
    first = _published(author, admin, [group.photo])
    second = _published(author, admin, [group.photo])  # published before anyone asked
    posts.parent_request_removal(post=first, user=group.ava_mother)
    posts.parent_request_removal(post=second, user=group.ava_mother)
    assert _active() == [(group.photo.pk, group.ava.pk)]
    assert Takedown.objects.filter(status=Takedown.Status.OPEN).count() == 2  # both posts come down


def test_someone_without_parental_responsibility_cannot_hold_a_photo(author, admin, group):
    carer = cf.CarerFactory(family=group.family_a, has_parental_responsibility=False)
    post = _published(author, admin, [group.photo])
    with pytest.raises(PostError):
        posts.parent_request_removal(post=post, user=factories.parent_user(email=carer.email))
    assert not PhotoOnlineHold.objects.exists()


# --- the gate: drafting, approval, publication ------------------------------------------------------------------


def test_a_removal_request_blocks_the_photo_at_drafting_approval_and_publication(author, admin, group, coordinator):
    """The test issue 13 asks for: one removal request, and the photo is refused at every step after it."""
    draft = _draft(author, [group.photo])
    submitted = _submitted(author, [group.photo])
    approved = _approved(author, admin, [group.photo])
    published = _published(author, admin, [group.photo])
    other = ready_photo(group.family_a, [group.ava], coordinator)
    assert group.photo in postable_photos()

    posts.parent_request_removal(post=published, user=group.ava_mother)
    named = photo_words(group.photo)
    assert named.startswith(f"Photo from family {group.family_a.reference}, ")

    # Drafting: not offered, and a new draft or a change to an old one that keeps it is refused.
    assert group.photo not in postable_photos() and other in postable_photos()
    with pytest.raises(PostError, match="a parent or carer asked FiG not to use it"):
        _draft(author, [group.photo, other])
    with pytest.raises(PostError, match="a parent or carer asked FiG not to use it"):
        posts.post_save_draft(
            author=author, text="Changed.", channels=["x"], scheduled_for=None, photos=[group.photo], post=draft
        )
    assert Post.objects.count() == 4
    draft.refresh_from_db()
    assert draft.text == TEXT
    with pytest.raises(PostError, match="asked FiG not to use a photo in this post online, so it cannot be sent"):
        posts.post_submit(post=draft, by=author)

    # Approval: refused with the reason, naming the photo but neither child.
    with pytest.raises(PostError) as refused:
        posts.post_approve(post=submitted, by=admin, checklist=CHECKED, dismissals={})
    message = str(refused.value)
    assert message.startswith("A parent or carer asked FiG not to use a photo in this post online")
    assert named in message
    for child in (group.ava, group.ben):
        assert child.first_name not in message and child.last_name not in message
    submitted.refresh_from_db()
    assert submitted.status == S.SUBMITTED and submitted.reviewed_by is None

    # Publication: refused, and the post goes back to its author saying why.
    with pytest.raises(PostError, match="so the post was not published and went back to its author") as refused:
        posts.post_publish(post=approved, by=admin, adapter_name="manual", url="https://www.facebook.com/fig/posts/2")
    assert named in str(refused.value) and group.ava.first_name not in str(refused.value)
    approved.refresh_from_db()
    assert (approved.status, approved.published_at) == (S.CHANGES_REQUESTED, None)
    assert named in approved.review_note and group.ben.first_name not in approved.review_note
    finding = next(f for f in posts.post_findings(approved) if f.check == "removal")
    assert not finding.dismissible and finding.matches == (named,)


def test_the_send_task_checks_again_and_calls_nothing(
    author, admin, group, coordinator, settings, django_capture_on_commit_callbacks
):
    """Asked for after the post was queued to go out, before the worker sends it: no Graph API call at all."""
    first = _published(author, admin, [group.photo])
    with page_graph(settings) as graph:
        post = _approved(author, admin, [group.photo])  # Facebook is configured: FiG Safety sends it
        with django_capture_on_commit_callbacks() as queued:
            posts.post_publish(post=post, by=admin, adapter_name="facebook")
        assert Post.objects.get(pk=post.pk).status == S.PUBLISHING
        assert _facebook(post).state == C.SENDING
        posts.parent_request_removal(post=first, user=group.ava_mother)
        with django_capture_on_commit_callbacks(execute=True):
            for callback in queued:
                callback()  # the send task, as the worker runs it
        assert graph.requests == []
    post.refresh_from_db()
    assert post.status == S.CHANGES_REQUESTED and post.published_at is None
    delivery = _facebook(post)
    assert (delivery.state, delivery.external_id, delivery.send_started_at) == (C.CANCELLED, "", None)
    assert photo_words(group.photo) in post.review_note
    assert not AuditEvent.objects.filter(action="post.published", target_id=str(post.pk)).exists()
    assert not AuditEvent.objects.filter(action="post.channel_sent", target_id=str(post.pk)).exists()


def test_a_post_queued_but_not_yet_sent_gets_no_takedown_when_a_parent_holds_its_photo(
    author, admin, group, settings, django_capture_on_commit_callbacks
):
    first = _published(author, admin, [group.photo])
    with page_graph(settings):
        post = _approved(author, admin, [group.photo])
        with django_capture_on_commit_callbacks() as queued:
            posts.post_publish(post=post, by=admin, adapter_name="facebook")
        with django_capture_on_commit_callbacks(execute=True):
            posts.parent_request_removal(post=first, user=group.ava_mother)
            for callback in queued:
                callback()
    assert Post.objects.get(pk=post.pk).status == S.CHANGES_REQUESTED  # sent back: it never went out
    assert not Takedown.objects.filter(post=post).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hold_that_comes_while_the_platform_is_answering_opens_a_takedown(author, admin, group, settings):
    """The call cannot be stopped once begun: the post is recorded as published and a takedown opens."""
    first = _published(author, admin, [group.photo])

    def ask_during_the_call(request) -> None:
        from django.db import connection as thread_connection

        if request.endpoint == "feed":  # the request commits while Facebook is answering
            try:
                posts.parent_request_removal(post=first, user=group.ava_mother)
            finally:
                thread_connection.close()

    with page_graph(settings) as graph:
        post = _approved(author, admin, [group.photo])
        graph.on_request = ask_during_the_call
        posts.post_publish(post=post, by=admin, adapter_name="facebook")  # commits, then the eager task sends it
    post.refresh_from_db()
    # It went out: recorded as it is, then, the takedown being open, deleted through the Graph API at once.
    assert _facebook(post).external_id == graph.post_ids[0]
    assert graph.deleted_posts == graph.post_ids
    assert post.status == S.TAKEN_DOWN and _facebook(post).state == C.TAKEN_DOWN
    takedown = Takedown.objects.get(post=post)
    # Opened when the parent asked, the call being under way then (channels.may_be_online); the send, answering
    # after, started the deletion.
    assert takedown.status == Takedown.Status.REMOVED and "asked FiG not to use a photo" in takedown.reason


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_channel_that_goes_out_after_its_takedown_opened_is_deleted_through_the_api(author, admin, group, settings):
    first = _published(author, admin, [group.photo])

    def ask_during_the_call(request) -> None:
        from django.db import connection as thread_connection

        if request.endpoint == "feed":
            try:
                posts.parent_request_removal(post=first, user=group.ava_mother)
            finally:
                thread_connection.close()

    with page_graph(settings) as graph:
        post = _approved(author, admin, [group.photo])
        graph.on_request = ask_during_the_call
        posts.post_publish(post=post, by=admin, adapter_name="facebook")  # commits, then the eager tasks run
    assert graph.deleted_posts == graph.post_ids and len(graph.post_ids) == 1
    delivery = _facebook(post)
    assert (delivery.state, delivery.taken_down_how) == (C.TAKEN_DOWN, "api")


# --- ways around it -----------------------------------------------------------------------------------------------


def test_the_blurred_version_of_a_held_photo_is_held_too(author, admin, group):
    Photo.objects.filter(pk=group.photo.pk).update(marked_unidentifiable=True)
    group.photo.refresh_from_db()
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)

    assert group.photo not in postable_photos()
    findings = check_photos([group.photo], versions={str(group.photo.pk): "unidentifiable"})
    assert [f.check for f in findings] == ["removal"]
    with pytest.raises(PostError, match="asked FiG not to use it"):
        _draft(author, [group.photo])


def test_a_copy_of_a_held_photo_is_held_too(author, admin, group, coordinator):
    data = unique_jpeg()
    held = ready_photo(group.family_a, [group.ava], coordinator, data=data)
    # The same file uploaded for family B (not refused: duplicates are looked for within a family), without Ava
    # tagged; a photo recorded as a duplicate of the held one; and the photo the held one duplicates.
    same_file = ready_photo(group.family_b, [group.ben], coordinator, data=data)
    marked_copy = ready_photo(group.family_b, [group.ben], coordinator)
    original = ready_photo(group.family_a, [group.ava], coordinator)
    unrelated = ready_photo(group.family_a, [group.ava], coordinator)
    Photo.objects.filter(pk=marked_copy.pk).update(duplicate_of=held)
    Photo.objects.filter(pk=held.pk).update(duplicate_of=original)
    published = _published(author, admin, [held])

    posts.parent_request_removal(post=published, user=group.ava_mother)

    assert set(held_photos()) == {held, same_file, marked_copy, original}
    offered = set(postable_photos())
    assert unrelated in offered and not offered & {held, same_file, marked_copy, original}
    with pytest.raises(PostError, match="asked FiG not to use it"):
        _draft(author, [same_file])


def test_taking_the_childs_tag_off_does_not_lift_the_hold(author, admin, group):
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)
    PhotoTag.objects.filter(photo=group.photo, child=group.ava).delete()  # as a coordinator's retagging would
    assert group.photo in held_photos() and group.photo not in postable_photos()


# --- allowing it again ----------------------------------------------------------------------------------------------


def test_a_parent_allows_the_photo_again_once(author, admin, group):
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)
    hold = PhotoOnlineHold.objects.get()

    assert posts.photo_hold_lift(hold=hold, by=group.ava_mother) is True
    hold.refresh_from_db()
    assert hold.lifted_by == group.ava_mother and hold.lifted_at is not None
    event = AuditEvent.objects.get(action="photo.online_hold_lifted")
    assert (event.actor, event.target_id) == (group.ava_mother, str(hold.pk))
    assert group.photo in postable_photos()

    lifted_at = hold.lifted_at
    assert posts.photo_hold_lift(hold=hold, by=group.ava_mother) is False  # a double submit changes nothing
    hold.refresh_from_db()
    assert hold.lifted_at == lifted_at
    assert AuditEvent.objects.filter(action="photo.online_hold_lifted").count() == 1


def test_another_parent_with_parental_responsibility_for_the_child_may_allow_it(author, admin, group):
    second = cf.CarerFactory(family=group.family_a, has_parental_responsibility=True)
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)
    assert posts.photo_hold_lift(hold=PhotoOnlineHold.objects.get(), by=factories.parent_user(email=second.email))


def test_nobody_else_can_allow_it(author, admin, group, stranger):
    no_pr = cf.CarerFactory(family=group.family_a, has_parental_responsibility=False)
    _, _, [elsewhere] = cf.family_with_child()
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)
    hold = PhotoOnlineHold.objects.get()
    for who in (
        group.ben_father,  # the parent of the other child in the same photo
        factories.parent_user(email=no_pr.email),  # a carer of Ava without parental responsibility
        factories.parent_user(email=elsewhere.email),  # a carer of another family
        stranger,
        admin,
    ):
        with pytest.raises(PostError, match="parental responsibility for this child"):
            posts.photo_hold_lift(hold=hold, by=who)
    hold.refresh_from_db()
    assert hold.lifted_at is None and not AuditEvent.objects.filter(action="photo.online_hold_lifted").exists()


def test_the_photo_stays_held_while_another_childs_hold_stands(author, admin, group):
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)
    posts.parent_request_removal(post=published, user=group.ben_father)
    posts.photo_hold_lift(hold=PhotoOnlineHold.objects.get(child=group.ava), by=group.ava_mother)
    assert group.photo not in postable_photos()
    posts.photo_hold_lift(hold=PhotoOnlineHold.objects.get(child=group.ben), by=group.ben_father)
    assert group.photo in postable_photos()


def test_asking_again_after_allowing_it_holds_it_again(author, admin, group):
    published = _published(author, admin, [group.photo])
    posts.parent_request_removal(post=published, user=group.ava_mother)
    posts.photo_hold_lift(hold=PhotoOnlineHold.objects.get(), by=group.ava_mother)
    posts.parent_request_removal(post=published, user=group.ava_mother)
    assert _active() == [(group.photo.pk, group.ava.pk)] and PhotoOnlineHold.objects.count() == 2
    assert AuditEvent.objects.filter(action="post.removal_requested").count() == 2
    assert group.photo not in postable_photos()


@pytest.mark.django_db
def test_other_live_posts_with_the_photo_come_down_too(author, admin, group, coordinator):
    """The photo may no longer be used online for that child anywhere: a second published post with it gets its
    own takedown; a published post without it does not (audit D1)."""
    first = _published(author, admin, [group.photo])
    second = _published(author, admin, [group.photo])
    unrelated = _published(author, admin, [ready_photo(group.family_a, [group.ava], coordinator)])
    posts.parent_request_removal(post=first, user=group.ava_mother)
    open_for = set(Takedown.objects.filter(status=Takedown.Status.OPEN).values_list("post_id", flat=True))
    assert open_for == {first.pk, second.pk}
    assert unrelated.pk not in open_for
    posts.parent_request_removal(post=first, user=group.ava_mother)  # asking again opens nothing more
    assert Takedown.objects.count() == 2
