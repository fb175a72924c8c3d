"""Publishing on Instagram and deleting a Page post through the Graph API client, against the fake Graph API.

The fake fetches each container's photo itself, as Meta does, from a small HTTP server each test starts on
127.0.0.1; it checks every request as Meta documents it, and refuses what Meta would refuse (an image it
cannot fetch or that is not a JPEG, a container not ready or already published, a post already deleted).
No database is needed: the client never touches it.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest

from social import graph
from social.graph import REFUSED, TIMEOUT, UNREACHABLE, GraphError
from tests.social.fake_graph import FakeGraph, page_graph

JPEG = b"\xff\xd8\xff\xe0" + b"photo bytes" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"png bytes" * 10
FORM = "application/x-www-form-urlencoded"
CAPTION = "Our summer picnic: thank you to every volunteer!"


class ImageServer:
    """A tiny web server on loopback that serves photos for the fake to fetch, and records each GET."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, str, bytes]] = {}
        self.hits: list[tuple[str, dict[str, str]]] = []  # (path with query, headers)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append((self.path, dict(self.headers)))
                status, content_type, body = server.files.get(urllib.parse.urlsplit(self.path).path, (404, "", b""))
                self.send_response(status)
                self.send_header("Content-Type", content_type or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def add(self, path: str, body: bytes = JPEG, content_type: str = "image/jpeg", status: int = 200) -> str:
        self.files[path] = (status, content_type, body)
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake(settings) -> Iterator[FakeGraph]:
    with page_graph(settings) as fake:
        yield fake


@pytest.fixture
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.stop()


def _query(request) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(request.query, keep_blank_values=True)


def _eventually(condition: Callable[[], bool], seconds: float = 4) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the fake never got there"
        time.sleep(0.05)


# --- one photo: container, status, publish, permalink ---------------------------------------------------------


def test_it_publishes_a_photo_container_and_reads_its_permalink(fake, images):
    url = images.add("/media/post-7/photo-1.jpg") + "?signature=abc"
    ig = f"/v21.0/{fake.ig_account_id}"

    container_id = graph.instagram_create_container(url, CAPTION)
    status = graph.instagram_container_status(container_id)
    media_id = graph.instagram_publish(container_id)
    permalink = graph.instagram_permalink(media_id)

    assert fake.problems == [] and fake.refusals == []
    assert [(r.method, r.path, r.endpoint, r.fields) for r in fake.requests] == [
        ("POST", f"{ig}/media", "media", {"image_url": url, "caption": CAPTION, "access_token": fake.token}),
        ("GET", f"/v21.0/{container_id}", "container", {"fields": "status_code", "access_token": fake.token}),
        ("POST", f"{ig}/media_publish", "media_publish", {"creation_id": container_id, "access_token": fake.token}),
        ("GET", f"/v21.0/{media_id}", "permalink", {"fields": "permalink", "access_token": fake.token}),
    ]
    assert [r.content_type for r in fake.requests] == [FORM, "", FORM, ""]
    assert status == "FINISHED"
    assert [container_id] == list(fake.containers) and fake.media_ids == [media_id] != [container_id]
    assert permalink == fake.permalinks[media_id]
    assert permalink.startswith("https://www.instagram.com/p/") and permalink.endswith("/")
    assert graph.instagram_container_status(container_id) == "PUBLISHED"


def test_the_fake_fetches_the_image_once_itself_without_the_token(fake, images):
    url = images.add("/media/photo.jpg")

    graph.instagram_create_container(url, CAPTION)

    [(path, headers)] = images.hits
    assert path == "/media/photo.jpg"
    assert "Authorization" not in headers and fake.token not in path
    [fetch] = fake.image_fetches
    assert (fetch.url, fetch.status, fetch.content_type, fetch.length, fetch.error) == (
        url,
        200,
        "image/jpeg",
        len(JPEG),
        "",
    )
    assert fetch.data == JPEG


def test_get_calls_carry_the_token_and_fields_in_the_query_string_and_no_body(fake, images):
    container_id = graph.instagram_create_container(images.add("/photo.jpg"))
    graph.instagram_container_status(container_id)
    graph.instagram_permalink(graph.instagram_publish(container_id))

    gets = [r for r in fake.requests if r.method == "GET"]
    assert [_query(r) for r in gets] == [
        {"fields": ["status_code"], "access_token": [fake.token]},
        {"fields": ["permalink"], "access_token": [fake.token]},
    ]
    assert all(r.content_type == "" for r in gets)  # no body, where the fake would list one as a problem
    posts = [r for r in fake.requests if r.method == "POST"]
    assert all(r.query == "" and r.fields["access_token"] == fake.token for r in posts)
    assert fake.problems == []


def test_a_container_without_a_caption_sends_none(fake, images):
    graph.instagram_create_container(images.add("/photo.jpg"))

    [request] = fake.to("media")
    assert request.fields == {"image_url": images.add("/photo.jpg"), "access_token": fake.token}
    assert fake.problems == []


# --- images Meta cannot use -------------------------------------------------------------------------------------


def test_an_image_address_that_fails_surfaces_metas_error(fake, images):
    url = images.add("/media/expired.jpg", status=404)

    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container(url, CAPTION)

    assert (caught.value.kind, caught.value.status) == (REFUSED, 400)
    assert caught.value.detail == "Media download has failed. Only photo or video can be accepted as media type."
    assert not caught.value.may_have_succeeded
    assert [hit[0] for hit in images.hits] == ["/media/expired.jpg"]
    [fetch] = fake.image_fetches
    assert (fetch.status, fetch.length, fetch.error) == (404, 0, "HTTP 404")
    assert fake.containers == {} and fake.problems == [] and len(fake.refusals) == 1


def test_an_image_address_nothing_answers_on_is_refused(fake, images):
    url = images.add("/photo.jpg")
    images.stop()

    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container(url)

    assert caught.value.detail.startswith("Media download has failed.")
    [fetch] = fake.image_fetches
    assert fetch.status is None and fetch.error
    assert fake.containers == {}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(PNG, "image/png"), (JPEG, "application/octet-stream"), (b"<html>Not found</html>", "image/jpeg")],
)
def test_anything_but_a_jpeg_is_refused(fake, images, body, content_type):
    url = images.add("/photo", body, content_type)

    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container(url)

    assert caught.value.kind == REFUSED
    assert (
        caught.value.detail == "The image format is not supported. Only photo or video can be accepted as media type."
    )
    [fetch] = fake.image_fetches
    assert (fetch.status, fetch.content_type, fetch.length) == (200, content_type, len(body))
    assert fake.containers == {} and fake.problems == []


