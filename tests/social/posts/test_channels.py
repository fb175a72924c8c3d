"""Each channel of an approved post in its own state (issue 16), through the services, against the fake Graph API
and the fake X API on loopback, which record every request: sent at its time and not before, cancelled when
consent or the post is withdrawn, Instagram fetching its photo once from a single-use address, X uploading then
posting, one channel failing while another goes out, a crash after the platform answered never posting twice,
taking a post down channel by channel, channels published by hand, and no row locked during any call.

Most posts here are scheduled and sent by the beat (channels.send_due), the path every scheduled post takes.

Personas: an author (staff), a social media administrator, a coordinator who uploads the photos, and the parent
of the pictured child.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from consents import hooks
from consents.models import Carer, Child, Purpose
from fig_safety.vault import vault_read
from photos.models import Photo, PhotoAccess
from photos.selectors import ORIGINAL, UNIDENTIFIABLE
from photos.services import photo_confirm_unidentifiable, photo_process, photo_upload
from social.inbox import services as inbox_services
from social.models import Post, PostChannel, PublishImageLink, Takedown
from social.posts import channels
from social.posts import services as posts
from social.posts.adapters import InstagramSender
from social.posts.selectors import LIVE_ONLINE
from social.posts.services import CHECKLIST, PostError
from staff.models import AuditEvent, User
from staff.notifications import deliver_outbox
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo
from tests.photos.images import astronaut
from tests.social.fake_graph import page_graph
from tests.social.fake_x import x_api

TEXT = "What a wonderful summer picnic! Thank you to all our volunteers."
CHECKED = dict.fromkeys(CHECKLIST, True)
S, C = Post.Status, PostChannel.State
WEBSITE_LINK = "https://www.fig.org.uk/news/summer-picnic"


# --- personas and posts ------------------------------------------------------------------------------------------


@dataclass
class Pictured:
    child: Child
    carer: Carer
    photo: Photo
    parent: User  # the carer's account


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def pictured(coordinator) -> Pictured:
    """A child whose carer agreed to everything and a READY photo of them."""
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    cf.give(child, carer)
    return Pictured(child, carer, ready_photo(family, [child], coordinator), factories.parent_user(email=carer.email))


@pytest.fixture
def graph(settings):
    with page_graph(settings) as fake:
        yield fake


@pytest.fixture
def x(settings):
    with x_api(settings) as fake:
        yield fake


@pytest.fixture
def without_cascade():
    """Consent changes the post cascade does not see, as if it had missed them."""
    saved = list(hooks._handlers)
    hooks.unregister_withdrawal_handler(posts.posts_on_consent_withdrawn)
    yield
    hooks._handlers[:] = saved


def _approved(author: User, admin: User, *, chosen: list[str], photos=(), scheduled_for=None) -> Post:
    post = posts.post_save_draft(
        author=author, text=TEXT, channels=chosen, scheduled_for=scheduled_for, photos=list(photos)
    )
    posts.post_submit(post=post, by=author)
    return posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})


def _scheduled(author: User, admin: User, *, chosen: list[str], photos=()) -> tuple[Post, datetime]:
    """Approved, for an hour from now; and a minute past that time, when the beat sends it."""
    at = timezone.now() + timedelta(hours=1)
    return _approved(author, admin, chosen=chosen, photos=photos, scheduled_for=at), at + timedelta(minutes=1)


def _fresh(post: Post) -> Post:
    return Post.objects.get(pk=post.pk)


def _channel(post: Post, channel: str) -> PostChannel:
    return PostChannel.objects.get(post=post, channel=channel)


def _states(post: Post) -> dict[str, str]:
    return dict(PostChannel.objects.filter(post=post).values_list("channel", "state"))


def _vault_bytes(photo: Photo, version: str = ORIGINAL) -> bytes:
    if version == UNIDENTIFIABLE:
        return vault_read(name=photo.unidentifiable_blob, key_id=photo.unidentifiable_key_id)
    return vault_read(name=photo.original_blob, key_id=photo.original_key_id)


def _clear_mail() -> None:
    deliver_outbox()
    mail.outbox.clear()


def _mail() -> list[tuple[str, list[str]]]:
    return [(m.subject, m.to) for m in mail.outbox]


def _endpoints(fake) -> list[str]:
    return [r.endpoint for r in fake.requests]


def _get(url: str) -> tuple[int, bytes]:
    """A plain GET, as a platform's fetcher makes it: the status and the body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _container_id(graph) -> str:
    [made] = graph.containers
    return made


def _call_state(row: PostChannel) -> str:
    """A channel's state, and whether a call to its platform is marked as begun."""
    if row.state == C.SENDING:
        return "sending, call begun" if row.send_started_at else "sending, queued"
    if row.state == C.SENT and row.takedown_requested_at:
        return "sent, deletion begun" if row.takedown_started_at else "sent, deletion queued"
    return row.state


