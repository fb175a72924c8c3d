"""The post queue's pages: who may reach which URL, the methods each takes, the workflow through the
views, the live checks' JSON, the thumbnails and the parent's page, and the post list's pinned queries.

Personas: the author (staff), another member of staff, a social media administrator (the reviewer),
an administrator who wrote a post of their own, the parent of the child pictured, the parent of
another family, and anonymous people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consents.models import Child, Purpose
from photos.models import Photo, PhotoAccess
from social.models import CheckDismissal, Post, PostChannel, Takedown
from social.posts import channels
from social.posts import services as posts
from social.posts.views import waited_words
from staff.models import AuditEvent, User
from tests import factories
from tests.consents.factories import withdraw
from tests.photos.fixtures import consented_child, ready_photo
from tests.query_counts import STAFF_REQUEST_QUERIES

TEXT = "Thank you to everyone who came to the family craft afternoon this week."
PHONE_TEXT = "Thank you for coming! Questions? Ring Jo on 07700 900123."
MANUAL_URL = "https://www.facebook.com/figcharity/posts/123456"
WEBSITE_URL = "https://www.fig.example.org/news/craft-afternoon"
ALL_TICKED = dict.fromkeys(posts.CHECKLIST, True)


# --- personas and a small world -----------------------------------------------------------------


@pytest.fixture
def author(db):
    return factories.staff_user("staff", "post_writer", email="author@example.org", full_name="Alex Author")


@pytest.fixture
def reviewer(db):
    return factories.staff_user("social_admin", email="reviewer@example.org", full_name="Rae Reviewer")


@pytest.fixture
def admin_author(db):
    """A social media administrator who wrote a post of their own."""
    return factories.staff_user("social_admin", email="admin.author@example.org", full_name="Ash Admin")


@dataclass
class World:
    child: Child
    parent: User  # holds parental responsibility for the child in the photo
    other_parent: User  # a parent of another family
    photo: Photo  # the child, consented to everything
    draft: Post
    submitted: Post
    approved: Post
    published: Post
    admins_own: Post  # submitted by admin_author


def _draft(author: User, photos=(), text: str = TEXT) -> Post:
    return posts.post_save_draft(
        author=author, text=text, channels=["facebook", "website"], scheduled_for=None, photos=list(photos)
    )


def _submitted(author: User, photos=(), text: str = TEXT) -> Post:
    post = _draft(author, photos, text)
    posts.post_submit(post=post, by=author)
    post.refresh_from_db()
    return post


def _approved(author: User, reviewer: User, photos=()) -> Post:
    post = _submitted(author, photos)
    return posts.post_approve(post=post, by=reviewer, checklist=ALL_TICKED, dismissals={})


def _published(author: User, reviewer: User, photos=()) -> Post:
    """Published by hand on both its channels (nothing is configured to send them): the Facebook Page first."""
    post = _approved(author, reviewer, photos)
    facebook, website = post.deliveries.order_by("channel")
    channels.delivery_record(
        delivery=facebook, url=MANUAL_URL, by=reviewer, published_at=timezone.now() - timedelta(minutes=2)
    )
    channels.delivery_record(delivery=website, url=WEBSITE_URL, by=reviewer)
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED and post.published_url == MANUAL_URL
    return post


@pytest.fixture
def world(author, reviewer, admin_author) -> World:
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    family, child, carer = consented_child()
    parent = factories.parent_user(email=carer.email)
    _, _, other_carer = consented_child()
    other_parent = factories.parent_user(email=other_carer.email)
    photo = ready_photo(family, [child], photographer)
    return World(
        child=child,
        parent=parent,
        other_parent=other_parent,
        photo=photo,
        draft=_draft(author, [photo]),
        submitted=_submitted(author, [photo]),
        approved=_approved(author, reviewer, [photo]),
        published=_published(author, reviewer, [photo]),
        admins_own=_submitted(admin_author),
    )


Target = tuple[str, str, dict]


def _targets(w: World) -> dict[str, Target]:
    """Every post URL: (method, url, a body that would change something if allowed)."""
    return {
        "posts": ("get", reverse("social:posts"), {}),
        "post_new": ("post", reverse("social:post_new"), {"text": TEXT, "channels": ["x"]}),
        "review_queue": ("get", reverse("social:review_queue"), {}),
        "live_check": ("post", reverse("social:live_check"), {"text": PHONE_TEXT}),
        "post": ("get", reverse("social:post", args=[w.submitted.pk]), {}),
        "post_edit": ("post", reverse("social:post_edit", args=[w.draft.pk]), {"text": "Changed.", "channels": ["x"]}),
        "post_submit": ("post", reverse("social:post_submit", args=[w.draft.pk]), {}),
        "post_approve": (
            "post",
            reverse("social:post_approve", args=[w.submitted.pk]),
            {f"check_{key}": "on" for key in posts.CHECKLIST},
        ),
        "post_changes": ("post", reverse("social:post_changes", args=[w.submitted.pk]), {"note": "Shorter, please."}),
        "post_publish": ("post", reverse("social:post_publish", args=[w.approved.pk]), {}),  # Send now
        "post_channel_record": (
            "post",
            reverse("social:post_channel_record", args=[w.approved.pk, "facebook"]),
            {"facebook-url": MANUAL_URL},
        ),
        "post_withdraw": ("post", reverse("social:post_withdraw", args=[w.draft.pk]), {"reason": "Not needed."}),
        "post_photo_thumbnail": ("get", reverse("social:post_photo_thumbnail", args=[w.photo.public_id]), {}),
        "parent_posts": ("get", reverse("social:parent_posts"), {}),
        "parent_request_removal": ("post", reverse("social:parent_request_removal", args=[w.published.pk]), {}),
    }


STAFF_URLS = [
    "posts",
    "post_new",
    "review_queue",
    "live_check",
    "post",
    "post_edit",
    "post_submit",
    "post_approve",
    "post_changes",
    "post_publish",
    "post_channel_record",
    "post_withdraw",
    "post_photo_thumbnail",
]
PARENT_URLS = ["parent_posts", "parent_request_removal"]
REVIEWER_ONLY = ["review_queue", "post_approve", "post_changes", "post_publish", "post_channel_record"]
POST_ONLY = [
    "live_check",
    "post_submit",
    "post_approve",
    "post_changes",
    "post_publish",
    "post_channel_record",
    "post_withdraw",
    "parent_request_removal",
]
GET_ONLY = ["posts", "review_queue", "post", "post_photo_thumbnail", "parent_posts"]


def _call(client, w: World, name: str):
    method, url, body = _targets(w)[name]
    return client.post(url, body) if method == "post" else client.get(url)


def snapshot() -> dict:
    """Everything a post URL could change."""
    return {
        "posts": list(
            Post.objects.order_by("pk").values_list(
                "status", "text", "channels", "reviewed_by", "published_url", "checklist"
            )
        ),
        "photos": list(Post.photos.through.objects.order_by("pk").values_list("post_id", "photo_id")),
        "channels": list(PostChannel.objects.order_by("pk").values_list("state", "url", "sent_at", "done_by")),
        "dismissals": CheckDismissal.objects.count(),
        "takedowns": list(Takedown.objects.order_by("pk").values_list("post_id", "requested_by", "status")),
        "audit": AuditEvent.objects.count(),
        "accesses": PhotoAccess.objects.count(),
        "mail": len(mail.outbox),
    }


def _refused(client, w: World, name: str, expected: int, capture):
    before = snapshot()
    with capture(execute=True) as callbacks:
        response = _call(client, w, name)
    assert response.status_code == expected, (name, response.status_code)
    assert callbacks == []  # no email queued
    assert snapshot() == before  # nothing changed, not even an access-log row
    return response


# --- the access matrix ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*STAFF_URLS, *PARENT_URLS])
def test_it_sends_anonymous_people_to_sign_in(client, world, name):
    before = snapshot()
    response = _call(client, world, name)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", STAFF_URLS)
def test_it_refuses_parents_every_staff_page(client, world, name, django_capture_on_commit_callbacks):
    client.force_login(world.parent)
    _refused(client, world, name, 403, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", PARENT_URLS)
def test_it_hides_the_parents_pages_from_staff(client, world, author, name, django_capture_on_commit_callbacks):
    client.force_login(author)
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", REVIEWER_ONLY)
def test_it_refuses_staff_without_the_social_admin_role_the_reviewers_pages(
    client, world, author, name, django_capture_on_commit_callbacks
):
    client.force_login(author)  # the author of every one of these posts, but not a reviewer
    _refused(client, world, name, 403, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["post", "post_edit", "post_submit", "post_withdraw"])
def test_it_hides_a_post_from_staff_who_did_not_write_it(
    client, world, member_of_staff, name, django_capture_on_commit_callbacks
):
    client.force_login(member_of_staff)
    _refused(client, world, name, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_it_lists_only_their_own_posts_for_staff(client, world, author, member_of_staff):
    mine = _draft(member_of_staff)
    client.force_login(member_of_staff)
    response = client.get(reverse("social:posts"))
    assert [row["post"] for row in response.context["rows"]] == [mine]
    assert TEXT not in response.content.decode().replace(mine.text, "")


@pytest.mark.django_db
def test_it_lets_a_reviewer_read_but_not_change_someone_elses_draft(
    client, world, reviewer, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    assert _call(client, world, "post").status_code == 200
    assert client.get(reverse("social:post", args=[world.draft.pk])).status_code == 200
    for name in ("post_edit", "post_submit"):
        _refused(client, world, name, 403, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_it_refuses_the_author_approving_their_own_post_with_a_clear_message(
    client, world, admin_author, django_capture_on_commit_callbacks
):
    client.force_login(admin_author)
    url = reverse("social:post_approve", args=[world.admins_own.pk])
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {f"check_{key}": "on" for key in posts.CHECKLIST})
    assert response.status_code == 403
    assert "You wrote this post, so another social media administrator must review it." in response.content.decode()
    assert callbacks == []
    assert snapshot() == before
    world.admins_own.refresh_from_db()
    assert world.admins_own.status == Post.Status.SUBMITTED and world.admins_own.reviewed_by is None


@pytest.mark.django_db
def test_it_does_not_offer_the_author_the_approval_form_on_their_own_post(client, world, admin_author):
    client.force_login(admin_author)
    response = client.get(reverse("social:post", args=[world.admins_own.pk]))
    body = response.content.decode()
    assert "approve_form" not in response.context
    assert "another social media administrator must approve it" in body
    assert reverse("social:post_approve", args=[world.admins_own.pk]) not in body


@pytest.mark.django_db
def test_it_leaves_a_reviewers_own_post_out_of_their_review_queue(client, world, admin_author, reviewer):
    client.force_login(admin_author)
    waiting = [row["post"] for row in client.get(reverse("social:review_queue")).context["rows"]]
    assert world.admins_own not in waiting and world.submitted in waiting
    client.force_login(reviewer)
    waiting = [row["post"] for row in client.get(reverse("social:review_queue")).context["rows"]]
    assert waiting == [world.submitted, world.admins_own]  # oldest first


@pytest.mark.django_db
def test_it_hides_another_familys_post_from_a_parent(client, world, django_capture_on_commit_callbacks):
    client.force_login(world.other_parent)
    _refused(client, world, "parent_request_removal", 404, django_capture_on_commit_callbacks)
    response = client.get(reverse("social:parent_posts"))
    assert response.status_code == 200
    assert response.context["cards"] == []
    assert world.published.text not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*STAFF_URLS, *PARENT_URLS])
def test_it_refuses_the_wrong_http_method(client, world, reviewer, name, django_capture_on_commit_callbacks):
    client.force_login(world.parent if name in PARENT_URLS else reviewer)
    method, url, body = _targets(world)[name]
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        if name in POST_ONLY:
            assert client.get(url).status_code == 405
        elif name in GET_ONLY:
            assert client.post(url, body).status_code == 405
            assert client.put(url).status_code == 405
        else:  # the form: GET and POST only
            assert client.put(url).status_code == 405
            assert client.delete(url).status_code == 405
    assert snapshot() == before


@pytest.mark.django_db
def test_it_does_not_serve_a_thumbnail_to_a_head_request(client, world, author):
    """A HEAD would write an access-log row without showing anything."""
    client.force_login(author)
    before = PhotoAccess.objects.count()
    assert client.head(_targets(world)["post_photo_thumbnail"][1]).status_code == 405
    assert PhotoAccess.objects.count() == before


# --- drafting --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_saves_a_new_draft_with_a_photo_and_shows_its_findings(client, world, author):
    client.force_login(author)
    when = timezone.localtime() + timedelta(days=2)
    response = client.post(
        reverse("social:post_new"),
        {
            "text": PHONE_TEXT,
            "channels": ["facebook", "instagram"],
            "photos": [str(world.photo.public_id)],
            "scheduled_for": when.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    post = Post.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == reverse("social:post", args=[post.pk])
    assert (post.author, post.text, post.channels, post.status) == (
        author,
        PHONE_TEXT,
        ["facebook", "instagram"],
        Post.Status.DRAFT,
    )
    assert list(post.photos.all()) == [world.photo]
    assert post.scheduled_for == when.replace(second=0, microsecond=0)  # read on London's clock
    page = client.get(response["Location"]).content.decode()
    assert "Contact details" in page and "07700 900123" in page
    assert "Your draft is saved" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"text": "", "channels": ["x"]}, "Write the post."),
        ({"text": TEXT}, "Choose at least one place for the post."),
        ({"text": TEXT, "channels": ["myspace"]}, "Select a valid choice."),
        ({"text": TEXT, "channels": ["x"], "scheduled_for": "2020-01-01T10:00"}, "Choose a time in the future."),
        ({"text": TEXT, "channels": ["x"], "scheduled_for": "next Tuesday"}, "Enter a date and a time"),
        ({"text": "x" * 5001, "channels": ["x"]}, "Keep the post under 5,000 characters."),
    ],
)
def test_it_explains_what_is_wrong_with_a_draft_and_saves_nothing(client, world, author, body, error):
    client.force_login(author)
    before = snapshot()
    response = client.post(reverse("social:post_new"), body)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_refuses_a_photo_that_may_not_be_shown_online(client, world, author):
    photographer = factories.staff_user("photographer")
    family, shy, _ = consented_child(face_online=False)
    not_online = ready_photo(family, [shy], photographer)
    client.force_login(author)
    before = snapshot()
    response = client.post(
        reverse("social:post_new"), {"text": TEXT, "channels": ["x"], "photos": [str(not_online.public_id)]}
    )
    assert response.status_code == 400
    assert "A chosen photo can no longer be used online" in response.content.decode()
    assert snapshot() == before
    offered = [photo for photo, _ in client.get(reverse("social:post_new")).context["offered"]]
    assert world.photo in offered and not_online not in offered


@pytest.mark.django_db
def test_it_lets_the_author_change_a_draft(client, world, author):
    client.force_login(author)
    url = reverse("social:post_edit", args=[world.draft.pk])
    form = client.get(url)
    assert form.status_code == 200 and TEXT in form.content.decode()
    response = client.post(url, {"text": "A new text.", "channels": ["x"]})
    assert response.status_code == 302
    world.draft.refresh_from_db()
    assert (world.draft.text, world.draft.channels, list(world.draft.photos.all())) == ("A new text.", ["x"], [])


@pytest.mark.django_db
def test_it_sends_the_author_back_to_the_post_when_it_can_no_longer_be_changed(client, world, author):
    client.force_login(author)
    before = snapshot()
    response = client.post(
        reverse("social:post_edit", args=[world.submitted.pk]), {"text": "Sneaky.", "channels": ["x"]}
    )
    assert response.status_code == 302 and response["Location"] == reverse("social:post", args=[world.submitted.pk])
    assert snapshot() == before


# --- the live checks ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_answers_the_live_check_with_each_finding_in_plain_words(client, world, author):
    client.force_login(author)
    before = snapshot()
    response = client.post(reverse("social:live_check"), {"text": PHONE_TEXT, "photos": [str(world.photo.public_id)]})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "private, no-store"
    answer = response.json()
    assert answer["summary"] == "1 thing to check."
    [finding] = answer["findings"]
    assert finding["check"] == "contact" and finding["title"] == "Contact details"
    assert "07700 900123" in finding["matches"] and finding["dismissible"] is True
    assert "contactable" in finding["explanation"]
    assert snapshot() == before  # checking writes nothing


@pytest.mark.django_db
def test_it_takes_the_live_check_as_json_too(client, world, author):
    client.force_login(author)
    body = json.dumps({"text": f"Well done {world.child.first_name}!", "photos": [str(world.photo.public_id)]})
    answer = client.post(reverse("social:live_check"), body, content_type="application/json").json()
    assert [f["check"] for f in answer["findings"]] == ["names"]
    assert answer["findings"][0]["matches"] == [world.child.first_name]


@pytest.mark.django_db
def test_it_says_no_problems_for_a_clean_text(client, world, author):
    client.force_login(author)
    answer = client.post(reverse("social:live_check"), {"text": TEXT}).json()
    assert answer == {"findings": [], "summary": "No problems found."}


@pytest.mark.django_db
def test_it_ignores_photos_that_may_not_be_posted_in_the_live_check(client, world, author):
    """Their consent problems would name children the writer has no reason to know about."""
    photographer = factories.staff_user("photographer")
    family, refused, _ = consented_child(online=False)
    hidden = ready_photo(family, [refused], photographer)
    client.force_login(author)
    answer = client.post(reverse("social:live_check"), {"text": TEXT, "photos": [str(hidden.public_id), "not-a-uuid"]})
    assert answer.json()["findings"] == []
    assert refused.first_name not in answer.content.decode()


@pytest.mark.django_db
def test_it_refuses_broken_json_in_the_live_check(client, world, author):
    client.force_login(author)
    response = client.post(reverse("social:live_check"), "{not json", content_type="application/json")
    assert response.status_code == 400


# --- thumbnails -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_serves_a_postable_photos_thumbnail_with_an_access_log_row(client, world, author):
    client.force_login(author)
    response = client.get(_targets(world)["post_photo_thumbnail"][1])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg" and response.content.startswith(b"\xff\xd8\xff")
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    access = PhotoAccess.objects.get(photo=world.photo, user=author)
    assert access.action == PhotoAccess.Action.THUMBNAIL


@pytest.mark.django_db
@pytest.mark.parametrize("answers", [{"online": False}, {"face_online": False}])
def test_it_hides_the_thumbnail_of_a_photo_that_may_not_be_posted(client, world, author, answers):
    photographer = factories.staff_user("photographer")
    family, child, _ = consented_child(**answers)
    photo = ready_photo(family, [child], photographer)
    client.force_login(author)
    response = client.get(reverse("social:post_photo_thumbnail", args=[photo.public_id]))
    assert response.status_code == 404
    assert not PhotoAccess.objects.filter(user=author).exists()


@pytest.mark.django_db
def test_it_hides_the_thumbnail_once_consent_is_withdrawn(client, world, author):
    carer = world.child.family.carers.get()
    withdraw(world.child, carer, [Purpose.ONLINE])
    client.force_login(author)
    assert client.get(_targets(world)["post_photo_thumbnail"][1]).status_code == 404
    assert not PhotoAccess.objects.filter(user=author).exists()


# --- the workflow through the pages --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_submits_the_authors_draft(client, world, author, django_capture_on_commit_callbacks):
    client.force_login(author)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("social:post_submit", args=[world.draft.pk]))
    assert response.status_code == 302
    world.draft.refresh_from_db()
    assert world.draft.status == Post.Status.SUBMITTED
    assert any(m.subject.startswith("A post by Alex Author is waiting for review") for m in mail.outbox)


@pytest.mark.django_db
def test_it_approves_with_the_checklist_and_a_written_reason_per_text_check(client, world, author, reviewer):
    post = _submitted(author, [world.photo], PHONE_TEXT)
    client.force_login(reviewer)
    page = client.get(reverse("social:post", args=[post.pk])).content.decode()
    for label in posts.CHECKLIST.values():
        assert label.replace("'", "&#x27;") in page
    assert "Why “Contact details” can be dismissed" in page

    body = {f"check_{key}": "on" for key in posts.CHECKLIST}
    response = client.post(
        reverse("social:post_approve", args=[post.pk]), {**body, "reason_contact": "It is FiG's own office line."}
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == Post.Status.APPROVED and post.reviewed_by == reviewer
    dismissal = CheckDismissal.objects.get(post=post)
    assert (dismissal.check_name, dismissal.reason, dismissal.dismissed_by) == (
        "contact",
        "It is FiG's own office line.",
        reviewer,
    )
    history = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "Rae Reviewer</strong>: Approved it" in history
    assert "It is FiG&#x27;s own office line." in history


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("leave_out", "error"),
    [
        ("check_relevant", "Tick to confirm: Relevant to FiG&#x27;s cause."),
        ("reason_contact", "Give a reason for dismissing"),
    ],
)
def test_it_refuses_an_approval_without_every_tick_and_reason(client, world, author, reviewer, leave_out, error):
    post = _submitted(author, [], PHONE_TEXT)
    body = {**{f"check_{key}": "on" for key in posts.CHECKLIST}, "reason_contact": "Our office line."}
    del body[leave_out]
    client.force_login(reviewer)
    before = snapshot()
    response = client.post(reverse("social:post_approve", args=[post.pk]), body)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_will_not_approve_past_the_consent_gate(client, world, author, reviewer):
    post = _submitted(author, [world.photo])
    withdraw(world.child, world.child.family.carers.get(), [Purpose.FACE_ONLINE])
    post.refresh_from_db()
    assert post.status == Post.Status.CHANGES_REQUESTED  # the withdrawal sent it back already
    Post.objects.filter(pk=post.pk).update(status=Post.Status.SUBMITTED)  # as if it came in just before
    client.force_login(reviewer)
    page = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "Cannot be dismissed" in page and "cannot be approved" in page
    before = snapshot()
    response = client.post(
        reverse("social:post_approve", args=[post.pk]), {f"check_{key}": "on" for key in posts.CHECKLIST}
    )
    assert response.status_code == 400
    assert "cannot be dismissed" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_tells_the_approver_that_a_post_past_its_time_went_back_to_its_author(
    client, world, author, reviewer, django_capture_on_commit_callbacks
):
    post = posts.post_save_draft(
        author=author, text=TEXT, channels=["website"], photos=[], scheduled_for=timezone.now() + timedelta(hours=1)
    )
    posts.post_submit(post=post, by=author)
    Post.objects.filter(pk=post.pk).update(scheduled_for=timezone.now() - timedelta(minutes=1))  # its time came
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("social:post_approve", args=[post.pk]),
            {f"check_{key}": "on" for key in posts.CHECKLIST},
            follow=True,
        )
    assert response.redirect_chain == [(reverse("social:post", args=[post.pk]), 302)]
    body = response.content.decode()
    assert "passed before it was approved, so it was not approved. It has gone back to its author" in body
    assert "message-error" in body
    post.refresh_from_db()
    assert post.status == Post.Status.CHANGES_REQUESTED and post.review_note == posts.EXPIRED_NOTE
    assert not AuditEvent.objects.filter(action="post.approved", target_id=str(post.pk)).exists()
    assert [m.to for m in mail.outbox if m.subject == "Your post needs changes"] == [[author.email]]
    assert "approve_form" not in response.context  # nothing left to approve


@pytest.mark.django_db
def test_it_sends_a_post_back_with_a_note(client, world, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("social:post_changes", args=[world.submitted.pk]), {"note": "Shorter, please."})
    assert response.status_code == 302
    world.submitted.refresh_from_db()
    assert (world.submitted.status, world.submitted.review_note) == (Post.Status.CHANGES_REQUESTED, "Shorter, please.")
    missing = client.post(reverse("social:post_changes", args=[world.approved.pk]), {"note": " "})
    assert missing.status_code == 400 and "Say what needs to change." in missing.content.decode()


@pytest.mark.django_db
def test_it_publishes_by_hand_recording_each_channels_link_and_time(client, world, reviewer):
    client.force_login(reviewer)
    page = client.get(reverse("social:post", args=[world.approved.pk])).content.decode()
    assert "Publish on Facebook Page by hand" in page and "Publish on FiG website by hand" in page
    assert "Send now" not in page  # nothing is configured to send it here

    facebook = reverse("social:post_channel_record", args=[world.approved.pk, "facebook"])
    before = snapshot()
    missing = client.post(facebook, {"facebook-url": ""})
    assert missing.status_code == 400 and "Paste the link to the post on the platform." in missing.content.decode()
    assert snapshot() == before
    when = timezone.localtime() - timedelta(hours=1)
    response = client.post(
        facebook, {"facebook-url": MANUAL_URL, "facebook-published_at": when.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302
    world.approved.refresh_from_db()
    assert world.approved.status == Post.Status.PARTLY_PUBLISHED  # the website is still to go

    website = reverse("social:post_channel_record", args=[world.approved.pk, "website"])
    assert client.post(website, {"website-url": WEBSITE_URL}).status_code == 302
    world.approved.refresh_from_db()
    assert world.approved.status == Post.Status.PUBLISHED
    assert world.approved.published_url == MANUAL_URL  # the channel that went out first
    assert world.approved.published_at == when.replace(second=0, microsecond=0)
    assert world.approved.published_by == reviewer
    assert [(d.channel, d.state, d.url, d.done_by) for d in world.approved.deliveries.order_by("channel")] == [
        ("facebook", PostChannel.State.RECORDED, MANUAL_URL, reviewer),
        ("website", PostChannel.State.RECORDED, WEBSITE_URL, reviewer),
    ]


@pytest.mark.django_db
def test_it_withdraws_a_published_post_and_opens_a_takedown(client, world, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("social:post_withdraw", args=[world.published.pk]), {"reason": "Wrong event."})
    assert response.status_code == 302
    world.published.refresh_from_db()
    assert world.published.status == Post.Status.WITHDRAWN
    takedown = Takedown.objects.get(post=world.published)
    assert takedown.status == Takedown.Status.OPEN and takedown.reason == "Wrong event."
    page = client.get(reverse("social:post", args=[world.published.pk])).content.decode()
    assert "Takedown open" in page and "Opened a takedown" in page


@pytest.mark.django_db
def test_it_shows_a_clear_message_when_someone_else_got_there_first(client, world, reviewer):
    other = factories.staff_user("social_admin", email="other.reviewer@example.org")
    posts.post_approve(post=world.submitted, by=other, checklist=ALL_TICKED, dismissals={})
    client.force_login(reviewer)
    before = snapshot()
    response = client.post(
        reverse("social:post_approve", args=[world.submitted.pk]), {f"check_{key}": "on" for key in posts.CHECKLIST}
    )
    assert response.status_code == 400
    assert "This post is approved, so it cannot be approved." in response.content.decode()
    assert snapshot() == before


# --- takedowns of published posts ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_takedowns_page_says_which_post_to_take_down_and_where_it_was_published(
    client, world, reviewer, ceo, django_capture_on_commit_callbacks
):
    post_url = reverse("social:post", args=[world.published.pk])
    with django_capture_on_commit_callbacks(execute=True):
        takedown = posts.post_open_takedown(post=world.published, reason="Wrong event.", by=reviewer)
    [email] = [
        m
        for m in mail.outbox
        if m.subject == f"Takedown needed for published post #{world.published.pk}" and m.to == [reviewer.email]
    ]
    assert MANUAL_URL in email.body and post_url in email.body and f"#takedown-{takedown.pk}" in email.body

    client.force_login(reviewer)
    page = client.get(reverse("social:takedowns")).content.decode()
    card = page.split(f'id="takedown-{takedown.pk}"', 1)[1].split("</section>", 1)[0]
    assert f"Published post {world.published.pk}" in card
    assert f'href="{post_url}"' in card and f'href="{MANUAL_URL}"' in card
    # Where it went, channel by channel, each with its link and a way to record it removed.
    for channel, label, link in (("facebook", "Facebook Page", MANUAL_URL), ("website", "FiG website", WEBSITE_URL)):
        row = card.split(f'id="takedown-{takedown.pk}-{channel}"', 1)[1].split("</tr>", 1)[0]
        assert label in row and f'href="{link}"' in row and f"Removed from {label}" in row

    client.post(reverse("social:takedown_remove", args=[takedown.pk]), {"how": "by_hand", "notes": "Deleted"})
    removed = client.get(reverse("social:takedowns")).content.decode().split('id="removed-heading"', 1)[1]
    assert f'href="{post_url}"' in removed and f'href="{MANUAL_URL}"' in removed

    client.force_login(ceo)  # reads the takedowns, but may not open the post's page: shown its link on the platform
    removed = client.get(reverse("social:takedowns")).content.decode().split('id="removed-heading"', 1)[1]
    assert f'href="{MANUAL_URL}"' in removed and f'href="{post_url}"' not in removed
    assert client.get(post_url).status_code == 404


@pytest.mark.django_db
def test_the_takedowns_page_reads_its_posts_in_a_fixed_number_of_queries(client, world, author, reviewer):
    def queries() -> int:
        client.get(reverse("social:takedowns"))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("social:takedowns")).status_code == 200
        return len(captured)

    client.force_login(reviewer)
    posts.post_open_takedown(post=world.published, reason="Wrong event.", by=reviewer)
    few = queries()
    for _ in range(5):
        posts.post_open_takedown(post=_published(author, reviewer), reason="Wrong event.", by=reviewer)
    assert queries() == few


# --- the review queue -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_how_long_each_post_has_waited(client, world, reviewer):
    Post.objects.filter(pk=world.submitted.pk).update(submitted_at=timezone.now() - timedelta(days=2, hours=3))
    client.force_login(reviewer)
    response = client.get(reverse("social:review_queue"))
    rows = response.context["rows"]
    assert [row["post"] for row in rows] == [world.submitted, world.admins_own]
    assert rows[0]["waited"] == "Waiting 2 days 3 hours"
    assert "Waiting 2 days 3 hours" in response.content.decode()


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=20), "Just sent"),
        (timedelta(minutes=1), "Waiting 1 minute"),
        (timedelta(minutes=59), "Waiting 59 minutes"),
        (timedelta(hours=1, minutes=30), "Waiting 1 hour"),
        (timedelta(days=1), "Waiting 1 day"),
        (timedelta(days=1, hours=5), "Waiting 1 day 5 hours"),
        (timedelta(days=9, hours=5), "Waiting 9 days"),
    ],
)
def test_it_says_how_long_in_plain_words(delta, words):
    assert waited_words(delta) == words


# --- parents ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_a_parent_the_published_post_with_their_child_but_not_the_photo(client, world):
    client.force_login(world.parent)
    response = client.get(reverse("social:parent_posts"))
    body = response.content.decode()
    assert [card.post for card in response.context["cards"]] == [world.published]
    assert TEXT in body and MANUAL_URL in body
    assert f"It includes 1 photo of {world.child.first_name}." in body
    assert "<img" not in body and str(world.photo.public_id) not in body  # described, never served
    assert "Ask FiG to remove this post" in body


@pytest.mark.django_db
def test_it_opens_a_takedown_when_a_parent_asks_and_says_so_the_second_time(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world.parent)
    url = reverse("social:parent_request_removal", args=[world.published.pk])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, follow=True)
    assert first.status_code == 200
    assert "FiG has been asked to remove this post" in first.content.decode()
    takedown = Takedown.objects.get(post=world.published)
    assert takedown.requested_by == world.parent and takedown.status == Takedown.Status.OPEN
    assert "You asked FiG to remove this post." in first.content.decode()
    assert any(m.subject == f"Takedown needed for published post #{world.published.pk}" for m in mail.outbox)

    before = snapshot()
    second = client.post(url, follow=True)
    assert "You have already asked FiG to remove this post." in second.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_adds_a_parents_request_to_a_takedown_fig_opened(client, world, reviewer):
    posts.post_open_takedown(post=world.published, reason="Wrong event.", by=reviewer)
    client.force_login(world.parent)
    page = client.get(reverse("social:parent_posts")).content.decode()
    assert "FiG is already taking this post down." in page
    response = client.post(reverse("social:parent_request_removal", args=[world.published.pk]), follow=True)
    assert "FiG is already taking this post down, and your request has been added." in response.content.decode()
    assert Takedown.objects.get(post=world.published).requested_by == world.parent


# --- queries --------------------------------------------------------------------------------------------


def _bulk_posts(author: User, count: int) -> None:
    now = timezone.now()
    Post.objects.bulk_create(
        [
            Post(
                author=author,
                text=f"Post number {i}",
                channels=["facebook"],
                status=Post.Status.SUBMITTED,
                submitted_at=now - timedelta(minutes=i),
                updated_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        ]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [10, 1000])
def test_it_lists_posts_in_a_fixed_number_of_queries(client, reviewer, author, count, django_assert_num_queries):
    _bulk_posts(author, count)
    client.force_login(reviewer)
    client.get(reverse("social:posts"))  # the first request creates the usersession row
    # The signed-in staff request's own queries, then: the count of each status (which is the
    # paginator's count too), one page of posts with their authors and photo counts, and the channels of
    # the posts on the page. The reviewer check for the sub-navigation costs nothing (roles come with the user).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 3):
        response = client.get(reverse("social:posts"))
    assert len(response.context["rows"]) == min(count, 25)
    assert response.context["page"].paginator.count == count
    assert client.get(reverse("social:posts"), {"status": "submitted"}).context["page"].paginator.count == count
    assert client.get(reverse("social:posts"), {"status": "draft"}).context["page"].paginator.count == 0


@pytest.mark.django_db
@pytest.mark.parametrize("count", [10, 1000])
def test_it_lists_the_review_queue_in_a_fixed_number_of_queries(
    client, reviewer, author, count, django_assert_num_queries
):
    _bulk_posts(author, count)
    client.force_login(reviewer)
    client.get(reverse("social:review_queue"))
    # The staff request's queries, the paginator's count, one page of posts with authors and photo counts, the
    # first photo of each (none here) and what the checks found when each was sent for review.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 4):
        response = client.get(reverse("social:review_queue"))
    assert len(response.context["rows"]) == min(count, 50)