def test_the_fake_fetches_only_from_loopback(fake):
    """The fake's own check: a test must never send it to fetch from the internet."""
    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container("https://example.org/photo.jpg")

    assert caught.value.status == 400 and "not an http(s) address on loopback" in caught.value.detail
    assert fake.image_fetches == [] and len(fake.problems) == 1


def test_a_caption_longer_than_instagram_takes_is_refused(fake, images):
    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container(images.add("/photo.jpg"), "x" * 2201)

    assert caught.value.kind == REFUSED and "Caption too long" in caught.value.detail
    assert fake.containers == {} and images.hits == []


# --- carousels ---------------------------------------------------------------------------------------------------


def test_it_publishes_a_carousel_of_photos(fake, images):
    urls = [images.add(f"/media/photo-{n}.jpg") for n in (1, 2, 3)]
    ig = f"/v21.0/{fake.ig_account_id}/media"

    children = [graph.instagram_create_container(url, carousel_item=True) for url in urls]
    carousel_id = graph.instagram_create_carousel(children, CAPTION)
    media_id = graph.instagram_publish(carousel_id)

    assert fake.problems == [] and fake.refusals == []
    assert [(r.path, r.fields) for r in fake.to("media")] == [
        *[(ig, {"image_url": url, "is_carousel_item": "true", "access_token": fake.token}) for url in urls],
        (
            ig,
            {"media_type": "CAROUSEL", "children": ",".join(children), "caption": CAPTION, "access_token": fake.token},
        ),
    ]
    assert [fetch.url for fetch in fake.image_fetches] == urls
    assert [hit[0] for hit in images.hits] == ["/media/photo-1.jpg", "/media/photo-2.jpg", "/media/photo-3.jpg"]
    carousel = fake.containers[carousel_id]
    assert (carousel.kind, carousel.children, carousel.caption) == ("carousel", children, CAPTION)
    assert [fake.containers[child].kind for child in children] == ["carousel_item"] * 3
    assert fake.media_ids == [media_id]
    assert graph.instagram_permalink(media_id) == fake.permalinks[media_id]


