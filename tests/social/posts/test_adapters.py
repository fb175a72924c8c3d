"""Publication adapters: the manual one, and the Facebook Page one against a fake Graph API on loopback.

Whatever goes wrong on the way to the platform, nothing is marked as published; the call is made after
commit with no row locked, and a call that may have reached Facebook is never made again blindly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from consents.models import Purpose
from fig_safety.vault import vault_read
from social.models import Post, Takedown
from social.posts import services as posts
from social.posts.adapters import PublishError, available_adapters, get_adapter
from social.posts.services import CHECKLIST, PostError
from staff.models import AuditEvent, User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo
from tests.social.fake_graph import page_graph

TEXT = "What a wonderful summer picnic! Thank you to all our volunteers."
LINK = "https://www.facebook.com/fig/posts/123"


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def graph(settings):
    """The fake Graph API, with the adapter configured to use it."""
    with page_graph(settings) as fake:
        yield fake


@pytest.fixture
def photos(coordinator) -> list:
    """Two photos whose children may be shown online: one of a child alone, one of two children."""
    family, ava, [carer] = cf.family_with_child(coordinator=coordinator)
    ben = cf.ChildFactory(family=family)
    cf.give(ava, carer)
    cf.give(ben, carer)
    return [ready_photo(family, [ava], coordinator), ready_photo(family, [ava, ben], coordinator)]


def _approved(author: User, admin: User, photos=(), channels=("facebook",)) -> Post:
    post = posts.post_save_draft(
        author=author, text=TEXT, channels=list(channels), scheduled_for=None, photos=list(photos)
    )
    posts.post_submit(post=post, by=author)
    return posts.post_approve(post=post, by=admin, checklist=dict.fromkeys(CHECKLIST, True), dismissals={})


def _assert_still_approved(post: Post) -> None:
    post = Post.objects.get(pk=post.pk)
    assert post.status == Post.Status.APPROVED
    assert (post.published_at, post.published_by, post.published_url, post.external_id, post.adapter) == (
        None,
        None,
        "",
        "",
        "",
    )
    assert not AuditEvent.objects.filter(action="post.published").exists()


# --- manual -------------------------------------------------------------------------------------------------


def test_it_records_a_post_published_by_hand(author, admin):
    post = _approved(author, admin)
    when = timezone.now() - timedelta(hours=2)
    posts.post_publish(post=post, by=admin, adapter_name="manual", url=f"  {LINK}  ", published_at=when)
    post.refresh_from_db()
    assert (post.status, post.published_url, post.published_at, post.external_id, post.adapter, post.published_by) == (
        Post.Status.PUBLISHED,
        LINK,
        when,
        "",
        "manual",
        admin,
    )


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "www.facebook.com/fig/posts/1",
        "ftp://example.org/post",
        "javascript:alert(1)",
        "https://",
        "https://www.facebook.com/" + "x" * 500,
    ],
)
def test_the_manual_adapter_needs_a_web_link(author, admin, url):
    post = _approved(author, admin)
    with pytest.raises(PostError, match="Paste the link"):
        posts.post_publish(post=post, by=admin, adapter_name="manual", url=url)
    _assert_still_approved(post)


def test_the_manual_adapter_refuses_a_time_in_the_future(author, admin):
    post = _approved(author, admin)
    with pytest.raises(PostError, match="cannot be in the future"):
        posts.post_publish(
            post=post, by=admin, adapter_name="manual", url=LINK, published_at=timezone.now() + timedelta(hours=1)
        )
    _assert_still_approved(post)


def test_the_manual_adapter_takes_now_when_no_time_is_given(author, admin):
    post = _approved(author, admin)
    before = timezone.now()
    posts.post_publish(post=post, by=admin, adapter_name="manual", url=LINK)
    post.refresh_from_db()
    assert before <= post.published_at <= timezone.now()


# --- Facebook Page, against the fake Graph API --------------------------------------------------------------
# post_publish commits "being published" and queues the task after commit; these tests run the on-commit
# callbacks, as a worker (or eager Celery) would.


@pytest.fixture
def publish(django_capture_on_commit_callbacks) -> Callable[..., Post]:
    """Publish to the Page as the post page does, run what is queued after commit, and re-read the post."""

    def publish(post: Post, by: User) -> Post:
        with django_capture_on_commit_callbacks(execute=True):
            posts.post_publish(post=post, by=by, adapter_name="facebook")
        return Post.objects.get(pk=post.pk)

    return publish


def test_it_publishes_a_text_post_on_the_facebook_page(author, admin, graph, publish):
    post = publish(_approved(author, admin), admin)

    assert graph.problems == []
    [request] = graph.requests
    assert (request.method, request.path, request.endpoint) == ("POST", "/v21.0/1234567890/feed", "feed")
    assert request.fields == {"message": TEXT, "access_token": "page-token-for-tests"}

    [post_id] = graph.post_ids
    assert (post.status, post.external_id, post.published_url, post.adapter, post.published_by) == (
        Post.Status.PUBLISHED,
        post_id,
        f"https://www.facebook.com/{post_id}",
        "facebook",
        admin,
    )
    assert post.published_at is not None and post.publish_error == ""
    assert AuditEvent.objects.get(action="post.published").details == {
        "adapter": "facebook",
        "url": f"https://www.facebook.com/{post_id}",
    }
    assert AuditEvent.objects.get(action="post.publishing").actor == admin


def test_nothing_is_sent_before_the_request_commits(author, admin, graph):
    post = _approved(author, admin)
    posts.post_publish(post=post, by=admin, adapter_name="facebook")
    # Still inside the test's transaction: the send is queued for after commit.
    assert graph.requests == []
    post.refresh_from_db()
    assert (post.status, post.published_by, post.publish_started_at) == (Post.Status.PUBLISHING, admin, None)
    assert post.publish_requested_at is not None


def test_it_uploads_each_photo_unpublished_then_posts_with_them_attached(author, admin, graph, photos, publish):
    post = publish(_approved(author, admin, photos=photos), admin)

    assert graph.problems == []
    assert [r.endpoint for r in graph.requests] == ["photos", "photos", "feed"]
    uploads = graph.to("photos")
    for upload in uploads:
        assert upload.path == "/v21.0/1234567890/photos"
        assert upload.content_type.startswith("multipart/form-data; boundary=")
        assert upload.fields == {"published": "false", "access_token": "page-token-for-tests"}
        assert upload.files["source"][:2] == ("photo.jpg", "image/jpeg")
    # Exactly the decrypted JPEG bytes the vault holds for each photo, each sent once.
    sent = sorted(upload.files["source"][2] for upload in uploads)
    assert sent == sorted(vault_read(name=p.original_blob, key_id=p.original_key_id) for p in photos)
    assert all(data.startswith(b"\xff\xd8\xff") for data in sent)

    [feed] = graph.to("feed")
    assert feed.fields["message"] == TEXT and feed.fields["access_token"] == "page-token-for-tests"
    attached = {json.loads(feed.fields[f"attached_media[{i}]"])["media_fbid"] for i in range(2)}
    assert attached == set(graph.photo_ids) and len(graph.photo_ids) == 2
    assert post.status == Post.Status.PUBLISHED and post.external_id == graph.post_ids[0]


def _failed(post: Post) -> str:
    """Nothing is marked as published, the post is approved again, and the publisher is told why."""
    _assert_still_approved(post)
    post = Post.objects.get(pk=post.pk)
    assert (post.publish_requested_at, post.publish_started_at) == (None, None)
    event = AuditEvent.objects.get(action="post.publish_failed", target_id=str(post.pk))
    assert event.details["error"] == post.publish_error
    [email] = [m for m in mail.outbox if m.subject == f"Post #{post.pk} was not published"]
    assert email.to == ["admin@example.org"] and post.publish_error in email.body
    return post.publish_error


@pytest.mark.parametrize("endpoint", ["feed", "photos"])
def test_an_api_error_publishes_nothing(author, admin, graph, photos, endpoint, publish):
    graph.fail_on(endpoint, status=400, message="(#200) The user hasn't authorized the application")
    post = publish(_approved(author, admin, photos=photos[:1]), admin)
    error = _failed(post)
    assert error.startswith("Facebook refused the post (400: (#200) The user hasn't authorized")
    assert error.endswith("Nothing was published.")
    assert graph.problems == []
    if endpoint == "photos":
        assert graph.to("feed") == []  # it stops at the first refusal


def test_an_error_in_a_successful_looking_answer_publishes_nothing(author, admin, graph, publish):
    graph.fail_on("feed", status=200, message="Please retry your request later.")
    post = publish(_approved(author, admin), admin)
    assert "Please retry your request later" in _failed(post)


def test_a_timeout_is_not_taken_for_nothing_published(author, admin, graph, settings, publish):
    """Facebook may have published it before the answer was lost: the page says to check, not to retry."""
    settings.FIG_GRAPH_TIMEOUT = 1
    graph.sleep_on("feed", 2)
    started = time.monotonic()
    post = publish(_approved(author, admin), admin)
    assert time.monotonic() - started < 1.9  # it gave up at the timeout, not when the fake answered
    assert len(graph.to("feed")) == 1
    error = _failed(post)
    assert "cannot tell whether the post went out" in error and "Check the Page" in error


def test_the_fake_graph_refuses_a_wrong_token(author, admin, graph, settings, publish):
    """The fake's checks bite: a request it would not accept fails, and says why."""
    settings.FIG_META_PAGE_TOKEN = "someone-elses-token"
    post = publish(_approved(author, admin), admin)
    assert "Facebook refused the post" in _failed(post)
    assert graph.problems == ["POST /v21.0/1234567890/feed: missing or wrong access_token"]


