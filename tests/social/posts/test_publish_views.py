"""Getting an approved post out, channel by channel, through the pages (issue 16): the post page's channels,
"Send now" (and sending again, once someone has looked, a channel whose last call may have gone out),
publishing by hand (the text, the approved photo downloaded at full size and logged, the link recorded), the
single-use address Instagram fetches a photo from, taking a post down channel by channel from the takedowns
page, and the lists that show each channel's state, with their pinned queries.

Personas: anonymous people, the author (writes posts, no administrator role), a member of staff who writes
posts and did not write this one, a social media administrator (the reviewer), another administrator, the
parent of the child pictured, and a parent of another family.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from fig_safety.vault import vault_read
from photos.models import Photo, PhotoAccess
from social.models import PhotoOnlineHold, Post, PostChannel, PublishImageLink, Takedown
from social.posts import channels, image_links
from social.posts import services as posts
from social.posts.channels import UNCERTAIN
from staff.models import AuditEvent, User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import bulk_photos, consented_child, ready_photo
from tests.photos.images import astronaut
from tests.query_counts import STAFF_REQUEST_QUERIES
from tests.social.fake_x import x_api

TEXT = "Thank you to everyone who came to the family craft afternoon this week."
FACEBOOK_URL = "https://www.facebook.com/figcharity/posts/123456"
WEBSITE_URL = "https://www.fig.example.org/news/craft-afternoon"
ALL_TICKED = dict.fromkeys(posts.CHECKLIST, True)
State = PostChannel.State


# --- personas and a small world -----------------------------------------------------------------


@pytest.fixture
def author(db):
    return factories.staff_user("staff", "post_writer", email="author@example.org", full_name="Alex Author")


@pytest.fixture
def writer(db):
    """Writes posts too, but did not write these."""
    return factories.staff_user("staff", "post_writer", email="writer@example.org", full_name="Wren Writer")


@pytest.fixture
def reviewer(db):
    return factories.staff_user("social_admin", email="reviewer@example.org", full_name="Rae Reviewer")


@dataclass
class World:
    parent: User  # holds parental responsibility for the child in the photos
    other_parent: User
    photo: Photo  # the child, consented to everything: published as taken
    blurred: Photo  # a face; its child consented online but not to a recognisable face: published blurred
    approved: Post  # Facebook Page and the website, both by hand here (nothing configured), with both photos
    draft: Post


def _draft(author: User, photos=(), channels=("facebook", "website"), text: str = TEXT) -> Post:
    return posts.post_save_draft(
        author=author, text=text, channels=list(channels), scheduled_for=None, photos=list(photos)
    )


def _approved(author: User, reviewer: User, photos=(), channels=("facebook", "website"), text: str = TEXT) -> Post:
    post = _draft(author, photos, channels, text)
    posts.post_submit(post=post, by=author)
    return posts.post_approve(post=post, by=reviewer, checklist=ALL_TICKED, dismissals={})


@pytest.fixture
def world(author, reviewer) -> World:
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    family, child, carer = consented_child()
    photo = ready_photo(family, [child], photographer)
    unrecognisable = cf.ChildFactory(family=family)
    cf.give(unrecognisable, carer, cf.all_answers(face_online=False))
    blurred = ready_photo(family, [unrecognisable], photographer, data=astronaut())
    assert blurred.unidentifiable_blob, "the astronaut's face was found and blurred"
    Photo.objects.filter(pk=blurred.pk).update(marked_unidentifiable=True)
    blurred.refresh_from_db()
    _, _, other_carer = consented_child()
    approved = _approved(author, reviewer, [photo, blurred])
    assert approved.photo_versions == {str(photo.pk): "original", str(blurred.pk): "unidentifiable"}
    return World(
        parent=factories.parent_user(email=carer.email),
        other_parent=factories.parent_user(email=other_carer.email),
        photo=photo,
        blurred=blurred,
        approved=approved,
        draft=_draft(author, [photo]),
    )


def _record_url(post: Post, channel: str) -> str:
    return reverse("social:post_channel_record", args=[post.pk, channel])


def _down_url(post: Post, channel: str) -> str:
    return reverse("social:post_channel_taken_down", args=[post.pk, channel])


def _download_url(post: Post, photo: Photo) -> str:
    return reverse("social:post_photo_download", args=[post.pk, photo.public_id])


def _record(client, post: Post, channel: str, url: str, published_at: str = ""):
    return client.post(_record_url(post, channel), {f"{channel}-url": url, f"{channel}-published_at": published_at})


def _states(post: Post) -> dict[str, str]:
    return dict(post.deliveries.values_list("channel", "state"))


def snapshot() -> dict:
    """Everything the publishing pages could change."""
    return {
        "posts": list(Post.objects.order_by("pk").values_list("status", "published_url", "published_at")),
        "channels": list(PostChannel.objects.order_by("pk").values_list("state", "url", "sent_at", "taken_down_at")),
        "takedowns": list(Takedown.objects.order_by("pk").values_list("status", "removed_at")),
        "links": list(PublishImageLink.objects.order_by("pk").values_list("used_at", flat=True)),
        "audit": AuditEvent.objects.count(),
        "accesses": PhotoAccess.objects.count(),
        "mail": len(mail.outbox),
    }


# --- who may use the new pages ------------------------------------------------------------------------


def _targets(w: World) -> dict[str, tuple[str, str, dict]]:
    """Each new page: (method, url, a body that would change something if allowed)."""
    return {
        "post_publish": ("post", reverse("social:post_publish", args=[w.approved.pk]), {}),
        "post_channel_record": (
            "post",
            _record_url(w.approved, "facebook"),
            {"facebook-url": FACEBOOK_URL},
        ),
        "post_channel_taken_down": ("post", _down_url(w.approved, "facebook"), {}),
        "post_photo_download": ("get", _download_url(w.approved, w.photo), {}),
    }


NEW_PAGES = ["post_publish", "post_channel_record", "post_channel_taken_down", "post_photo_download"]


def _call(client, w: World, name: str):
    method, url, body = _targets(w)[name]
    return client.post(url, body) if method == "post" else client.get(url)


@pytest.mark.django_db
@pytest.mark.parametrize("name", NEW_PAGES)
def test_it_sends_anonymous_people_to_sign_in(client, world, name):
    before = snapshot()
    response = _call(client, world, name)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", NEW_PAGES)
@pytest.mark.parametrize("who", ["parent", "author", "writer", "coordinator"])
def test_it_refuses_everyone_but_the_social_media_administrators(
    client, world, writer, author, coordinator, name, who, django_capture_on_commit_callbacks
):
    person = {"parent": world.parent, "author": author, "writer": writer, "coordinator": coordinator}[who]
    client.force_login(person)
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _call(client, world, name)
    assert response.status_code == 403, (name, who)
    assert callbacks == [] and snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("post_publish", ["get"]),
        ("post_channel_record", ["get"]),
        ("post_channel_taken_down", ["get"]),
        ("post_photo_download", ["post", "head", "put"]),  # not HEAD: every read writes an access-log row
    ],
)
def test_it_refuses_the_wrong_http_method(client, world, reviewer, name, wrong):
    client.force_login(reviewer)
    _method, url, _body = _targets(world)[name]
    before = snapshot()
    for method in wrong:
        assert getattr(client, method)(url).status_code == 405, method
    assert snapshot() == before


@pytest.mark.django_db
def test_it_answers_404_for_a_channel_the_post_does_not_go_to_or_a_post_not_approved(client, world, reviewer):
    client.force_login(reviewer)
    before = snapshot()
    assert _record(client, world.approved, "instagram", FACEBOOK_URL).status_code == 404
    assert client.post(_down_url(world.approved, "linkedin")).status_code == 404
    assert _record(client, world.draft, "facebook", FACEBOOK_URL).status_code == 404  # a draft has no channels
    assert _record(client, Post(pk=999_999), "facebook", FACEBOOK_URL).status_code == 404
    assert snapshot() == before


# --- the post page -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_offers_each_channel_by_hand_with_its_text_photos_and_link_form(client, world, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("social:post", args=[world.approved.pk]))
    body = response.content.decode()

    assert response.status_code == 200
    assert [d.channel for d in response.context["deliveries"]] == ["facebook", "website"]
    publishing = response.context["publishing"]
    assert publishing["send"] == [] and publishing["uncertain"] == []
    assert [d.channel for d, _form, _problems in publishing["by_hand"]] == ["facebook", "website"]
    for channel, label in (("facebook", "Facebook Page"), ("website", "FiG website")):
        assert f"Publish on {label} by hand" in body
        # The text in a read-only box (copied by hand without JavaScript), and the button the script shows.
        assert f'<textarea class="copy-text" id="copy-{channel}" rows="5" readonly>{TEXT}</textarea>' in body
        assert f'data-copy="copy-{channel}"' in body
        assert _record_url(world.approved, channel) in body
        assert f'name="{channel}-url"' in body and f'name="{channel}-published_at"' in body
    for photo in (world.photo, world.blurred):
        assert body.count(_download_url(world.approved, photo)) == 2  # once for each channel
    assert "blurred, every face hidden, full size" in body and "as taken, full size" in body
    assert "js/post_publish.js" in body
    # The old single form that recorded one link for the whole post is gone.
    assert 'name="adapter"' not in body
    assert response.context["channels"] == ["Facebook Page", "FiG website"]


@pytest.mark.django_db
def test_the_author_sees_the_channels_but_no_way_to_publish(client, world, author):
    client.force_login(author)
    response = client.get(reverse("social:post", args=[world.approved.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "To publish by hand" in body  # each channel's state
    assert "publishing" not in response.context
    assert _record_url(world.approved, "facebook") not in body and "copy-facebook" not in body
    assert _download_url(world.approved, world.photo) not in body


@pytest.mark.django_db
def test_recording_each_channel_by_hand_makes_the_post_partly_published_then_published(
    client, world, reviewer, author, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _record(client, world.approved, "facebook", FACEBOOK_URL, "")
    assert response.status_code == 302
    assert response["Location"] == reverse("social:post", args=[world.approved.pk]) + "#channels"
    world.approved.refresh_from_db()
    assert world.approved.status == Post.Status.PARTLY_PUBLISHED
    assert _states(world.approved) == {"facebook": State.RECORDED, "website": State.WAITING}
    facebook = world.approved.deliveries.get(channel="facebook")
    assert (facebook.url, facebook.done_by) == (FACEBOOK_URL, reviewer)

    page = client.get(reverse("social:post", args=[world.approved.pk]))
    body = page.content.decode()
    assert "Recorded on Facebook Page." in body
    assert "Partly published" in body
    assert [d.channel for d, _f, _p in page.context["publishing"]["by_hand"]] == ["website"]
    assert f'href="{FACEBOOK_URL}"' in body

    when = timezone.localtime(timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    with django_capture_on_commit_callbacks(execute=True):
        _record(client, world.approved, "website", WEBSITE_URL, when)
    world.approved.refresh_from_db()
    assert world.approved.status == Post.Status.PUBLISHED
    assert _states(world.approved) == {"facebook": State.RECORDED, "website": State.RECORDED}
    website = world.approved.deliveries.get(channel="website")
    assert timezone.localtime(website.sent_at).strftime("%Y-%m-%dT%H:%M") == when
    body = client.get(reverse("social:post", args=[world.approved.pk])).content.decode()
    assert "It is out on every channel now, so it is published" in body
    assert "Record<span" not in body  # nothing left to record
    assert [m.subject for m in mail.outbox if author.email in m.to][-1] == "Your post is published"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "published_at", "says"),
    [
        ("", "", "Paste the link to the post on the platform."),
        ("not a link", "", "Enter the full link, starting https://"),
        (FACEBOOK_URL, "2999-01-01T10:00", "The time it went out cannot be in the future."),
    ],
)
def test_a_link_that_will_not_do_records_nothing_and_says_why(client, world, reviewer, url, published_at, says):
    client.force_login(reviewer)
    before = snapshot()
    response = _record(client, world.approved, "facebook", url, published_at)
    assert response.status_code == 400
    body = response.content.decode()
    assert says in body
    assert 'href="#record-facebook"' in body  # the error summary leads to the channel's form
    assert snapshot() == before


@pytest.mark.django_db
def test_a_photo_held_since_approval_records_nothing_and_sends_the_post_back(
    client, world, reviewer, django_capture_on_commit_callbacks
):
    """A parent asked FiG not to use a photo online after approval: consent is checked again as it is recorded."""
    PhotoOnlineHold.objects.create(
        photo=world.photo, child=world.photo.tags.get().child, post=world.approved, requested_by=world.parent
    )
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _record(client, world.approved, "facebook", FACEBOOK_URL)
    assert response.status_code == 302
    world.approved.refresh_from_db()
    assert world.approved.status == Post.Status.CHANGES_REQUESTED
    assert not world.approved.deliveries.filter(state__in=[State.RECORDED, State.SENT]).exists()
    body = client.get(response["Location"]).content.decode()
    assert "so the post was not published and went back to its author" in body
    assert "publishing" not in client.get(reverse("social:post", args=[world.approved.pk])).context


# --- sending through a platform (the fake X API) ------------------------------------------------------------


@pytest.fixture
def fake_x(settings):
    with x_api(settings) as fake:
        yield fake


@pytest.fixture
def x_post(world, author, reviewer, fake_x) -> Post:
    """For X (sent by FiG Safety, configured before approval) and the website (by hand), with the photo."""
    post = _approved(author, reviewer, [world.photo], channels=("x", "website"))
    assert dict(post.deliveries.values_list("channel", "by_hand")) == {"x": False, "website": True}
    return post


@pytest.mark.django_db
def test_send_now_sends_the_channels_fig_safety_can_send_and_leaves_the_rest_by_hand(
    client, world, reviewer, x_post, fake_x, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    page = client.get(reverse("social:post", args=[x_post.pk]))
    assert [d.channel for d in page.context["publishing"]["send"]] == ["x"]
    assert "Send now to X (Twitter)" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("social:post_publish", args=[x_post.pk]))
    assert response.status_code == 302
    assert fake_x.problems == []
    [(post_id, sent)] = fake_x.posts.items()
    assert sent["text"] == TEXT and len(sent["media_ids"]) == 1
    # The photo X got is the approved image, byte for byte.
    [(_type, data)] = fake_x.media.values()
    assert data == vault_read(name=world.photo.original_blob, key_id=world.photo.original_key_id)
    x_post.refresh_from_db()
    assert x_post.status == Post.Status.PARTLY_PUBLISHED
    assert _states(x_post) == {"x": State.SENT, "website": State.WAITING}
    assert x_post.deliveries.get(channel="x").external_id == post_id

    body = client.get(reverse("social:post", args=[x_post.pk])).content.decode()
    assert "Send now to" not in body  # nothing left for FiG Safety to send
    assert "Publish on FiG website by hand" in body
    assert "Sent it on X (Twitter)" in body  # the history says where


@pytest.mark.django_db
def test_send_now_with_nothing_fig_safety_can_send_says_so(client, world, reviewer):
    client.force_login(reviewer)
    before = snapshot()
    response = client.post(reverse("social:post_publish", args=[world.approved.pk]))
    assert response.status_code == 400
    assert "Nothing in this post can be sent from here" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_a_channel_that_may_have_gone_out_is_sent_again_only_once_someone_has_looked(
    client, reviewer, x_post, fake_x, django_capture_on_commit_callbacks
):
    x_post.deliveries.filter(channel="x").update(
        state=State.FAILED, progress={"uncertain": True}, error=UNCERTAIN.format(channel="X (Twitter)")
    )
    client.force_login(reviewer)
    page = client.get(reverse("social:post", args=[x_post.pk]))
    body = page.content.decode()
    assert "May have gone out — check" in body
    assert "The call to X (Twitter) began but never answered" in body
    assert page.context["publishing"]["send"] == []
    assert [d.channel for d in page.context["publishing"]["uncertain"]] == ["x"]
    assert [d.channel for d, _f, _p in page.context["publishing"]["by_hand"]] == ["x", "website"]  # or record it

    url = reverse("social:post_publish", args=[x_post.pk])
    with django_capture_on_commit_callbacks(execute=True):
        plain = client.post(url)
        unconfirmed = client.post(url, {"resend_uncertain": "1"})
    assert plain.status_code == 400 and "Nothing was sent: it may already be on X (Twitter)." in plain.content.decode()
    assert unconfirmed.status_code == 400 and "Look on the platform first" in unconfirmed.content.decode()
    assert fake_x.posts == {} and x_post.deliveries.get(channel="x").state == State.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"resend_uncertain": "1", "checked": "on"})
    assert len(fake_x.posts) == 1 and fake_x.problems == []
    assert x_post.deliveries.get(channel="x").state == State.SENT


@pytest.mark.django_db
def test_a_failed_send_shows_why_on_its_channel(client, reviewer, x_post, fake_x, django_capture_on_commit_callbacks):
    fake_x.fail_on("tweet", status=403, detail="You are not allowed to create a Tweet with duplicate content.")
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("social:post_publish", args=[x_post.pk]))
    assert x_post.deliveries.get(channel="x").state == State.FAILED
    response = client.get(reverse("social:post", args=[x_post.pk]))
    body = response.content.decode()
    assert (
        '<p class="channel-error">X refused the post (403: You are not allowed to create a Tweet with duplicate content.)'
        in body
    )
    assert "Failed</span>" in body and "May have gone out" not in body
    # A channel that failed for sure can be sent again, or published by hand.
    assert [d.channel for d in response.context["publishing"]["send"]] == ["x"]
    assert "Or publish on X (Twitter) by hand" in body


# --- downloading the approved photo -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("which", "version"), [("photo", "original"), ("blurred", "unidentifiable")])
def test_the_download_is_the_approved_image_at_full_size_and_is_logged(client, world, reviewer, which, version):
    photo = getattr(world, which)
    client.force_login(reviewer)
    response = client.get(_download_url(world.approved, photo))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith('attachment; filename="fig-post-')
    assert response["Cache-Control"] == "private, no-store"
    blob = (photo.unidentifiable_blob, photo.unidentifiable_key_id) if version == "unidentifiable" else None
    blob = blob or (photo.original_blob, photo.original_key_id)
    assert response.content == vault_read(name=blob[0], key_id=blob[1])
    if version == "unidentifiable":  # never the face as taken
        assert response.content != vault_read(name=photo.original_blob, key_id=photo.original_key_id)
    [access] = PhotoAccess.objects.filter(photo=photo)
    assert (access.action, access.user) == (PhotoAccess.Action.DOWNLOAD, reviewer)


@pytest.mark.django_db
def test_the_download_is_only_for_a_photo_of_a_post_still_to_go_out(client, world, reviewer, author):
    client.force_login(reviewer)
    other = _approved(author, reviewer, [world.blurred])
    before = snapshot()
    assert client.get(_download_url(other, world.photo)).status_code == 404  # not in that post
    assert client.get(_download_url(world.draft, world.photo)).status_code == 404  # a draft
    for channel, url in (("facebook", FACEBOOK_URL), ("website", WEBSITE_URL)):
        _record(client, world.approved, channel, url)
    assert Post.objects.get(pk=world.approved.pk).status == Post.Status.PUBLISHED
    before = snapshot()
    assert client.get(_download_url(world.approved, world.photo)).status_code == 404  # out everywhere
    assert snapshot() == before


@pytest.mark.django_db
def test_a_photo_held_since_approval_is_not_downloaded(client, world, reviewer):
    child = world.photo.tags.get().child
    PhotoOnlineHold.objects.create(photo=world.photo, child=child, post=world.approved, requested_by=world.parent)
    client.force_login(reviewer)
    before = snapshot()
    response = client.get(_download_url(world.approved, world.photo), follow=True)
    assert "That photo may no longer be published as it was approved" in response.content.decode()
    assert PhotoAccess.objects.count() == before["accesses"]


# --- the single-use address Instagram fetches a photo from ---------------------------------------------------


@pytest.fixture
def instagram_post(world, author, reviewer) -> Post:
    return _approved(author, reviewer, [world.blurred], channels=("instagram",))


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


@pytest.mark.django_db
def test_the_image_address_serves_the_approved_image_once_then_nothing(client, world, instagram_post):
    url = image_links.image_link_for(instagram_post, world.blurred, "unidentifiable")
    assert _path(url).startswith("/social/publish/image/")

    first = client.get(_path(url), REMOTE_ADDR="198.51.100.23")
    again = client.get(_path(url), REMOTE_ADDR="198.51.100.23")

    assert first.status_code == 200
    assert first["Content-Type"] == "image/jpeg"
    assert first["Cache-Control"] == "no-store"
    assert "noindex" in first["X-Robots-Tag"]
    assert first.content == vault_read(
        name=world.blurred.unidentifiable_blob, key_id=world.blurred.unidentifiable_key_id
    )
    assert first.cookies == {} and "Set-Cookie" not in first
    assert again.status_code == 404 and again.content == b"Not found."
    [access] = PhotoAccess.objects.filter(photo=world.blurred)
    assert (access.action, access.user, access.ip_address) == (PhotoAccess.Action.PUBLICATION, None, "198.51.100.23")
    link = PublishImageLink.objects.get()
    assert link.used_from == "198.51.100.23" and link.used_at is not None


@pytest.mark.django_db
def test_the_image_address_serves_nothing_for_a_wrong_or_expired_token_or_another_method(client, world, instagram_post):
    url = _path(image_links.image_link_for(instagram_post, world.blurred, "unidentifiable"))
    token = url.rstrip("/").rsplit("/", 1)[1]
    wrong = reverse("social:publish_image", args=[token[:-1] + ("A" if token[-1] != "A" else "B")])
    for response in (
        client.get(wrong),
        client.get(reverse("social:publish_image", args=["x" * 200])),
        client.post(url),
        client.head(url),
    ):
        assert response.status_code in (404, 405)
        assert response.content in (b"Not found.", b"")
        assert response.cookies == {}
    assert PhotoAccess.objects.count() == 0 and PublishImageLink.objects.get().used_at is None

    PublishImageLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url).status_code == 404
    assert PhotoAccess.objects.count() == 0


@pytest.mark.django_db
def test_the_image_address_is_the_same_for_a_signed_in_person(client, world, instagram_post, reviewer):
    """It needs no sign-in, and a session gives nothing more: a used link stays used."""
    url = _path(image_links.image_link_for(instagram_post, world.blurred, "unidentifiable"))
    assert client.get(url).status_code == 200
    client.force_login(reviewer)
    assert client.get(url).status_code == 404


# --- taking a post down channel by channel --------------------------------------------------------------------


@pytest.fixture
def published(client, world, reviewer, django_capture_on_commit_callbacks) -> Post:
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _record(client, world.approved, "facebook", FACEBOOK_URL)
        _record(client, world.approved, "website", WEBSITE_URL)
    client.logout()
    world.approved.refresh_from_db()
    assert world.approved.status == Post.Status.PUBLISHED
    return world.approved


@pytest.mark.django_db
def test_the_takedowns_page_lists_each_channel_and_records_each_one_removed(
    client, world, reviewer, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        takedown = posts.parent_request_removal(post=published, user=world.parent)
    client.force_login(reviewer)
    body = client.get(reverse("social:takedowns")).content.decode()
    assert f"Where post {published.pk} is, channel by channel" in body
    assert body.count("Still up: remove it by hand") == 2
    assert _down_url(published, "facebook") in body and _down_url(published, "website") in body
    assert "Removed from Facebook Page" in body and "Removed from FiG website" in body
    assert f'href="{FACEBOOK_URL}"' in body

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_down_url(published, "facebook"))
    assert response["Location"] == reverse("social:takedowns") + f"#takedown-{takedown.pk}"
    assert _states(published) == {"facebook": State.TAKEN_DOWN, "website": State.RECORDED}
    body = client.get(reverse("social:takedowns")).content.decode()
    assert "Recorded as removed from Facebook Page." in body
    assert body.count("Still up: remove it by hand") == 1

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_down_url(published, "website"))
    published.refresh_from_db()
    takedown.refresh_from_db()
    assert published.status == Post.Status.TAKEN_DOWN
    assert takedown.status == Takedown.Status.REMOVED
    facebook = published.deliveries.get(channel="facebook")
    assert (facebook.taken_down_how, facebook.taken_down_by) == ("by_hand", reviewer)

    # It leaves the Published list, and is listed as taken down.
    listed = client.get(reverse("social:posts"), {"status": "published"}).context["rows"]
    assert published not in [row["post"] for row in listed]
    listed = client.get(reverse("social:posts"), {"status": "taken_down"}).context["rows"]
    assert [row["post"] for row in listed] == [published]


@pytest.mark.django_db
def test_a_post_down_on_one_channel_and_up_on_another_is_partly_published_not_published(
    client, world, reviewer, published, django_capture_on_commit_callbacks
):
    """The post is "published" only when every channel is sent or recorded (issue 16)."""
    with django_capture_on_commit_callbacks(execute=True):
        posts.parent_request_removal(post=published, user=world.parent)
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_down_url(published, "facebook"))
    published.refresh_from_db()
    assert published.status == Post.Status.PARTLY_PUBLISHED
    listed = client.get(reverse("social:posts"), {"status": "published"}).context["rows"]
    assert published not in [row["post"] for row in listed]


@pytest.mark.django_db
def test_a_channel_not_out_cannot_be_recorded_as_removed(client, world, reviewer):
    client.force_login(reviewer)
    before = snapshot()
    response = client.post(_down_url(world.approved, "facebook"), follow=True)
    assert "Facebook Page is waiting to be published, not published." in response.content.decode()
    assert snapshot()["channels"] == before["channels"]


@pytest.mark.django_db
def test_the_inbox_reader_who_is_not_an_administrator_sees_the_channels_but_no_buttons(
    client, world, published, ceo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        posts.parent_request_removal(post=published, user=world.parent)
    client.force_login(ceo)
    body = client.get(reverse("social:takedowns")).content.decode()
    assert f"Where post {published.pk} is, channel by channel" in body
    assert "Removed from Facebook Page" not in body and _down_url(published, "facebook") not in body


# --- the lists: each channel's state, the overdue, the parents' page ----------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_each_channels_state_and_the_partly_published_tab(
    client, world, reviewer, published, author, django_capture_on_commit_callbacks
):
    partly = _approved(author, reviewer, [world.photo])
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _record(client, partly, "website", WEBSITE_URL)
    response = client.get(reverse("social:posts"))
    body = response.content.decode()
    assert "Facebook Page: To publish by hand" in body and "FiG website: Recorded by hand" in body
    statuses = {value: count for value, _label, count in response.context["statuses"]}
    assert statuses[Post.Status.PARTLY_PUBLISHED] == 1 and statuses[Post.Status.PUBLISHED] == 1
    assert '?status=partly_published"' in body and "Partly published" in body
    only = client.get(reverse("social:posts"), {"status": "published"}).context["rows"]
    assert [row["post"] for row in only] == [published]


@pytest.mark.django_db
def test_an_approved_post_whose_time_passed_is_marked_overdue(client, world, author, reviewer):
    post = posts.post_save_draft(
        author=author,
        text=TEXT,
        channels=["website"],
        scheduled_for=timezone.now() + timedelta(hours=2),
        photos=[world.photo],
    )
    posts.post_submit(post=post, by=author)
    posts.post_approve(post=post, by=reviewer, checklist=ALL_TICKED, dismissals={})
    client.force_login(reviewer)
    rows = {row["post"].pk: row for row in client.get(reverse("social:posts")).context["rows"]}
    assert rows[post.pk]["overdue"] is False

    Post.objects.filter(pk=post.pk).update(scheduled_for=timezone.now() - timedelta(minutes=30))
    response = client.get(reverse("social:posts"))
    rows = {row["post"].pk: row for row in response.context["rows"]}
    assert rows[post.pk]["overdue"] is True and rows[world.approved.pk]["overdue"] is False
    assert '<span class="badge badge-danger">Overdue</span>' in response.content.decode()
    page = client.get(reverse("social:post", args=[post.pk]))
    assert page.context["overdue"] is True
    assert "has not gone out everywhere" in page.content.decode()


@pytest.mark.django_db
def test_the_parents_page_shows_each_channel_out_or_taken_down_with_its_date(
    client, world, reviewer, author, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _record(client, world.approved, "facebook", FACEBOOK_URL, "2026-03-02T10:00")
    client.force_login(world.parent)
    response = client.get(reverse("social:parent_posts"))
    body = response.content.decode()
    [card] = response.context["cards"]
    assert [d.channel for d in card.deliveries] == ["facebook"]  # the website has not had it yet
    assert "Posted 2 March 2026" in body
    assert "Facebook Page</strong>: posted 2 March 2026" in body and "still there" in body
    assert "FiG website" not in body

    facebook = world.approved.deliveries.get(channel="facebook")
    channels.delivery_taken_down_by_hand(delivery=facebook, by=reviewer)
    taken = timezone.localtime(PostChannel.objects.get(pk=facebook.pk).taken_down_at)
    client.force_login(world.parent)
    body = client.get(reverse("social:parent_posts")).content.decode()
    assert f"taken down</span> {taken.day} {taken:%B %Y}" in body
    assert "still there" not in body

    client.force_login(world.other_parent)
    assert client.get(reverse("social:parent_posts")).context["cards"] == []


# --- pinned queries -----------------------------------------------------------------------------------------


def _bulk_approved(author: User, photos: list[Photo], count: int) -> None:
    now = timezone.now()
    made = Post.objects.bulk_create(
        [
            Post(
                author=author,
                text=f"Post number {i}",
                channels=["facebook", "x", "website"],
                status=Post.Status.PARTLY_PUBLISHED if i % 2 else Post.Status.APPROVED,
                scheduled_for=now - timedelta(hours=1),
                updated_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        ]
    )
    PostChannel.objects.bulk_create(
        [
            PostChannel(post=post, channel=channel, by_hand=channel == "website", state=state)
            for post in made
            for channel, state in (("facebook", State.SENT), ("x", State.FAILED), ("website", State.WAITING))
        ]
    )
    Post.photos.through.objects.bulk_create(
        [Post.photos.through(post_id=post.pk, photo_id=photo.pk) for post in made for photo in photos]
    )


def _bulk_submitted(author: User, photos: list[Photo], count: int) -> None:
    now = timezone.now()
    made = Post.objects.bulk_create(
        [
            Post(
                author=author,
                text=f"Post number {i}",
                channels=["instagram"],
                status=Post.Status.SUBMITTED,
                submitted_at=now - timedelta(minutes=i),
                updated_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        ]
    )
    Post.photos.through.objects.bulk_create(
        [Post.photos.through(post_id=post.pk, photo_id=photo.pk) for post in made for photo in photos]
    )
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action="post.submitted",
                target_type="social.post",
                target_id=str(post.pk),
                details={"findings": ["religious", "contact"][: i % 3]},
            )
            for i, post in enumerate(made)
        ]
    )


@pytest.fixture
def some_photos(author) -> list[Photo]:
    family, child, _ = consented_child()
    return bulk_photos(family, [child], author, 3)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 60])
def test_it_lists_posts_with_their_channels_in_a_fixed_number_of_queries(
    client, reviewer, author, some_photos, count, django_assert_num_queries
):
    _bulk_approved(author, some_photos, count)
    client.force_login(reviewer)
    client.get(reverse("social:posts"))  # the first request creates the usersession row
    # The signed-in staff request's own queries, then: the count of each status (the paginator's count too),
    # one page of posts with their authors and photo counts, and the channels of the posts on the page.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 3):
        response = client.get(reverse("social:posts"))
    rows = response.context["rows"]
    assert len(rows) == min(count, 25)
    assert all([d.channel for d in row["deliveries"]] == ["facebook", "x", "website"] for row in rows)
    assert all(row["overdue"] for row in rows)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 60])
def test_it_lists_the_review_queue_with_thumbnails_and_findings_in_a_fixed_number_of_queries(
    client, reviewer, author, some_photos, count, django_assert_num_queries
):
    _bulk_submitted(author, some_photos, count)
    client.force_login(reviewer)
    client.get(reverse("social:review_queue"))
    # The staff request's queries, the paginator's count, one page of posts with authors and photo counts, the
    # first photo of each, and what the checks found when each was sent for review.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 4):
        response = client.get(reverse("social:review_queue"))
    rows = response.context["rows"]
    assert len(rows) == min(count, 50)
    first = min(some_photos, key=lambda p: (p.uploaded_at, p.pk))
    assert {row["thumbnail"] for row in rows} == {first}
    assert all(row["findings"] == int(row["post"].text.rsplit(" ", 1)[1]) % 3 for row in rows)
    body = response.content.decode()
    assert reverse("social:post_photo_thumbnail", args=[first.public_id]) + "?version=original" in body
    assert "1 finding<" in body and "2 findings<" in body and "No findings" in body