@pytest.mark.parametrize("count", [0, 1, 11])
def test_a_carousel_of_fewer_than_two_or_more_than_ten_calls_nothing(fake, count):
    with pytest.raises(ValueError, match="2 to 10"):
        graph.instagram_create_carousel([f"179{n}" for n in range(count)], CAPTION)

    assert fake.requests == []


def test_a_carousel_item_with_a_caption_is_a_programming_error(fake, images):
    with pytest.raises(ValueError, match="caption"):
        graph.instagram_create_container(images.add("/photo.jpg"), CAPTION, carousel_item=True)

    assert fake.requests == [] and images.hits == []


def test_the_fake_refuses_a_carousel_of_containers_it_did_not_make_as_items(fake, images):
    single = graph.instagram_create_container(images.add("/photo.jpg"), CAPTION)

    with pytest.raises(GraphError) as caught:
        graph.instagram_create_carousel([single, "17900000000000999"], CAPTION)

    assert caught.value.status == 400
    assert len(fake.problems) == 2
    assert f"child '{single}' is not a carousel item" in fake.problems[0]
    assert "'17900000000000999' is not a carousel item" in fake.problems[1]


def test_the_fake_refuses_publishing_a_carousel_item_on_its_own(fake, images):
    child = graph.instagram_create_container(images.add("/photo.jpg"), carousel_item=True)

    with pytest.raises(GraphError):
        graph.instagram_publish(child)

    assert fake.media_ids == [] and "published in its carousel" in fake.problems[0]


# --- the container's status, and publishing once ------------------------------------------------------------


def test_a_container_is_published_once_its_status_is_finished(fake, images):
    fake.container_status_sequence = ["IN_PROGRESS", "FINISHED"]
    container_id = graph.instagram_create_container(images.add("/photo.jpg"), CAPTION)

    with pytest.raises(GraphError) as too_soon:
        graph.instagram_publish(container_id)
    first = graph.instagram_container_status(container_id)
    with pytest.raises(GraphError):
        graph.instagram_publish(container_id)  # it last said IN_PROGRESS
    second = graph.instagram_container_status(container_id)
    media_id = graph.instagram_publish(container_id)

    assert (too_soon.value.kind, too_soon.value.status) == (REFUSED, 400)
    assert too_soon.value.detail == "Media Not Ready For Publishing: Media ID is not available"
    assert (first, second) == ("IN_PROGRESS", "FINISHED")
    assert fake.media_ids == [media_id] and len(fake.refusals) == 2 and fake.problems == []
    assert [graph.instagram_container_status(container_id) for _ in range(2)] == ["PUBLISHED", "PUBLISHED"]


@pytest.mark.parametrize("status", ["ERROR", "EXPIRED"])
def test_a_container_that_failed_or_expired_is_not_published(fake, images, status):
    fake.container_status_sequence = [status]
    container_id = graph.instagram_create_container(images.add("/photo.jpg"))

    assert graph.instagram_container_status(container_id) == status
    with pytest.raises(GraphError) as caught:
        graph.instagram_publish(container_id)

    assert caught.value.kind == REFUSED and "Media ID is not available" in caught.value.detail
    assert fake.media_ids == []