def test_a_server_that_is_not_there_publishes_nothing(author, admin, graph, settings, publish):
    settings.FIG_GRAPH_API_URL = "http://127.0.0.1:9/v21.0"  # the discard port: nothing listens
    post = publish(_approved(author, admin), admin)
    assert "could not be reached" in _failed(post)


def test_a_failed_post_can_be_published_again(author, admin, graph, publish):
    graph.fail_on("feed", status=500, message="An unexpected error has occurred.")
    post = publish(_approved(author, admin), admin)
    _failed(post)
    graph._failures.clear()
    post = publish(post, admin)
    assert post.status == Post.Status.PUBLISHED and post.publish_error == ""
    assert len(graph.to("feed")) == 2 and len(graph.post_ids) == 1


def test_a_send_that_began_and_never_answered_is_not_made_again(
    author, admin, graph, django_capture_on_commit_callbacks
):
    """A worker that died during the call: Facebook may have the post, so it is handed back, not resent."""
    post = _approved(author, admin)
    Post.objects.filter(pk=post.pk).update(
        status=Post.Status.PUBLISHING,
        published_by=admin,
        adapter="facebook",
        publish_requested_at=timezone.now() - timedelta(minutes=20),
        publish_started_at=timezone.now() - timedelta(minutes=20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_publish_send(post_id=post.pk)
    assert graph.requests == []
    assert _failed(post) == posts.UNCERTAIN_NOTE


def test_the_task_leaves_a_post_that_is_not_being_published_alone(author, admin, graph):
    post = _approved(author, admin)
    posts.post_publish_send(post_id=post.pk)
    assert posts.post_publish_send(post_id=999_999) is None
    assert graph.requests == []
    assert Post.objects.get(pk=post.pk).status == Post.Status.APPROVED


def test_consent_withdrawn_before_the_send_sends_it_back_and_sends_nothing(author, admin, graph, photos):
    post = _approved(author, admin, photos=photos[:1])
    posts.post_publish(post=post, by=admin, adapter_name="facebook")  # queued, not yet sent
    [child] = photos[0].children.all()
    cf.withdraw(child, child.family.carers.get(), [Purpose.ONLINE])
    posts.post_publish_send(post_id=post.pk)
    post.refresh_from_db()
    assert post.status == Post.Status.CHANGES_REQUESTED and "withdrew consent" in post.review_note
    assert graph.requests == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_consent_withdrawn_while_the_call_is_under_way_opens_a_takedown(graph):
    """The call cannot be stopped once begun: the post is recorded as published and a takedown opens."""
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    coordinator = factories.staff_user("coordinator")
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    cf.give(child, carer)
    post = _approved(author, admin, photos=[ready_photo(family, [child], coordinator)])

    def withdraw_during_the_call(request) -> None:
        from django.db import connection as thread_connection

        if request.endpoint == "feed":  # the withdrawal commits while Facebook is answering
            try:
                cf.withdraw(child, carer, [Purpose.ONLINE])
            finally:
                thread_connection.close()

    graph.on_request = withdraw_during_the_call
    posts.post_publish(post=post, by=admin, adapter_name="facebook")  # commits, then the eager task sends it
    post = Post.objects.get(pk=post.pk)
    assert post.status == Post.Status.PUBLISHED and post.external_id == graph.post_ids[0]
    [takedown] = post.takedowns.all()
    assert takedown.status == Takedown.Status.OPEN and "while the post was being published" in takedown.reason


def test_the_sweep_queues_a_lost_send_again_and_settles_a_stopped_one(
    author, admin, graph, django_capture_on_commit_callbacks
):
    now = timezone.now()
    lost, stopped, fresh = (_approved(author, admin) for _ in range(3))
    publishing = {"status": Post.Status.PUBLISHING, "published_by": admin, "adapter": "facebook"}
    Post.objects.filter(pk=lost.pk).update(**publishing, publish_requested_at=now - timedelta(minutes=3))
    Post.objects.filter(pk=stopped.pk).update(
        **publishing,
        publish_requested_at=now - timedelta(hours=1),
        publish_started_at=now - posts.CALL_GIVEN_UP_AFTER - timedelta(seconds=1),
    )
    Post.objects.filter(pk=fresh.pk).update(**publishing, publish_requested_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.resume_publishing(now) == 2
    assert len(graph.to("feed")) == 1  # the lost one only: the stopped one is not sent again
    assert Post.objects.get(pk=lost.pk).status == Post.Status.PUBLISHED
    assert Post.objects.get(pk=stopped.pk).publish_error == posts.UNCERTAIN_NOTE
    assert Post.objects.get(pk=fresh.pk).status == Post.Status.PUBLISHING  # its task may yet run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_row_is_locked_while_facebook_is_called(graph):
    """Invariant: no network call while a database row is locked. While Facebook is answering, another
    connection can lock the post at once (NOWAIT) and sees the send recorded as begun."""
    assert connection.vendor == "postgresql"
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    post = _approved(author, admin)
    seen: list[object] = []

    def try_lock(request) -> None:
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                row = Post.objects.select_for_update(nowait=True).get(pk=post.pk)
                seen.append((row.status, row.publish_started_at is not None))
        except Exception as exc:  # noqa: BLE001 - any failure to lock is what the test reports
            seen.append(exc)
        finally:
            thread_connection.close()

    graph.on_request = try_lock
    posts.post_publish(post=post, by=admin, adapter_name="facebook")  # commits, then the eager task sends it
    assert seen == [(Post.Status.PUBLISHING, True)]
    assert Post.objects.get(pk=post.pk).status == Post.Status.PUBLISHED


# --- which adapters are offered -----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["FIG_META_PAGE_ID", "FIG_META_PAGE_TOKEN"])
def test_facebook_is_neither_offered_nor_usable_when_not_configured(author, admin, graph, settings, missing):
    setattr(settings, missing, "")
    assert [a.name for a in available_adapters()] == ["manual"]
    with pytest.raises(PublishError):
        get_adapter("facebook")
    post = _approved(author, admin)
    with pytest.raises(PostError, match="Choose how the post is published"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    _assert_still_approved(post)
    assert graph.requests == []


def test_facebook_is_offered_when_configured(graph):
    assert [a.name for a in available_adapters()] == ["manual", "facebook"]
    assert get_adapter("facebook").name == "facebook"


@pytest.mark.parametrize("channels", [["website"], ["instagram", "x"]])
def test_facebook_is_neither_offered_nor_used_for_a_post_not_meant_for_the_page(author, admin, graph, channels):
    post = _approved(author, admin, channels=channels)
    assert [a.name for a in available_adapters(post)] == ["manual"]
    with pytest.raises(PostError, match="This post is not meant for the Facebook Page, so it was not published there"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    assert graph.requests == []  # not a byte went to Facebook
    _assert_still_approved(post)


def test_facebook_is_offered_for_a_post_meant_for_the_page_among_others(author, admin, graph, publish):
    post = _approved(author, admin, channels=["website", "facebook"])
    assert [a.name for a in available_adapters(post)] == ["manual", "facebook"]
    post = publish(post, admin)
    assert graph.problems == [] and len(graph.to("feed")) == 1
    assert post.status == Post.Status.PUBLISHED


def test_the_post_page_offers_facebook_only_for_a_post_meant_for_the_page(client, author, admin, graph):
    for_page, elsewhere = _approved(author, admin), _approved(author, admin, channels=["website"])
    client.force_login(admin)
    assert "Publish on the Facebook Page now" in client.get(reverse("social:post", args=[for_page.pk])).content.decode()
    page = client.get(reverse("social:post", args=[elsewhere.pk])).content.decode()
    assert "Publish on the Facebook Page now" not in page and "I published it on the platform myself" in page
    response = client.post(reverse("social:post_publish", args=[elsewhere.pk]), {"adapter": "facebook"})
    assert response.status_code == 400
    assert graph.requests == []
    _assert_still_approved(elsewhere)


def test_an_unknown_adapter_is_refused(author, admin):
    with pytest.raises(PublishError):
        get_adapter("myspace")
    post = _approved(author, admin)
    with pytest.raises(PostError, match="Choose how the post is published"):
        posts.post_publish(post=post, by=admin, adapter_name="myspace")
    _assert_still_approved(post)