# --- at its time, and not before ----------------------------------------------------------------------------------


def test_a_scheduled_post_is_sent_at_its_time_and_not_before(
    author, admin, pictured, graph, x, django_capture_on_commit_callbacks
):
    at = timezone.now() + timedelta(hours=2)
    post = _approved(author, admin, chosen=["facebook", "x"], photos=[pictured.photo], scheduled_for=at)
    # Approved before its time: it stays scheduled, and nothing is called.
    assert (_fresh(post).status, _states(post)) == (S.APPROVED, {"facebook": C.SCHEDULED, "x": C.SCHEDULED})

    for before in (timezone.now(), at - timedelta(minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert channels.send_due(before) == 0
            assert posts.posts_sweep(before)["sent_at_their_time"] == 0
    assert graph.requests == [] and x.requests == []
    assert _states(post) == {"facebook": C.SCHEDULED, "x": C.SCHEDULED}

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.posts_sweep(at + timedelta(minutes=1)) == {
            "expired": 0,
            "sent_at_their_time": 2,
            "sending_resumed": 0,
            "deletes_resumed": 0,
        }
    assert _endpoints(graph) == ["photos", "feed"] and _endpoints(x) == ["upload", "tweet"]
    assert graph.problems == [] and x.problems == []
    post = _fresh(post)
    assert post.status == S.PUBLISHED and _states(post) == {"facebook": C.SENT, "x": C.SENT}
    assert AuditEvent.objects.filter(action="post.sent_at_its_time", target_id=str(post.pk)).count() == 1

    # The beat comes again a minute later: nothing goes out twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert posts.posts_sweep(at + timedelta(minutes=2))["sent_at_their_time"] == 0
    assert len(graph.to("feed")) == 1 and len(x.to("tweet")) == 1


def test_a_time_passed_longer_ago_than_the_late_limit_is_not_sent_but_overdue(
    author, admin, graph, settings, django_capture_on_commit_callbacks
):
    at = timezone.now() + timedelta(hours=1)
    post = _approved(author, admin, chosen=["facebook"], scheduled_for=at)
    too_late = at + timedelta(minutes=settings.FIG_PUBLISH_LATE_MINUTES, seconds=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert channels.send_due(too_late) == 0
        assert posts.posts_sweep(too_late)["sent_at_their_time"] == 0
    assert graph.requests == []
    post = _fresh(post)
    assert post.status == S.APPROVED and _states(post) == {"facebook": C.SCHEDULED}
    deliveries = list(post.deliveries.all())
    assert channels.overdue(post, deliveries, too_late)
    assert not channels.overdue(post, deliveries, at - timedelta(minutes=1))

    # Just inside the limit it would still have gone.
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.send_due(too_late - timedelta(seconds=2)) == 1
    assert len(graph.to("feed")) == 1 and _fresh(post).status == S.PUBLISHED


def test_consent_withdrawn_before_the_time_cancels_the_post(
    author, admin, pictured, graph, x, django_capture_on_commit_callbacks
):
    post, due = _scheduled(author, admin, chosen=["facebook", "x", "website"], photos=[pictured.photo])
    _clear_mail()

    with django_capture_on_commit_callbacks(execute=True):
        cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    post = _fresh(post)
    assert post.status == S.CHANGES_REQUESTED and "withdrew consent" in post.review_note
    assert _states(post) == {"facebook": C.CANCELLED, "x": C.CANCELLED, "website": C.CANCELLED}
    assert ("Your post needs changes", [author.email]) in _mail()

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.posts_sweep(due)["sent_at_their_time"] == 0
    assert graph.requests == [] and x.requests == []
    assert _fresh(post).status == S.CHANGES_REQUESTED


def test_consent_withdrawn_after_the_send_was_queued_sends_nothing(
    author, admin, pictured, graph, x, django_capture_on_commit_callbacks
):
    """The beat queued the channels; consent goes before the tasks run: they find nothing to send."""
    post, due = _scheduled(author, admin, chosen=["facebook", "x"], photos=[pictured.photo])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert channels.send_due(due) == 2
    assert _fresh(post).status == S.PUBLISHING and len(queued) == 2

    cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()  # the send tasks, as the worker runs them
    assert graph.requests == [] and x.requests == []
    post = _fresh(post)
    assert post.status == S.CHANGES_REQUESTED and _states(post) == {"facebook": C.CANCELLED, "x": C.CANCELLED}


def test_withdrawal_cancels_every_channel(author, admin, graph, x, django_capture_on_commit_callbacks):
    post, due = _scheduled(author, admin, chosen=["facebook", "instagram", "x", "website", "linkedin"])
    assert _states(post) == {
        "facebook": C.SCHEDULED,
        "instagram": C.SCHEDULED,
        "x": C.SCHEDULED,
        "website": C.WAITING,  # no adapter: by hand, whatever the time
        "linkedin": C.WAITING,
    }

    posts.post_withdraw(post=post, by=author, reason="The picnic was cancelled.")
    post = _fresh(post)
    assert post.status == S.WITHDRAWN
    assert set(_states(post).values()) == {C.CANCELLED}
    assert not post.takedowns.exists()  # nothing had gone out

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.posts_sweep(due)["sent_at_their_time"] == 0
    assert graph.requests == [] and x.requests == []


def test_withdrawing_a_partly_published_post_takes_down_what_went_out(
    author, admin, graph, x, django_capture_on_commit_callbacks
):
    post, due = _scheduled(author, admin, chosen=["facebook", "x", "website"])
    x.fail_on("tweet", status=503, detail="Service Unavailable")
    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(due)
    assert _states(post) == {"facebook": C.SENT, "x": C.FAILED, "website": C.WAITING}

    with django_capture_on_commit_callbacks(execute=True):
        posts.post_withdraw(post=post, by=admin, reason="Wrong date in the text.")
    post = _fresh(post)
    assert post.status == S.WITHDRAWN
    assert (_channel(post, "facebook").state, _channel(post, "website").state) == (C.TAKEN_DOWN, C.CANCELLED)
    assert graph.deleted_posts == graph.post_ids and x.deleted == []
    [takedown] = post.takedowns.all()
    assert (takedown.status, takedown.how) == (Takedown.Status.REMOVED, Takedown.How.DELETED)


def test_withdrawal_cancels_a_channel_that_had_failed(author, admin, x, django_capture_on_commit_callbacks):
    post, due = _scheduled(author, admin, chosen=["x"])
    x.fail_on("tweet", status=403, detail="Forbidden")
    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(due)
    assert _states(post) == {"x": C.FAILED}

    posts.post_withdraw(post=post, by=author, reason="Not needed after all.")
    assert _fresh(post).status == S.WITHDRAWN
    assert _states(post) == {"x": C.CANCELLED}


# --- X --------------------------------------------------------------------------------------------------------


def test_x_uploads_the_photo_then_posts_with_it(author, admin, pictured, x, django_capture_on_commit_callbacks):
    post, due = _scheduled(author, admin, chosen=["x"], photos=[pictured.photo])

    with django_capture_on_commit_callbacks(execute=True):
        assert channels.send_due(due) == 1

    assert x.problems == []
    upload, tweet = x.requests
    assert (upload.method, upload.path, tweet.method, tweet.path) == ("POST", "/2/media/upload", "POST", "/2/tweets")
    assert upload.fields == {"media_category": "tweet_image", "media_type": "image/jpeg"}
    assert upload.files["media"][1:] == ("image/jpeg", _vault_bytes(pictured.photo))
    [media_id] = x.media
    assert tweet.json == {"text": TEXT, "media": {"media_ids": [media_id]}}
    [post_id] = x.posts
    delivery = _channel(post, "x")
    assert (delivery.state, delivery.external_id, delivery.url, delivery.progress) == (
        C.SENT,
        post_id,
        f"https://x.com/i/web/status/{post_id}",
        {"media": [media_id]},
    )
    assert _fresh(post).status == S.PUBLISHED


def test_x_refuses_a_text_too_long_for_it_before_calling(author, admin, x, django_capture_on_commit_callbacks):
    long = "Picnic! " * 40  # 320 characters
    post = posts.post_save_draft(
        author=author, text=long, channels=["x"], scheduled_for=timezone.now() + timedelta(hours=1), photos=[]
    )
    posts.post_submit(post=post, by=author)
    posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})
    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(post.scheduled_for + timedelta(minutes=1))
    assert x.requests == []
    delivery = _channel(post, "x")
    assert delivery.state == C.FAILED and "X takes 280" in delivery.error


# --- one channel fails, another goes out ----------------------------------------------------------------------


def test_one_channel_failing_leaves_the_post_partly_published(
    author, admin, pictured, graph, x, django_capture_on_commit_callbacks
):
    post, due = _scheduled(author, admin, chosen=["facebook", "x"], photos=[pictured.photo])
    x.fail_on("tweet", status=403, detail="You are not allowed to create a Tweet with duplicate content.")

    with django_capture_on_commit_callbacks(execute=True):
        assert channels.send_due(due) == 2

    facebook, on_x = _channel(post, "facebook"), _channel(post, "x")
    assert (facebook.state, facebook.external_id, facebook.error) == (C.SENT, graph.post_ids[0], "")
    assert (on_x.state, on_x.external_id, on_x.sent_at) == (C.FAILED, "", None)
    assert on_x.error == (
        "X refused the post (403: You are not allowed to create a Tweet with duplicate content.). "
        "Nothing was published."
    )
    assert on_x.progress == {"media": list(x.media)}  # the photo X has, kept; no "uncertain": X said no
    post = _fresh(post)
    assert post.status == S.PARTLY_PUBLISHED and post.published_at is None
    assert (len(graph.to("feed")), len(x.to("upload")), len(x.to("tweet"))) == (1, 1, 1)
    assert graph.problems == [] and x.problems == []


def test_send_now_sends_the_failed_channel_again_and_only_it(
    author, admin, pictured, graph, x, django_capture_on_commit_callbacks
):
    post, due = _scheduled(author, admin, chosen=["facebook", "x"], photos=[pictured.photo])
    x.fail_on("tweet", status=403, detail="You are not allowed to create a Tweet with duplicate content.")
    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(due)
    assert _states(post) == {"facebook": C.SENT, "x": C.FAILED}

    del x._failures["tweet"]  # X takes it now (FakeX has no call to undo fail_on)
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.post_send_now(post=post, by=admin) == 1  # X only: Facebook is out

    assert (len(graph.to("photos")), len(graph.to("feed"))) == (1, 1)
    assert (len(x.to("upload")), len(x.to("tweet"))) == (1, 2)  # the photo X already had is reused
    assert x.to("tweet")[1].json["media"] == {"media_ids": list(x.media)}
    assert _states(post) == {"facebook": C.SENT, "x": C.SENT}
    assert _fresh(post).status == S.PUBLISHED
    assert graph.problems == [] and x.problems == []


def test_send_now_sends_every_channel_not_out_yet_whatever_its_time(
    author, admin, graph, x, django_capture_on_commit_callbacks
):
    post, _due = _scheduled(author, admin, chosen=["facebook", "x", "website"])
    x.fail_on("tweet", status=403, detail="Forbidden")
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.post_send_now(post=post, by=admin) == 2  # not the website: that is by hand
    assert (len(graph.to("feed")), len(x.to("tweet"))) == (1, 1)
    assert _states(post) == {"facebook": C.SENT, "x": C.FAILED, "website": C.WAITING}
    # The administrator who sent it hears that X failed.
    assert (f"Post #{post.pk} was not published on X (Twitter)", [admin.email]) in _mail()


# --- a crash after the platform answered -----------------------------------------------------------------------


@pytest.mark.parametrize("again", ["the task again", "the sweep"])
def test_a_crash_after_the_platform_answered_never_posts_twice(
    author, admin, graph, monkeypatch, django_capture_on_commit_callbacks, again
):
    post, due = _scheduled(author, admin, chosen=["facebook"])
    with django_capture_on_commit_callbacks(execute=False):
        assert channels.send_due(due) == 1  # queued; the task is run by hand below
    delivery = _channel(post, "facebook")

    real_sent, answers = channels._sent, []

    def crash_once(delivery_id: int, result):
        if not answers:
            answers.append(result)
            raise RuntimeError("the worker died after Facebook answered")
        return real_sent(delivery_id, result)

    monkeypatch.setattr(channels, "_sent", crash_once)
    with pytest.raises(RuntimeError, match="worker died"):
        channels.delivery_send(delivery_id=delivery.pk)
    assert len(graph.to("feed")) == 1 and answers[0].external_id == graph.post_ids[0]
    delivery.refresh_from_db()
    assert delivery.state == C.SENDING and delivery.send_started_at is not None and delivery.external_id == ""

    with django_capture_on_commit_callbacks(execute=True):
        if again == "the task again":
            channels.delivery_send(delivery_id=delivery.pk)  # the broker hands the task out again
        else:
            assert channels.resume_sending(timezone.now() + channels.CALL_GIVEN_UP_AFTER + timedelta(seconds=1)) == 1
    assert len(graph.to("feed")) == 1  # not sent again
    delivery.refresh_from_db()
    assert delivery.state == C.FAILED and delivery.progress.get("uncertain") is True
    assert delivery.error == channels.UNCERTAIN.format(channel="Facebook Page")

    # Neither the beat nor "send now" sends it again: someone must look at Facebook first.
    with django_capture_on_commit_callbacks(execute=True):
        assert posts.posts_sweep(due + timedelta(minutes=1))["sent_at_their_time"] == 0
        assert channels.post_send_now(post=post, by=admin) == 0
    assert len(graph.to("feed")) == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert channels.post_send_now(post=post, by=admin, resend_uncertain=True) == 1
    assert len(graph.to("feed")) == 2
    delivery.refresh_from_db()
    assert (delivery.state, delivery.external_id) == (C.SENT, graph.post_ids[1])
    assert _fresh(post).status == S.PUBLISHED


def test_a_sweep_queues_a_send_whose_task_never_started_once(author, admin, graph, django_capture_on_commit_callbacks):
    post, due = _scheduled(author, admin, chosen=["facebook"])
    with django_capture_on_commit_callbacks(execute=False):
        channels.send_due(due)  # the task is lost with the broker
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.resume_sending(due + channels.REQUEUE_AFTER - timedelta(seconds=1)) == 0
    assert graph.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.resume_sending(due + channels.REQUEUE_AFTER) == 1
    assert len(graph.to("feed")) == 1 and _channel(post, "facebook").state == C.SENT


def test_facebook_photos_uploaded_before_a_timeout_are_reused(
    author, admin, coordinator, pictured, graph, settings, django_capture_on_commit_callbacks
):
    second = ready_photo(pictured.child.family, [pictured.child], coordinator)
    post, due = _scheduled(author, admin, chosen=["facebook"], photos=[pictured.photo, second])
    settings.FIG_GRAPH_TIMEOUT = 1
    graph.sleep_on("feed", 1.5)

    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(due)
    delivery = _channel(post, "facebook")
    assert delivery.state == C.FAILED and "did not answer in time" in delivery.error
    assert delivery.progress == {"media": graph.photo_ids, "uncertain": True}
    assert [r.files["source"][2] for r in graph.to("photos")] == [_vault_bytes(pictured.photo), _vault_bytes(second)]

    graph.sleep_on("feed", 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert channels.post_send_now(post=post, by=admin, resend_uncertain=True) == 1

    assert len(graph.to("photos")) == 2  # no photo uploaded a second time
    retry = graph.to("feed")[-1]
    assert [retry.fields[f"attached_media[{i}]"] for i in range(2)] == [
        f'{{"media_fbid": "{media_id}"}}' for media_id in graph.photo_ids
    ]
    delivery.refresh_from_db()
    assert delivery.state == C.SENT and graph.problems == []


# --- by hand ---------------------------------------------------------------------------------------------------


def test_a_channel_without_an_adapter_is_recorded_by_hand_and_the_post_is_published_only_then(
    author, admin, graph, django_capture_on_commit_callbacks
):
    post, due = _scheduled(author, admin, chosen=["facebook", "website"])
    assert dict(PostChannel.objects.filter(post=post).values_list("channel", "by_hand")) == {
        "facebook": False,
        "website": True,
    }
    _clear_mail()

    with django_capture_on_commit_callbacks(execute=True):
        assert channels.send_due(due) == 1  # Facebook only
    post = _fresh(post)
    assert post.status == S.PARTLY_PUBLISHED and _states(post) == {"facebook": C.SENT, "website": C.WAITING}
    assert post.published_at is None and ("Your post is published", [author.email]) not in _mail()

    with django_capture_on_commit_callbacks(execute=True):
        channels.delivery_record(delivery=_channel(post, "website"), url=f" {WEBSITE_LINK} ", by=admin)
    website = _channel(post, "website")
    assert (website.state, website.url, website.done_by) == (C.RECORDED, WEBSITE_LINK, admin)
    post = _fresh(post)
    assert post.status == S.PUBLISHED and post.published_at is not None
    assert _mail().count(("Your post is published", [author.email])) == 1
    assert _endpoints(graph) == ["feed"]  # Facebook's post, with no photo; recording calls nothing


def test_publish_by_hand_records_the_one_channel_left_and_asks_for_each_when_several(author, admin):
    post = _approved(author, admin, chosen=["website", "linkedin"])
    with pytest.raises(PostError, match="Record the link for each channel on its own"):
        posts.post_publish(post=post, by=admin, adapter_name="manual", url=WEBSITE_LINK)
    channels.delivery_record(delivery=_channel(post, "website"), url=WEBSITE_LINK, by=admin)
    assert _fresh(post).status == S.PARTLY_PUBLISHED
    with pytest.raises(channels.ChannelError, match="FiG website is already recorded by hand"):
        channels.delivery_record(delivery=_channel(post, "website"), url=WEBSITE_LINK + "?again", by=admin)
    assert _channel(post, "website").url == WEBSITE_LINK

    post = posts.post_publish(
        post=post, by=admin, adapter_name="manual", url="https://www.linkedin.com/feed/update/urn:li:activity:1/"
    )
    assert post.status == S.PUBLISHED and _states(post) == {"website": C.RECORDED, "linkedin": C.RECORDED}


def test_recording_by_hand_checks_consent_again(author, admin, pictured, without_cascade):
    post = _approved(author, admin, chosen=["website"], photos=[pictured.photo])
    cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    with pytest.raises(PostError, match="Consent has changed since approval"):
        channels.delivery_record(delivery=_channel(post, "website"), url=WEBSITE_LINK, by=admin)
    post = _fresh(post)
    assert post.status == S.CHANGES_REQUESTED and _states(post) == {"website": C.CANCELLED}


# --- Instagram: Meta fetches the photo from a single-use address --------------------------------------------------
# The fake Graph API fetches the image itself from the live server, as Meta does.


@pytest.fixture
def site(live_server, settings) -> str:
    settings.FIG_SITE_URL = live_server.url
    return live_server.url


def _image_address_prefix(site: str) -> str:
    return site + reverse("social:publish_image", args=["TOKEN"]).split("TOKEN")[0]


def _blurred_photo(coordinator: User) -> Photo:
    """A photo of a child whose carer agreed to photos online but not to a recognisable face, with its
    unidentifiable version confirmed: a post uses that version."""
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    cf.give(child, carer, cf.all_answers(True, face_online=False))
    batch = photo_upload(
        family=family, children=[child], files=[astronaut()], no_child_identifiable=False, by=coordinator
    )
    photo = photo_process(photo_id=batch.photos.get().pk)
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    return photo


@pytest.mark.parametrize("version", [ORIGINAL, UNIDENTIFIABLE])
def test_instagram_fetches_the_approved_image_once_from_a_single_use_address(
    author, admin, coordinator, pictured, graph, site, version
):
    photo = pictured.photo if version == ORIGINAL else _blurred_photo(coordinator)
    post, due = _scheduled(author, admin, chosen=["instagram"], photos=[photo])
    assert post.photo_versions == {str(photo.pk): version}

    assert channels.send_due(due) == 1  # committed: the send task runs at once

    assert graph.problems == [] and graph.refusals == []
    assert _endpoints(graph) == ["media", "container", "media_publish", "permalink"]
    [container] = graph.to("media")
    assert set(container.fields) == {"access_token", "image_url", "caption"} and container.fields["caption"] == TEXT
    address = container.fields["image_url"]
    assert address.startswith(_image_address_prefix(site))
    [fetch] = graph.image_fetches
    assert (fetch.url, fetch.status, fetch.content_type, fetch.error) == (address, 200, "image/jpeg", "")
    assert fetch.data == _vault_bytes(photo, version)
    if version == UNIDENTIFIABLE:
        assert fetch.data != _vault_bytes(photo, ORIGINAL)  # the face the parent did not agree to stays in

    [link] = PublishImageLink.objects.all()
    assert (link.photo, link.version, link.delivery) == (photo, version, _channel(post, "instagram"))
    assert link.used_at is not None and link.used_from == "127.0.0.1"
    token = address.rstrip("/").rsplit("/", 1)[1]
    assert token not in link.token_hash  # only its hash is kept
    fetched = PhotoAccess.objects.filter(photo=photo, action=PhotoAccess.Action.PUBLICATION)
    assert fetched.count() == 1

    # Used once: the same address serves nothing now, and nor does any other token.
    assert _get(address) == (404, b"Not found.")
    assert _get(_image_address_prefix(site) + secrets.token_urlsafe(32) + "/")[0] == 404
    assert fetched.count() == 1

    [media_id] = graph.media_ids
    delivery = _channel(post, "instagram")
    assert (delivery.state, delivery.external_id, delivery.url) == (C.SENT, media_id, graph.permalinks[media_id])
    assert delivery.progress == {"container": _container_id(graph), "media_id": media_id}
    assert _fresh(post).status == S.PUBLISHED


def test_instagram_makes_a_carousel_of_several_photos_each_fetched_once(
    author, admin, coordinator, pictured, graph, site
):
    second = ready_photo(pictured.child.family, [pictured.child], coordinator)
    post, due = _scheduled(author, admin, chosen=["instagram"], photos=[pictured.photo, second])

    channels.send_due(due)

    assert graph.problems == [] and graph.refusals == []
    assert _endpoints(graph) == ["media", "media", "media", "container", "media_publish", "permalink"]
    first_item, second_item, carousel = graph.to("media")
    assert first_item.fields["is_carousel_item"] == second_item.fields["is_carousel_item"] == "true"
    assert carousel.fields["media_type"] == "CAROUSEL" and carousel.fields["caption"] == TEXT
    assert [f.data for f in graph.image_fetches] == [_vault_bytes(pictured.photo), _vault_bytes(second)]
    assert len({f.url for f in graph.image_fetches}) == 2  # an address for each photo
    assert PublishImageLink.objects.filter(used_at__isnull=False).count() == 2
    assert _channel(post, "instagram").state == C.SENT


def test_instagram_waits_for_the_container_to_be_ready_before_publishing(
    author, admin, pictured, graph, site, monkeypatch
):
    monkeypatch.setattr(InstagramSender, "READY_PAUSE", 0.01)
    graph.container_status_sequence = ["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]
    post, due = _scheduled(author, admin, chosen=["instagram"], photos=[pictured.photo])
    channels.send_due(due)
    assert _endpoints(graph) == ["media", "container", "container", "container", "media_publish", "permalink"]
    assert graph.refusals == [] and _channel(post, "instagram").state == C.SENT


def test_instagram_resent_after_a_publish_that_timed_out_does_not_say_nothing_was_published(
    author, admin, pictured, graph, site, settings
):
    post, due = _scheduled(author, admin, chosen=["instagram"], photos=[pictured.photo])
    settings.FIG_GRAPH_TIMEOUT = 1
    graph.sleep_on("media_publish", 1.5)  # Meta publishes it, but answers too late
    channels.send_due(due)
    delivery = _channel(post, "instagram")
    assert delivery.state == C.FAILED and delivery.progress == {"container": _container_id(graph), "uncertain": True}
    deadline = time.monotonic() + 5
    while not graph.media_ids and time.monotonic() < deadline:  # the fake finishes publishing after its sleep
        time.sleep(0.05)
    assert len(graph.media_ids) == 1

    graph.sleep_on("media_publish", 0)
    assert channels.post_send_now(post=post, by=admin, resend_uncertain=True) == 1  # someone looked, and resent

    assert len(graph.to("media_publish")) == 1 and len(graph.image_fetches) == 1  # not published twice
    delivery.refresh_from_db()
    assert "Nothing was published" not in delivery.error
    assert delivery.state == C.SENT or delivery.progress.get("uncertain") is True


def test_instagram_without_a_photo_is_refused_before_calling(author, admin, graph, django_capture_on_commit_callbacks):
    post, due = _scheduled(author, admin, chosen=["instagram"])
    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(due)
    assert graph.requests == []
    delivery = _channel(post, "instagram")
    assert delivery.state == C.FAILED and delivery.error.startswith("Instagram posts need a photo")


# --- taking it down --------------------------------------------------------------------------------------------


def test_a_takedown_deletes_where_the_platform_allows_and_waits_for_instagram_by_hand(
    author, admin, pictured, graph, x, site
):
    post, due = _scheduled(author, admin, chosen=["facebook", "instagram", "x"], photos=[pictured.photo])
    channels.send_due(due)
    assert _states(post) == {"facebook": C.SENT, "instagram": C.SENT, "x": C.SENT}
    assert _fresh(post).status == S.PUBLISHED
    mail.outbox.clear()
    taken_down = ("The post you asked about has been taken down", [pictured.parent.email])

    takedown = posts.parent_request_removal(post=post, user=pictured.parent)  # committed: the deletions run

    [page_post] = graph.post_ids
    [x_post] = x.posts
    assert graph.deleted_posts == [page_post] and x.deleted == [x_post]
    assert [r.path for r in graph.requests if r.method == "DELETE"] == [f"/v21.0/{page_post}"]  # not Instagram
    assert graph.problems == [] and x.problems == []
    assert _states(post) == {"facebook": C.TAKEN_DOWN, "instagram": C.SENT, "x": C.TAKEN_DOWN}
    assert {_channel(post, c).taken_down_how for c in ("facebook", "x")} == {"api"}
    assert _fresh(post).status in LIVE_ONLINE  # still up on Instagram
    takedown.refresh_from_db()
    assert takedown.status == Takedown.Status.OPEN and takedown.requested_by == pictured.parent
    assert taken_down not in _mail()

    channels.delivery_taken_down_by_hand(delivery=_channel(post, "instagram"), by=admin)

    instagram = _channel(post, "instagram")
    assert (instagram.state, instagram.taken_down_how, instagram.taken_down_by) == (C.TAKEN_DOWN, "by_hand", admin)
    assert _fresh(post).status == S.TAKEN_DOWN
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how, takedown.removed_by) == (
        Takedown.Status.REMOVED,
        Takedown.How.BY_HAND,
        admin,
    )
    assert _mail().count(taken_down) == 1

    # Down everywhere: nothing later opens a second takedown or calls a platform again.
    with pytest.raises(PostError, match="taken down, so it cannot be withdrawn"):
        posts.post_withdraw(post=post, by=author, reason="Too late now.")
    cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    assert posts.parent_request_removal(post=post, user=pictured.parent) == takedown
    assert list(Takedown.objects.filter(post=post)) == [takedown]
    assert _fresh(post).status == S.TAKEN_DOWN
    assert (len(graph.deleted_posts), len(x.deleted)) == (1, 1)
    assert _mail().count(taken_down) == 1


def test_a_takedown_recorded_by_hand_before_the_deletions_ran_deletes_nothing(
    author, admin, pictured, graph, x, django_capture_on_commit_callbacks
):
    post, due = _scheduled(author, admin, chosen=["facebook", "x"], photos=[pictured.photo])
    with django_capture_on_commit_callbacks(execute=True):
        channels.send_due(due)
    with django_capture_on_commit_callbacks(execute=False) as deletions:
        takedown = posts.parent_request_removal(post=post, user=pictured.parent)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        inbox_services.takedown_record_removal(
            takedown=takedown, how=Takedown.How.BY_HAND, notes="Removed in both apps.", by=admin
        )
    with django_capture_on_commit_callbacks(execute=True):
        for callback in deletions:
            callback()  # the delete tasks, late: the channels are down already

    assert graph.deleted_posts == [] and x.deleted == []
    assert _states(post) == {"facebook": C.TAKEN_DOWN, "x": C.TAKEN_DOWN}
    assert {_channel(post, c).taken_down_how for c in ("facebook", "x")} == {"by_hand"}
    assert _fresh(post).status == S.TAKEN_DOWN
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how) == (Takedown.Status.REMOVED, Takedown.How.BY_HAND)
    assert _mail().count(("The post you asked about has been taken down", [pictured.parent.email])) == 1


def test_instagram_cannot_be_taken_down_by_hand_twice(author, admin, pictured, graph, site):
    post, due = _scheduled(author, admin, chosen=["instagram"], photos=[pictured.photo])
    channels.send_due(due)
    posts.post_withdraw(post=post, by=admin, reason="Wrong photo.")
    [takedown] = post.takedowns.all()
    assert takedown.status == Takedown.Status.OPEN and _states(post) == {"instagram": C.SENT}

    channels.delivery_taken_down_by_hand(delivery=_channel(post, "instagram"), by=admin)
    takedown.refresh_from_db()
    assert takedown.status == Takedown.Status.REMOVED
    assert _fresh(post).status == S.WITHDRAWN  # a withdrawn post stays withdrawn
    with pytest.raises(channels.ChannelError, match="Instagram is taken down, not published"):
        channels.delivery_taken_down_by_hand(delivery=_channel(post, "instagram"), by=admin)


# --- no row locked during a call -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_no_row_is_locked_while_a_platform_is_called(author, admin, pictured, graph, x, site):
    """Invariant: no network call while a database row is locked. During every request to Facebook, Instagram
    and X, another connection can lock the post and its channels at once (NOWAIT), and sees the call recorded
    as begun."""
    assert connection.vendor == "postgresql"
    post, due = _scheduled(author, admin, chosen=["facebook", "instagram", "x"], photos=[pictured.photo])
    seen: list[tuple] = []

    def try_lock(endpoint: str) -> None:
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                Post.objects.select_for_update(nowait=True).get(pk=post.pk)
                rows = PostChannel.objects.select_for_update(nowait=True).filter(post=post).order_by("channel")
                seen.append((endpoint, {r.channel: _call_state(r) for r in rows}))
        except Exception as exc:  # noqa: BLE001 - any failure to lock is what the test reports
            seen.append((endpoint, exc))
        finally:
            thread_connection.close()

    graph.on_request = lambda request: try_lock(request.endpoint)
    answer_x = x._handle  # FakeX has no on_request hook: look in before it handles each request

    def handle_x(handler) -> None:
        try_lock(f"x {handler.command} {handler.path.split('/')[2]}")
        answer_x(handler)

    x._handle = handle_x

    channels.send_due(due)  # committed: the three send tasks run one after the other
    assert _states(post) == {"facebook": C.SENT, "instagram": C.SENT, "x": C.SENT}
    posts.post_withdraw(post=post, by=admin, reason="Wrong date in the text.")  # the deletions run
    assert _states(post) == {"facebook": C.TAKEN_DOWN, "instagram": C.SENT, "x": C.TAKEN_DOWN}

    begun, queued = "sending, call begun", "sending, queued"
    assert seen == [
        ("photos", {"facebook": begun, "instagram": queued, "x": queued}),
        ("feed", {"facebook": begun, "instagram": queued, "x": queued}),
        ("media", {"facebook": "sent", "instagram": begun, "x": queued}),
        ("container", {"facebook": "sent", "instagram": begun, "x": queued}),
        ("media_publish", {"facebook": "sent", "instagram": begun, "x": queued}),
        ("permalink", {"facebook": "sent", "instagram": begun, "x": queued}),
        ("x POST media", {"facebook": "sent", "instagram": "sent", "x": begun}),
        ("x POST tweets", {"facebook": "sent", "instagram": "sent", "x": begun}),
        ("post", {"facebook": "sent, deletion begun", "instagram": "sent", "x": "sent, deletion queued"}),
        ("x DELETE tweets", {"facebook": "taken_down", "instagram": "sent", "x": "sent, deletion begun"}),
    ]