def test_publishing_a_container_twice_is_refused(fake, images):
    container_id = graph.instagram_create_container(images.add("/photo.jpg"), CAPTION)
    media_id = graph.instagram_publish(container_id)

    with pytest.raises(GraphError) as caught:
        graph.instagram_publish(container_id)

    assert (caught.value.kind, caught.value.status) == (REFUSED, 400)
    assert caught.value.detail == "The media has already been published. Media ID is not available"
    assert fake.media_ids == [media_id] and fake.problems == []


def test_the_fake_refuses_ids_it_never_gave(fake):
    with pytest.raises(GraphError):
        graph.instagram_publish("17900000000000404")
    with pytest.raises(GraphError):
        graph.instagram_container_status("17900000000000404")
    with pytest.raises(GraphError):
        graph.instagram_permalink("17800000000000404")

    assert len(fake.problems) == 3 and all("this server made" in p for p in fake.problems)


# --- answers without what was asked for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        (lambda: graph.instagram_create_container("http://127.0.0.1/p.jpg"), {}),
        (lambda: graph.instagram_create_carousel(["1", "2"], CAPTION), {"id": ""}),
        (lambda: graph.instagram_container_status("1"), {"id": "1"}),
        (lambda: graph.instagram_publish("1"), {"id": None}),
        (lambda: graph.instagram_permalink("1"), {"id": "1"}),
        (lambda: graph.instagram_permalink("1"), {"permalink": True}),
        (lambda: graph.delete_page_post("1234567890_1"), {}),
    ],
)
def test_an_answer_without_what_was_asked_for_is_an_error_not_an_empty_string(fake, call, answer):
    with mock.patch.object(graph, "call", return_value=answer), pytest.raises(GraphError) as caught:
        call()

    assert caught.value.kind == UNREACHABLE and not caught.value.may_have_succeeded


def test_metas_refusal_to_give_a_permalink_is_raised(fake, images):
    media_id = graph.instagram_publish(graph.instagram_create_container(images.add("/photo.jpg")))
    fake.fail_on("permalink", status=500, message="An unexpected error has occurred.", code=2)

    with pytest.raises(GraphError) as caught:
        graph.instagram_permalink(media_id)

    assert (caught.value.kind, caught.value.status, caught.value.detail) == (
        REFUSED,
        500,
        "An unexpected error has occurred.",
    )


# --- refusals and timeouts on the new endpoints ------------------------------------------------------------------


def test_metas_refusal_of_a_container_comes_before_any_fetch(fake, images):
    fake.fail_on("media", status=403, message="(#10) Application does not have permission for this action", code=10)

    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container(images.add("/photo.jpg"), CAPTION)

    assert (caught.value.kind, caught.value.status) == (REFUSED, 403)
    assert caught.value.detail == "(#10) Application does not have permission for this action"
    assert images.hits == [] and fake.image_fetches == [] and fake.containers == {}


@pytest.mark.parametrize("endpoint", ["container", "media_publish"])
def test_metas_refusal_on_the_way_to_publishing_is_raised(fake, images, endpoint):
    container_id = graph.instagram_create_container(images.add("/photo.jpg"))
    fake.fail_on(endpoint, status=400, message="(#4) Application request limit reached", code=4)

    with pytest.raises(GraphError) as caught:
        graph.instagram_container_status(container_id) if endpoint == "container" else graph.instagram_publish(
            container_id
        )

    assert caught.value.detail == "(#4) Application request limit reached"
    assert fake.media_ids == []


def test_a_container_that_times_out_may_have_been_made(fake, images, settings):
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("media", 2)

    with pytest.raises(GraphError) as caught:
        graph.instagram_create_container(images.add("/photo.jpg"), CAPTION)

    assert caught.value.kind == TIMEOUT and caught.value.may_have_succeeded
    _eventually(lambda: len(fake.containers) == 1)  # it was: Meta went on without the caller


