"""Publishing a post's channels: recorded by hand (the manual adapter's link checks), and sent to the Facebook
Page by its sender against a fake Graph API on loopback, through "Send now" (services.post_publish with any
adapter but "manual", which is channels.post_send_now).

Whatever goes wrong on the way to the platform, the channel is not marked as out; the call is made after
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
from social.models import Post, PostChannel, Takedown
from social.posts import channels
from social.posts import services as posts
from social.posts.adapters import FacebookSender, sender_for
from social.posts.services import CHECKLIST, PostError
from staff.models import AuditEvent, User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo
from tests.social.fake_graph import page_graph

TEXT = "What a wonderful summer picnic! Thank you to all our volunteers."
LINK = "https://www.facebook.com/fig/posts/123"
S, C = Post.Status, PostChannel.State
NOTHING_TO_SEND = "Nothing in this post can be sent from here: publish it by hand and record each link."


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def graph(settings):
    """The fake Graph API, with FiG Safety configured to send to its Page (and to Instagram)."""
    with page_graph(settings) as fake:
        yield fake


@pytest.fixture
def page_only(settings):
    """The fake Graph API with the Page configured and Instagram not."""
    with page_graph(settings, instagram=False) as fake:
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


def _facebook(post: Post) -> PostChannel:
    return PostChannel.objects.get(post=post, channel="facebook")


def _assert_still_approved(post: Post) -> None:
    """Nothing out on any channel, and nothing said to be."""
    post = Post.objects.get(pk=post.pk)
    assert post.status == S.APPROVED
    assert (post.published_at, post.published_by, post.published_url) == (None, None, "")
    for delivery in post.deliveries.all():
        assert delivery.state in {C.WAITING, C.FAILED}, delivery.state
        assert (delivery.url, delivery.external_id, delivery.sent_at) == ("", "", None)
    assert not AuditEvent.objects.filter(
        action__in=["post.published", "post.channel_sent", "post.channel_recorded"]
    ).exists()


# --- by hand ------------------------------------------------------------------------------------------------


def test_it_records_a_post_published_by_hand(author, admin):
    post = _approved(author, admin)
    assert (_facebook(post).by_hand, _facebook(post).state) == (True, C.WAITING)  # no Page configured here
    when = timezone.now() - timedelta(hours=2)
    posts.post_publish(post=post, by=admin, adapter_name="manual", url=f"  {LINK}  ", published_at=when)
    post.refresh_from_db()
    assert (post.status, post.published_url, post.published_at, post.published_by) == (S.PUBLISHED, LINK, when, admin)
    delivery = _facebook(post)
    assert (delivery.state, delivery.url, delivery.sent_at, delivery.external_id, delivery.done_by) == (
        C.RECORDED,
        LINK,
        when,
        "",
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
    assert _facebook(post).sent_at == post.published_at


# --- Facebook Page, against the fake Graph API --------------------------------------------------------------
# Send now commits the channel as "being sent" and queues its task after commit; these tests run the on-commit
# callbacks, as a worker (or eager Celery) would. The posts are approved with the Page configured, so their
# Facebook channel is sent by FiG Safety.


@pytest.fixture
def publish(django_capture_on_commit_callbacks) -> Callable[..., Post]:
    """Send now, as the post page does, run what is queued after commit, and re-read the post."""

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
    delivery = _facebook(post)
    assert (delivery.state, delivery.by_hand, delivery.external_id, delivery.url, delivery.done_by) == (
        C.SENT,
        False,
        post_id,
        f"https://www.facebook.com/{post_id}",
        admin,
    )
    assert delivery.sent_at is not None and delivery.error == ""
    assert (post.status, post.published_url, post.published_by, post.published_at) == (
        S.PUBLISHED,
        f"https://www.facebook.com/{post_id}",
        admin,
        delivery.sent_at,
    )
    assert AuditEvent.objects.get(action="post.channel_sent").details == {
        "channel": "facebook",
        "url": f"https://www.facebook.com/{post_id}",
        "id": post_id,
    }
    assert AuditEvent.objects.get(action="post.published").details == {"channels": ["facebook"]}
    send_now = AuditEvent.objects.get(action="post.send_now")
    assert (send_now.actor, send_now.details) == (admin, {"channels": ["facebook"]})


def test_nothing_is_sent_before_the_request_commits(author, admin, graph):
    post = _approved(author, admin)
    posts.post_publish(post=post, by=admin, adapter_name="facebook")
    # Still inside the test's transaction: the send is queued for after commit.
    assert graph.requests == []
    post.refresh_from_db()
    delivery = _facebook(post)
    assert (post.status, delivery.state, delivery.done_by, delivery.send_started_at) == (
        S.PUBLISHING,
        C.SENDING,
        admin,
        None,
    )
    assert delivery.send_requested_at is not None


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
    assert post.status == S.PUBLISHED and _facebook(post).external_id == graph.post_ids[0]
    assert _facebook(post).progress == {"media": graph.photo_ids}  # kept as each upload answered


def _failed(post: Post) -> str:
    """Nothing is marked as out, the post is approved again, its channel failed, and the sender is told why."""
    _assert_still_approved(post)
    delivery = _facebook(post)
    assert (delivery.state, delivery.send_requested_at) == (C.FAILED, None)
    assert delivery.error
    event = AuditEvent.objects.get(action="post.channel_failed", target_id=str(post.pk))
    assert event.details["error"] == delivery.error and event.details["channel"] == "facebook"
    [email] = [m for m in mail.outbox if m.subject == f"Post #{post.pk} was not published on Facebook Page"]
    assert email.to == ["admin@example.org"] and delivery.error in email.body
    return delivery.error


@pytest.mark.parametrize("endpoint", ["feed", "photos"])
def test_an_api_error_publishes_nothing(author, admin, graph, photos, endpoint, publish):
    graph.fail_on(endpoint, status=400, message="(#200) The user hasn't authorized the application")
    post = publish(_approved(author, admin, photos=photos[:1]), admin)
    error = _failed(post)
    assert error.startswith("Facebook refused the post (400: (#200) The user hasn't authorized")
    assert error.endswith("Nothing was published.")
    assert not _facebook(post).progress.get("uncertain")
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
    assert "cannot tell whether the post went out" in error and "Check Facebook" in error
    assert _facebook(post).progress.get("uncertain") is True
    # Send now leaves it alone: only someone who has looked sends it again (resend_uncertain).
    assert channels.post_send_now(post=post, by=admin) == 0
    assert len(graph.to("feed")) == 1


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
    assert post.status == S.PUBLISHED
    assert (_facebook(post).state, _facebook(post).error) == (C.SENT, "")
    assert len(graph.to("feed")) == 2 and len(graph.post_ids) == 1


def test_a_send_that_began_and_never_answered_is_not_made_again(
    author, admin, graph, django_capture_on_commit_callbacks
):
    """A worker that died during the call: Facebook may have the post, so it is handed back, not resent."""
    post = _approved(author, admin)
    Post.objects.filter(pk=post.pk).update(status=S.PUBLISHING)
    PostChannel.objects.filter(post=post).update(
        state=C.SENDING,
        done_by=admin,
        send_requested_at=timezone.now() - timedelta(minutes=20),
        send_started_at=timezone.now() - timedelta(minutes=20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        channels.delivery_send(delivery_id=_facebook(post).pk)
    assert graph.requests == []
    assert _failed(post) == channels.UNCERTAIN.format(channel="Facebook Page")
    assert _facebook(post).progress == {"uncertain": True}
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.post_send_now(post=post, by=admin) == 0  # not until someone has looked
    assert graph.requests == []


def test_the_task_leaves_a_channel_that_is_not_being_sent_alone(author, admin, graph):
    post = _approved(author, admin)
    assert channels.delivery_send(delivery_id=_facebook(post).pk).state == C.WAITING
    assert channels.delivery_send(delivery_id=999_999) is None
    assert graph.requests == []
    assert Post.objects.get(pk=post.pk).status == S.APPROVED and _facebook(post).state == C.WAITING


def test_consent_withdrawn_before_the_send_sends_it_back_and_sends_nothing(author, admin, graph, photos):
    post = _approved(author, admin, photos=photos[:1])
    posts.post_publish(post=post, by=admin, adapter_name="facebook")  # queued, not yet sent
    assert _facebook(post).state == C.SENDING
    [child] = photos[0].children.all()
    cf.withdraw(child, child.family.carers.get(), [Purpose.ONLINE])
    channels.delivery_send(delivery_id=_facebook(post).pk)  # the task, as the worker runs it
    post.refresh_from_db()
    assert post.status == S.CHANGES_REQUESTED and "withdrew consent" in post.review_note
    assert _facebook(post).state == C.CANCELLED
    assert graph.requests == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_consent_withdrawn_while_the_call_is_under_way_opens_a_takedown(graph):
    """The call cannot be stopped once begun: the channel is recorded as sent, then deleted under the takedown."""
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
    # It went out (its id kept), and, the takedown being open, was deleted through the Graph API at once.
    assert _facebook(post).external_id == graph.post_ids[0]
    assert graph.deleted_posts == graph.post_ids
    assert post.status == S.TAKEN_DOWN and _facebook(post).state == C.TAKEN_DOWN
    [takedown] = post.takedowns.all()
    # Opened by the withdrawal itself, the call being under way then (channels.may_be_online).
    assert takedown.status == Takedown.Status.REMOVED and "Consent was withdrawn" in takedown.reason


def test_the_sweep_queues_a_lost_send_again_and_settles_a_stopped_one(
    author, admin, graph, django_capture_on_commit_callbacks
):
    now = timezone.now()
    lost, stopped, fresh = (_approved(author, admin) for _ in range(3))
    Post.objects.filter(pk__in=[lost.pk, stopped.pk, fresh.pk]).update(status=S.PUBLISHING)
    sending = {"state": C.SENDING, "done_by": admin}
    PostChannel.objects.filter(post=lost).update(**sending, send_requested_at=now - timedelta(minutes=3))
    PostChannel.objects.filter(post=stopped).update(
        **sending,
        send_requested_at=now - timedelta(hours=1),
        send_started_at=now - channels.CALL_GIVEN_UP_AFTER - timedelta(seconds=1),
    )
    PostChannel.objects.filter(post=fresh).update(**sending, send_requested_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.posts_sweep(now)["sending_resumed"] == 2
    assert len(graph.to("feed")) == 1  # the lost one only: the stopped one is not sent again
    assert Post.objects.get(pk=lost.pk).status == S.PUBLISHED and _facebook(lost).state == C.SENT
    assert _facebook(stopped).error == channels.UNCERTAIN.format(channel="Facebook Page")
    assert _facebook(stopped).state == C.FAILED and Post.objects.get(pk=stopped.pk).status == S.APPROVED
    assert Post.objects.get(pk=fresh.pk).status == S.PUBLISHING  # its task may yet run
    assert _facebook(fresh).state == C.SENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_row_is_locked_while_facebook_is_called(graph):
    """Invariant: no network call while a database row is locked. While Facebook is answering, another
    connection can lock the post and its channel at once (NOWAIT) and sees the send recorded as begun."""
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
                delivery = PostChannel.objects.select_for_update(nowait=True).get(post=post)
                seen.append((row.status, delivery.state, delivery.send_started_at is not None))
        except Exception as exc:  # noqa: BLE001 - any failure to lock is what the test reports
            seen.append(exc)
        finally:
            thread_connection.close()

    graph.on_request = try_lock
    posts.post_publish(post=post, by=admin, adapter_name="facebook")  # commits, then the eager task sends it
    assert seen == [(S.PUBLISHING, C.SENDING, True)]
    assert Post.objects.get(pk=post.pk).status == S.PUBLISHED


# --- which channels FiG Safety sends --------------------------------------------------------------------------
# A channel is sent by FiG Safety when its sender is configured at approval; any other is published by hand.


@pytest.mark.parametrize("missing", ["FIG_META_PAGE_ID", "FIG_META_PAGE_TOKEN"])
def test_facebook_is_neither_offered_nor_usable_when_not_configured(author, admin, graph, settings, missing):
    setattr(settings, missing, "")
    assert sender_for("facebook") is None
    post = _approved(author, admin)
    assert _facebook(post).by_hand
    with pytest.raises(PostError, match=NOTHING_TO_SEND):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    _assert_still_approved(post)
    assert graph.requests == []


def test_facebook_is_offered_when_configured(author, admin, graph):
    assert isinstance(sender_for("facebook"), FacebookSender)
    assert not _facebook(_approved(author, admin)).by_hand


@pytest.mark.parametrize("chosen", [["website"], ["instagram", "x"]])
def test_facebook_is_neither_offered_nor_used_for_a_post_not_meant_for_the_page(author, admin, page_only, chosen):
    post = _approved(author, admin, channels=chosen)
    assert [(d.channel, d.by_hand) for d in post.deliveries.all()] == [(c, True) for c in chosen]
    with pytest.raises(PostError, match=NOTHING_TO_SEND):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    assert page_only.requests == []  # not a byte went to Facebook
    _assert_still_approved(post)


def test_facebook_is_offered_for_a_post_meant_for_the_page_among_others(author, admin, graph, publish):
    post = _approved(author, admin, channels=["website", "facebook"])
    assert {d.channel: d.by_hand for d in post.deliveries.all()} == {"website": True, "facebook": False}
    post = publish(post, admin)
    assert graph.problems == [] and len(graph.to("feed")) == 1
    # Out on the Page; the website is published by hand, and the post is published once it is recorded.
    assert post.status == S.PARTLY_PUBLISHED
    website = post.deliveries.get(channel="website")
    assert (_facebook(post).state, website.state) == (C.SENT, C.WAITING)
    channels.delivery_record(delivery=website, url="https://www.fig.org.uk/news/picnic", by=admin)
    assert Post.objects.get(pk=post.pk).status == S.PUBLISHED
    assert len(graph.to("feed")) == 1


def test_the_post_page_offers_to_send_only_a_post_meant_for_the_page(client, author, admin, graph):
    for_page, elsewhere = _approved(author, admin), _approved(author, admin, channels=["website"])
    client.force_login(admin)
    page = client.get(reverse("social:post", args=[for_page.pk])).content.decode()
    assert "Send now to Facebook Page" in page and "Publish on Facebook Page by hand" not in page
    page = client.get(reverse("social:post", args=[elsewhere.pk])).content.decode()
    assert "Send now" not in page and "Publish on FiG website by hand" in page
    response = client.post(reverse("social:post_publish", args=[elsewhere.pk]))
    assert response.status_code == 400 and NOTHING_TO_SEND in response.content.decode()
    assert graph.requests == []
    _assert_still_approved(elsewhere)


def test_a_channel_without_a_sender_is_published_by_hand_whatever_is_configured(author, admin, graph):
    """Only Facebook, Instagram and X have senders: the website and LinkedIn are always published by hand,
    and so is any name FiG Safety does not know."""
    for channel in ("website", "linkedin", "myspace"):
        assert sender_for(channel) is None
    post = _approved(author, admin, channels=["website", "linkedin"])
    assert [(d.channel, d.by_hand) for d in post.deliveries.all()] == [("website", True), ("linkedin", True)]
    with pytest.raises(PostError, match=NOTHING_TO_SEND):
        posts.post_publish(post=post, by=admin, adapter_name="myspace")
    _assert_still_approved(post)
    assert graph.requests == []
