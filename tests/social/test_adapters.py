"""Publication adapters: the manual one, and the Facebook Page one against a fake Graph API on loopback.

Whatever goes wrong on the way to the platform, nothing is marked as published.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fig_safety.vault import vault_read
from social import posts
from social.adapters import PublishError, available_adapters, get_adapter
from social.models import Post
from social.posts import CHECKLIST, PostError
from staff.models import AuditEvent, User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo
from tests.social.fake_graph import FakeGraph

TEXT = "What a wonderful summer picnic! Thank you to all our volunteers."
LINK = "https://www.facebook.com/fig/posts/123"


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def graph(settings):
    """The fake Graph API, with the adapter configured to use it."""
    with FakeGraph(page_id="1234567890", token="page-token-for-tests") as fake:
        settings.FIG_GRAPH_API_URL = fake.base_url
        settings.FIG_META_PAGE_ID = fake.page_id
        settings.FIG_META_PAGE_TOKEN = fake.token
        settings.FIG_GRAPH_TIMEOUT = 5
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


def test_it_publishes_a_text_post_on_the_facebook_page(author, admin, graph):
    post = _approved(author, admin)
    posts.post_publish(post=post, by=admin, adapter_name="facebook")

    assert graph.problems == []
    [request] = graph.requests
    assert (request.method, request.path, request.endpoint) == ("POST", "/v21.0/1234567890/feed", "feed")
    assert request.fields == {"message": TEXT, "access_token": "page-token-for-tests"}

    post.refresh_from_db()
    [post_id] = graph.post_ids
    assert (post.status, post.external_id, post.published_url, post.adapter, post.published_by) == (
        Post.Status.PUBLISHED,
        post_id,
        f"https://www.facebook.com/{post_id}",
        "facebook",
        admin,
    )
    assert post.published_at is not None
    assert AuditEvent.objects.get(action="post.published").details == {
        "adapter": "facebook",
        "url": f"https://www.facebook.com/{post_id}",
    }


def test_it_uploads_each_photo_unpublished_then_posts_with_them_attached(author, admin, graph, photos):
    post = _approved(author, admin, photos=photos)
    posts.post_publish(post=post, by=admin, adapter_name="facebook")

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

    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED and post.external_id == graph.post_ids[0]


@pytest.mark.parametrize("endpoint", ["feed", "photos"])
def test_an_api_error_publishes_nothing(author, admin, graph, photos, endpoint):
    graph.fail_on(endpoint, status=400, message="(#200) The user hasn't authorized the application")
    post = _approved(author, admin, photos=photos[:1])
    with pytest.raises(PostError, match=r"Facebook refused the post \(400: \(#200\) The user hasn't authorized"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    _assert_still_approved(post)
    assert graph.problems == []
    if endpoint == "photos":
        assert graph.to("feed") == []  # it stops at the first refusal


def test_an_error_in_a_successful_looking_answer_publishes_nothing(author, admin, graph):
    graph.fail_on("feed", status=200, message="Please retry your request later.")
    post = _approved(author, admin)
    with pytest.raises(PostError, match="Please retry your request later"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    _assert_still_approved(post)


def test_a_timeout_publishes_nothing(author, admin, graph, settings):
    settings.FIG_GRAPH_TIMEOUT = 1
    graph.sleep_on("feed", 2)
    post = _approved(author, admin)
    started = time.monotonic()
    with pytest.raises(PostError, match="did not answer in time"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    assert time.monotonic() - started < 1.9  # it gave up at the timeout, not when the fake answered
    assert len(graph.to("feed")) == 1
    _assert_still_approved(post)


def test_the_fake_graph_refuses_a_wrong_token(author, admin, graph, settings):
    """The fake's checks bite: a request it would not accept fails, and says why."""
    settings.FIG_META_PAGE_TOKEN = "someone-elses-token"
    post = _approved(author, admin)
    with pytest.raises(PostError, match="Facebook refused the post"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    assert graph.problems == ["POST /v21.0/1234567890/feed: missing or wrong access_token"]
    _assert_still_approved(post)


def test_a_server_that_is_not_there_publishes_nothing(author, admin, graph, settings):
    settings.FIG_GRAPH_API_URL = "http://127.0.0.1:9/v21.0"  # the discard port: nothing listens
    post = _approved(author, admin)
    with pytest.raises(PostError, match="did not answer"):
        posts.post_publish(post=post, by=admin, adapter_name="facebook")
    _assert_still_approved(post)


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


def test_facebook_is_offered_for_a_post_meant_for_the_page_among_others(author, admin, graph):
    post = _approved(author, admin, channels=["website", "facebook"])
    assert [a.name for a in available_adapters(post)] == ["manual", "facebook"]
    posts.post_publish(post=post, by=admin, adapter_name="facebook")
    assert graph.problems == [] and len(graph.to("feed")) == 1
    assert Post.objects.get(pk=post.pk).status == Post.Status.PUBLISHED


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