def test_a_publish_that_times_out_may_have_published_and_the_status_says_so(fake, images, settings):
    container_id = graph.instagram_create_container(images.add("/photo.jpg"), CAPTION)
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("media_publish", 2)

    with pytest.raises(GraphError) as caught:
        graph.instagram_publish(container_id)

    assert caught.value.kind == TIMEOUT and caught.value.may_have_succeeded
    _eventually(lambda: graph.instagram_container_status(container_id) == "PUBLISHED")
    fake.sleep_on("media_publish", 0)
    with pytest.raises(GraphError) as again:
        graph.instagram_publish(container_id)
    assert again.value.kind == REFUSED and len(fake.media_ids) == 1


# --- configuration -----------------------------------------------------------------------------------------------


def test_instagram_is_configured_with_an_account_id_and_the_page_token(fake, settings):
    assert graph.instagram_configured()
    settings.FIG_INSTAGRAM_ACCOUNT_ID = ""
    assert not graph.instagram_configured()
    settings.FIG_INSTAGRAM_ACCOUNT_ID, settings.FIG_META_PAGE_TOKEN = fake.ig_account_id, ""
    assert not graph.instagram_configured()


def test_page_graph_can_leave_instagram_unconfigured(settings):
    with page_graph(settings, instagram=False) as fake:
        assert graph.page_configured() and not graph.instagram_configured()
        with pytest.raises(ValueError, match="FIG_INSTAGRAM_ACCOUNT_ID"):
            graph.instagram_create_container("http://127.0.0.1/photo.jpg")
        assert fake.requests == []


# --- deleting a Page post ----------------------------------------------------------------------------------------


def test_it_deletes_a_post_it_published_on_the_page(fake):
    post_id = graph.publish_on_page("Summer picnic", [])

    graph.delete_page_post(post_id)

    assert fake.problems == [] and fake.refusals == []
    request = fake.requests[-1]
    assert (request.method, request.path, request.endpoint, request.content_type) == (
        "DELETE",
        f"/v21.0/{post_id}",
        "post",
        "",
    )
    assert _query(request) == {"access_token": [fake.token]}
    assert fake.deleted_posts == [post_id]


def test_deleting_a_post_already_deleted_is_refused(fake):
    post_id = graph.publish_on_page("Summer picnic", [])
    graph.delete_page_post(post_id)

    with pytest.raises(GraphError) as caught:
        graph.delete_page_post(post_id)

    assert (caught.value.kind, caught.value.status) == (REFUSED, 400)
    assert f"Object with ID '{post_id}' does not exist" in caught.value.detail
    assert fake.deleted_posts == [post_id] and fake.problems == []


def test_the_fake_refuses_to_delete_a_post_it_never_made(fake):
    with pytest.raises(GraphError) as caught:
        graph.delete_page_post(f"{fake.page_id}_999")

    assert caught.value.status == 400
    assert fake.deleted_posts == [] and "not a post this server created" in fake.problems[0]


@pytest.mark.parametrize(
    "post_id", ["17870913679156914", "999_1", "1234567890", "1234567890_", "1234567890_1/comments", ""]
)
def test_only_a_post_on_the_page_is_deleted(fake, post_id):
    with pytest.raises(ValueError, match="not a post on the Page"):
        graph.delete_page_post(post_id)

    assert fake.requests == []


def test_a_deletion_that_times_out_may_have_happened(fake, settings):
    post_id = graph.publish_on_page("Summer picnic", [])
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("post", 2)

    with pytest.raises(GraphError) as caught:
        graph.delete_page_post(post_id)

    assert caught.value.kind == TIMEOUT and caught.value.may_have_succeeded
    _eventually(lambda: fake.deleted_posts == [post_id])


def test_metas_refusal_to_delete_a_post_is_raised(fake):
    post_id = graph.publish_on_page("Summer picnic", [])
    fake.fail_on("post", status=403, message="(#200) Permissions error", code=200)

    with pytest.raises(GraphError) as caught:
        graph.delete_page_post(post_id)

    assert (caught.value.kind, caught.value.status, caught.value.detail) == (REFUSED, 403, "(#200) Permissions error")
    assert fake.deleted_posts == []
