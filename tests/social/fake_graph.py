"""A fake Facebook Graph API on loopback for the Facebook Page and Instagram adapters' tests.

An `http.server` on 127.0.0.1 in a thread that records every request and checks it
the way the Graph API would, each with the page's access token (in the body of a POST,
in the query string of a GET or DELETE). The endpoints, by the name `fail_on`,
`sleep_on` and `to` know them by:

- "photos", "feed", "messages": POST `/<version>/<page id>/photos`, `.../feed`,
  `.../messages` (or `me/messages`). A photo upload is multipart with
  `published=false` and a JPEG in `source`; a feed post has a message and its
  `attached_media[i]` name photos this server was given; a message has a JSON
  `recipient` with an `id` or a `comment_id`, a JSON `message` with `text`, and
  `messaging_type` RESPONSE (or MESSAGE_TAG with `tag` HUMAN_AGENT).
- "comments", "replies": POST `/<version>/<comment id>/comments` or `/replies`, with a `message`.
- "comment": POST `/<version>/<comment id>` hiding it, or DELETE deleting it.
- "post": DELETE `/<version>/<page id>_<n>`, a post this server created on the feed
  (any id beginning `<page id>_` is taken for a Page post, as Meta's are); recorded in `deleted_posts`.
- "media": POST `/<version>/<instagram account id>/media`, a container. For a photo,
  `image_url` (and `caption`, or `is_carousel_item=true` with no caption): the fake
  GETs the image from that address as Meta does (loopback addresses only, such as
  Django's live_server), records the fetch in `image_fetches`, and refuses the
  container unless it got a JPEG. For a carousel, `media_type=CAROUSEL` with
  `children`, 2 to 10 carousel-item containers it made, comma-separated, and `caption`.
- "container": GET `/<version>/<container id>?fields=status_code`. Each container
  answers `container_status_sequence` in turn (FINISHED by default; for example
  ["IN_PROGRESS", "FINISHED"]), staying on the last, and PUBLISHED once published.
- "media_publish": POST `/<version>/<instagram account id>/media_publish` with a
  `creation_id` it made; the new media's id. As Meta does, it refuses a container
  whose last status was not FINISHED, and one already published.
- "permalink": GET `/<version>/<media id>?fields=permalink` for media it published:
  `https://www.instagram.com/p/<shortcode>/`.

A request that fails a check (a malformed one, or one naming an id this server never
gave) is answered 400 with a Graph-style error and listed in `problems`, so a test
asserts `graph.problems == []`. A well-formed request that Meta would refuse for the
state things are in (an image it could not fetch, a container not ready or already
published, a post already deleted) is answered as Meta would and listed in `refusals`.

It also serves files as Meta's CDN would (`add_attachment`), recorded with the
endpoint "attachment"; a page token sent there is a problem.

Usage::

    with FakeGraph(page_id="1234", token="page-token") as graph:
        settings.FIG_GRAPH_API_URL = graph.base_url
        graph.fail_on("feed", status=400, message="Invalid parameter")  # or graph.sleep_on("feed", 2)
        url = graph.add_attachment("/cdn/photo.jpg", jpeg_bytes, "image/jpeg")
"""

from __future__ import annotations

import email.parser
import email.policy
import ipaddress
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "v21.0"
JPEG_START = b"\xff\xd8\xff"
IMAGE_MAX_BYTES = 8 * 1024 * 1024  # Meta's largest photo for an Instagram container
CAPTION_MAX_CHARS = 2200  # Meta's longest Instagram caption
CONTAINER_STATUSES = {"FINISHED", "IN_PROGRESS", "ERROR", "EXPIRED", "PUBLISHED"}
# Why media_publish refuses a container, by its status (Meta's title for IN_PROGRESS; the others the fake's).
_NOT_PUBLISHABLE = {
    "IN_PROGRESS": "Media Not Ready For Publishing",
    "ERROR": "The media could not be processed.",
    "EXPIRED": "The container has expired.",
    "PUBLISHED": "The media has already been published.",
}
# The methods each endpoint takes; every other endpoint takes POST only.
_METHODS = {"comment": {"POST", "DELETE"}, "post": {"DELETE"}, "container": {"GET"}, "permalink": {"GET"}}


@dataclass
class GraphRequest:
    """One request as the fake received it."""

    method: str
    path: str
    endpoint: str  # a name from the module docstring, "attachment", or "" for anything else
    content_type: str
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name -> (filename, type, bytes)
    query: str = ""  # the query string as it came


@dataclass
class ImageFetch:
    """The fake's own GET of an `image_url`, as Meta fetches a photo for an Instagram container."""

    url: str
    status: int | None  # None: no answer at all
    content_type: str
    length: int
    error: str = ""
    data: bytes = field(default=b"", repr=False)


@dataclass
class Container:
    """An Instagram media container this fake made."""

    id: str
    kind: str  # "photo", "carousel_item" or "carousel"
    caption: str = ""
    image_url: str = ""
    children: list[str] = field(default_factory=list)
    polls: int = 0  # status requests answered so far
    media_id: str = ""  # once published


class FakeGraph:
    def __init__(
        self, *, page_id: str = "1234567890", token: str = "fake-page-token", ig_account_id: str = "17841400000000001"
    ) -> None:
        self.page_id, self.token, self.ig_account_id = page_id, token, ig_account_id
        self.requests: list[GraphRequest] = []
        self.problems: list[str] = []
        self.photo_ids: list[str] = []
        self.post_ids: list[str] = []
        self.message_ids: list[str] = []
        self.next_message_id: str | None = None  # answer the next message with this id (an echo that came first)
        self.comment_ids: list[str] = []  # replies made on /comments and /replies, in order
        self.refusals: list[str] = []  # well-formed requests refused as Meta would, for the state things were in
        self.deleted_posts: list[str] = []
        self.containers: dict[str, Container] = {}  # by id, in the order made
        self.media_ids: list[str] = []  # Instagram media published, in order
        self.permalinks: dict[str, str] = {}  # media id -> its address on instagram.com
        self.image_fetches: list[ImageFetch] = []
        self.container_status_sequence: list[str] = ["FINISHED"]  # what each container answers, poll by poll
        self.image_fetch_timeout = 3.0  # seconds; under page_graph's FIG_GRAPH_TIMEOUT, so a slow image is refused
        self.on_request: Callable[[GraphRequest], None] | None = None  # run in the server's thread before answering
        self._failures: dict[str, tuple[int, dict]] = {}
        self._sleeps: dict[str, float] = {}
        self._files: dict[str, tuple[int, dict[str, str], bytes]] = {}  # path -> (status, headers, body)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what the test tells it -------------------------------------------------

    def fail_on(self, endpoint: str, *, status: int = 400, message: str = "Invalid parameter", code: int = 100) -> None:
        """Answer requests to `endpoint` (a name from the module docstring, or "attachment") with a Graph API
        error, before doing anything (a "media" container so refused fetches no image)."""
        self._failures[endpoint] = (
            status,
            {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FakeTrace"}},
        )

    def sleep_on(self, endpoint: str, seconds: float) -> None:
        """Wait `seconds` before answering requests to `endpoint`, to run past the client's timeout."""
        self._sleeps[endpoint] = seconds

    def add_attachment(self, path: str, data: bytes, content_type: str, *, declare_length: bool = True) -> str:
        """Serve `data` on GET `path` (as Meta's CDN serves a message's attachment); its full URL.
        Without `declare_length` the answer has no Content-Length and ends when the connection closes."""
        headers = {"Content-Type": content_type}
        if declare_length:
            headers["Content-Length"] = str(len(data))
        self._files[path] = (200, headers, data)
        return self._origin + path

    def add_redirect(self, path: str, location: str) -> str:
        """Answer GET `path` with a 302 to `location`; its full URL."""
        self._files[path] = (302, {"Location": location, "Content-Length": "0"}, b"")
        return self._origin + path

    # --- lifecycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What FIG_GRAPH_API_URL should be set to."""
        return f"{self._origin}/{VERSION}"

    @property
    def _origin(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGraph:
        graph = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                graph._handle(self)

            def do_GET(self) -> None:
                graph._handle(self)

            def do_DELETE(self) -> None:
                graph._handle(self)

            def log_message(self, format: str, *args) -> None:  # quiet in the test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-graph", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the server side ----------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        if handler.command == "GET" and parsed.path in self._files:
            return self._serve_file(handler, parsed)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        request = GraphRequest(
            method=handler.command, path=parsed.path, endpoint="", content_type=content_type, query=parsed.query
        )
        problems: list[str] = []
        try:
            request.fields, request.files = _parse_body(content_type, body)
            if handler.command in {"GET", "DELETE"}:  # their fields are in the query string, as the client sends them
                if body:
                    problems.append(f"a {handler.command} with a body; its fields belong in the query string")
                request.fields = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
            elif parsed.query:
                problems.append(f"the query string carries data ({parsed.query!r}); the adapter sends a body")
        except ValueError as exc:
            problems.append(f"unreadable body: {exc}")

        request.endpoint = self._node_endpoint(handler.command, parsed.path, request.fields) or self._endpoint(
            parsed.path
        )
        if not request.endpoint:
            prefix, ig = f"/{VERSION}/{self.page_id}/", f"/{VERSION}/{self.ig_account_id}/"
            problems.append(
                f"unexpected path {parsed.path!r} (wanted {prefix}photos, {prefix}feed, {prefix}messages, "
                f"/{VERSION}/<comment id>/comments or /{VERSION}/<comment id>/replies, {ig}media, "
                f"{ig}media_publish, or a GET of /{VERSION}/<id>?fields=status_code or ?fields=permalink)"
            )
        allowed = _METHODS.get(request.endpoint, {"POST"})
        if handler.command not in allowed:
            problems.append(f"{handler.command} instead of {' or '.join(sorted(allowed))}")
        if request.fields.get("access_token") != self.token:
            problems.append("missing or wrong access_token")
        if request.endpoint == "photos":
            problems += self._check_photo(request)
        elif request.endpoint == "feed":
            problems += self._check_feed(request)
        elif request.endpoint == "messages":
            problems += self._check_message(request)
        elif request.endpoint in {"comments", "replies"}:
            problems += self._check_comment_reply(request)
        elif request.endpoint == "comment" and handler.command == "POST":
            if request.fields.get("is_hidden") != "true" and request.fields.get("hide") != "true":
                problems.append("a comment can only be hidden here (is_hidden=true, or hide=true on Instagram)")
        elif request.endpoint == "post":
            problems += self._check_post_deletion(request)
        elif request.endpoint == "media":
            problems += self._check_container(request)
        elif request.endpoint == "container":
            problems += self._check_read(request, {"status_code", "status"}, self.containers, "container")
        elif request.endpoint == "media_publish":
            problems += self._check_publish(request)
        elif request.endpoint == "permalink":
            problems += self._check_read(request, {"permalink"}, self.permalinks, "published media")

        with self._lock:
            self.requests.append(request)
            self.problems += [f"{handler.command} {parsed.path}: {p}" for p in problems]
        if self.on_request is not None:
            self.on_request(request)

        delay = self._sleeps.get(request.endpoint, 0)
        if delay:
            time.sleep(delay)
        if problems:
            status, answer = 400, {"error": {"message": "fake graph: " + "; ".join(problems), "code": 100}}
        elif request.endpoint in self._failures:
            status, answer = self._failures[request.endpoint]
        elif request.endpoint == "photos":
            media_id = f"{next(self._ids)}0000"
            with self._lock:
                self.photo_ids.append(media_id)
            status, answer = 200, {"id": media_id}
        elif request.endpoint == "messages":
            status, answer = 200, self._new_message(request)
        elif request.endpoint == "comment":
            status, answer = 200, {"success": True}
        elif request.endpoint == "post":
            status, answer = self._delete_post(request)
        elif request.endpoint == "media":
            status, answer = self._new_container(request)
        elif request.endpoint == "container":
            status, answer = self._container_status(request)
        elif request.endpoint == "media_publish":
            status, answer = self._publish(request)
        elif request.endpoint == "permalink":
            media_id = request.path.rsplit("/", 1)[1]
            status, answer = 200, {"permalink": self.permalinks[media_id], "id": media_id}
        elif request.endpoint in {"comments", "replies"}:
            comment_id = f"{next(self._ids)}00001"
            with self._lock:
                self.comment_ids.append(comment_id)
            status, answer = 200, {"id": comment_id}
        else:
            post_id = f"{self.page_id}_{next(self._ids)}"
            with self._lock:
                self.post_ids.append(post_id)
            status, answer = 200, {"id": post_id}
        _answer(handler, status, answer)

    def _endpoint(self, path: str) -> str:
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != "" or parts[1] != VERSION or not parts[2]:
            return ""
        node, edge = parts[2], parts[3]
        if node == self.page_id and edge in {"photos", "feed", "messages"}:
            return edge
        if node == "me" and edge == "messages":  # with a Page token, "me" is the Page
            return edge
        if node == self.ig_account_id and edge in {"media", "media_publish"}:
            return edge
        if node not in {self.page_id, "me", self.ig_account_id} and edge in {"comments", "replies"}:
            return edge
        return ""

    def _node_endpoint(self, method: str, path: str, fields: dict[str, str]) -> str:
        """/<version>/<id>: a comment hidden (POST) or deleted (DELETE), a Page post deleted, or an Instagram
        container's status or media's permalink read (GET, told apart by the fields asked for)."""
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "" or parts[1] != VERSION:
            return ""
        node = parts[2]
        if node in {"", self.page_id, "me", self.ig_account_id}:
            return ""
        if method == "GET":
            asked = set(fields.get("fields", "").split(","))
            return "container" if "status_code" in asked else "permalink" if "permalink" in asked else ""
        if method == "DELETE" and node.startswith(f"{self.page_id}_"):
            return "post"
        return "comment"

    def _serve_file(self, handler: BaseHTTPRequestHandler, parsed: urllib.parse.SplitResult) -> None:
        request = GraphRequest(method="GET", path=parsed.path, endpoint="attachment", content_type="")
        request.fields = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        problems = ["the page token was sent to a file address"] if "access_token" in request.fields else []
        if handler.headers.get("Authorization"):
            problems.append("an Authorization header was sent to a file address")
        with self._lock:
            self.requests.append(request)
            self.problems += [f"GET {parsed.path}: {p}" for p in problems]
        if self.on_request is not None:
            self.on_request(request)
        delay = self._sleeps.get("attachment", 0)
        if delay:
            time.sleep(delay)
        if "attachment" in self._failures:
            return _answer(handler, *self._failures["attachment"])
        status, headers, body = self._files[parsed.path]
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            if "Content-Length" not in headers:  # the body ends when the connection does
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (the size cap)

    def _check_message(self, request: GraphRequest) -> list[str]:
        problems = []
        expected = {"access_token", "recipient", "message", "messaging_type"}
        if request.fields.get("messaging_type") == "MESSAGE_TAG":
            expected.add("tag")
        if set(request.fields) != expected:
            problems.append(f"message fields are {sorted(request.fields)}, not {sorted(expected)}")
        recipient = _json_object(request.fields.get("recipient"))
        keys = set(recipient or {})
        if recipient is None or len(keys) != 1 or keys - {"id", "comment_id"}:
            problems.append(
                f'recipient is not {{"id": ...}} or {{"comment_id": ...}}: {request.fields.get("recipient")!r}'
            )
        elif not isinstance(next(iter(recipient.values())), str) or not next(iter(recipient.values())):
            problems.append("the recipient's id is empty or not a string")
        message = _json_object(request.fields.get("message"))
        if message is None or set(message) != {"text"}:
            problems.append(f'message is not {{"text": ...}}: {request.fields.get("message")!r}')
        elif not isinstance(message["text"], str) or not message["text"].strip():
            problems.append("the message text is empty")
        messaging_type, tag = request.fields.get("messaging_type"), request.fields.get("tag")
        if messaging_type == "MESSAGE_TAG" and tag != "HUMAN_AGENT":
            problems.append(f"MESSAGE_TAG with tag {tag!r}, not HUMAN_AGENT")
        elif messaging_type not in {"RESPONSE", "MESSAGE_TAG"}:
            problems.append(f"messaging_type is {messaging_type!r}, not RESPONSE or MESSAGE_TAG")
        return problems

    def _new_message(self, request: GraphRequest) -> dict:
        message_id, self.next_message_id = self.next_message_id or f"m_{next(self._ids)}", None
        with self._lock:
            self.message_ids.append(message_id)
        recipient = json.loads(request.fields["recipient"])
        # A private reply goes to whoever wrote the comment: Meta answers with that person's id.
        return {"recipient_id": recipient.get("id") or f"psid-of-{recipient['comment_id']}", "message_id": message_id}

    def _check_comment_reply(self, request: GraphRequest) -> list[str]:
        problems = []
        if set(request.fields) != {"access_token", "message"}:
            problems.append(f"reply fields are {sorted(request.fields)}, not ['access_token', 'message']")
        if not request.fields.get("message", "").strip():
            problems.append("no message")
        return problems

    def _check_photo(self, request: GraphRequest) -> list[str]:
        problems = []
        if not request.content_type.startswith("multipart/form-data"):
            problems.append(f"a photo upload must be multipart/form-data, not {request.content_type!r}")
        if request.fields.get("published") != "false":
            problems.append("a photo for a post must be uploaded with published=false")
        source = request.files.get("source")
        if source is None:
            problems.append("no 'source' file part")
        else:
            filename, file_type, data = source
            if file_type != "image/jpeg" or not data.startswith(JPEG_START):
                problems.append(f"'source' is not a JPEG ({file_type}, starts {data[:4]!r})")
            if not filename:
                problems.append("'source' has no filename")
        return problems

    def _check_feed(self, request: GraphRequest) -> list[str]:
        problems = []
        if not request.fields.get("message", "").strip():
            problems.append("no message")
        attached = sorted(k for k in request.fields if k.startswith("attached_media"))
        expected = [f"attached_media[{i}]" for i in range(len(attached))]
        if attached != sorted(expected):
            problems.append(f"attached_media keys are not numbered from 0: {attached}")
        for key in attached:
            try:
                media_id = json.loads(request.fields[key])["media_fbid"]
            except (ValueError, KeyError, TypeError):
                problems.append(f'{key} is not {{"media_fbid": ...}}')
                continue
            if media_id not in self.photo_ids:
                problems.append(f"{key} names {media_id!r}, which was never uploaded here")
        return problems

    # --- Page posts deleted ----------------------------------------------------------

    def _check_post_deletion(self, request: GraphRequest) -> list[str]:
        post_id = request.path.rsplit("/", 1)[1]
        problems = [] if set(request.fields) == {"access_token"} else [f"fields {sorted(request.fields)} on a DELETE"]
        if post_id not in self.post_ids:
            problems.append(f"{post_id!r} is not a post this server created")
        return problems

    def _delete_post(self, request: GraphRequest) -> tuple[int, dict]:
        post_id = request.path.rsplit("/", 1)[1]
        with self._lock:
            if post_id in self.deleted_posts:
                deleted = True
            else:
                deleted = False
                self.deleted_posts.append(post_id)
        if deleted:
            return self._refuse(
                request,
                f"Unsupported delete request. Object with ID '{post_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                code=100,
                subcode=33,
            )
        return 200, {"success": True}

    # --- Instagram containers, publishing, permalinks --------------------------------

    def _check_container(self, request: GraphRequest) -> list[str]:
        fields, problems = request.fields, []
        media_type = fields.get("media_type", "IMAGE")
        if media_type == "CAROUSEL":
            expected, required = {"access_token", "media_type", "children", "caption"}, {"children"}
        elif media_type == "IMAGE":
            expected = {"access_token", "media_type", "image_url", "caption", "is_carousel_item"}
            required = {"image_url"}
        else:
            return [f"media_type {media_type!r}: this fake makes photo and carousel containers only"]
        if set(fields) - expected or required - set(fields):
            problems.append(f"container fields are {sorted(fields)}; wanted {sorted(required)} of {sorted(expected)}")
        if media_type == "CAROUSEL":
            children = fields.get("children", "").split(",")
            if len(children) not in range(2, 11):
                problems.append(f"a carousel holds 2 to 10 items, not {len(children)}")
            for child in children:
                container = self.containers.get(child)
                if container is None or container.kind != "carousel_item":
                    problems.append(f"child {child!r} is not a carousel item this server made")
            if len(set(children)) != len(children):
                problems.append("a child is named twice")
            return problems
        if fields.get("is_carousel_item", "false") not in {"true", "false"}:
            problems.append(f"is_carousel_item is {fields['is_carousel_item']!r}, not true or false")
        if fields.get("is_carousel_item") == "true" and "caption" in fields:
            problems.append("a carousel item with a caption (the carousel holds it)")
        url = urllib.parse.urlsplit(fields.get("image_url", ""))
        if url.scheme not in {"http", "https"} or not _is_loopback(url.hostname or ""):
            problems.append(f"image_url {fields.get('image_url')!r} is not an http(s) address on loopback to fetch")
        return problems

    def _new_container(self, request: GraphRequest) -> tuple[int, dict]:
        fields = request.fields
        if len(fields.get("caption", "")) > CAPTION_MAX_CHARS:
            return self._refuse(request, "The caption is too long.", code=100, title="Caption too long")
        if fields.get("media_type") == "CAROUSEL":
            container = Container(
                id="", kind="carousel", caption=fields.get("caption", ""), children=fields["children"].split(",")
            )
        else:
            fetch = self._fetch_image(fields["image_url"])
            if fetch.status != 200 or fetch.error:
                return self._refuse(
                    request,
                    "Only photo or video can be accepted as media type.",
                    code=9004,
                    subcode=2207052,
                    title="Media download has failed.",
                    user_message=f"The media could not be fetched from this URI: {fetch.url}",
                )
            if fetch.content_type != "image/jpeg" or not fetch.data.startswith(JPEG_START):
                # Meta's exact words for an image that is not a JPEG are not documented: these are the fake's.
                return self._refuse(
                    request,
                    "Only photo or video can be accepted as media type.",
                    code=9004,
                    subcode=2207052,
                    title="The image format is not supported.",
                )
            if fetch.length > IMAGE_MAX_BYTES:
                return self._refuse(request, "The image is too large.", code=9004, title="Image too large.")
            kind = "carousel_item" if fields.get("is_carousel_item") == "true" else "photo"
            container = Container(id="", kind=kind, caption=fields.get("caption", ""), image_url=fields["image_url"])
        container.id = f"179{next(self._ids):013d}"
        with self._lock:
            self.containers[container.id] = container
        return 200, {"id": container.id}

    def _fetch_image(self, url: str) -> ImageFetch:
        """GET the photo as Meta's fetcher would: no token, redirects followed only on loopback, a short wait."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _LoopbackRedirects)
        request = urllib.request.Request(url, headers={"User-Agent": "facebookexternalhit/1.1 (FiG fake Graph)"})
        try:
            with opener.open(request, timeout=self.image_fetch_timeout) as response:
                data = response.read(IMAGE_MAX_BYTES + 1)
                content_type = response.headers.get_content_type() if response.headers.get("Content-Type") else ""
                fetch = ImageFetch(url, response.status, content_type, len(data), data=data)
        except urllib.error.HTTPError as exc:
            exc.close()
            fetch = ImageFetch(url, exc.code, "", 0, error=f"HTTP {exc.code}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            fetch = ImageFetch(url, None, "", 0, error=f"{type(reason).__name__}: {reason}")
        with self._lock:
            self.image_fetches.append(fetch)
        return fetch

    def _check_read(self, request: GraphRequest, allowed: set[str], known: dict, what: str) -> list[str]:
        node, problems = request.path.rsplit("/", 1)[1], []
        if set(request.fields) != {"access_token", "fields"} or set(request.fields["fields"].split(",")) - allowed:
            problems.append(f"fields {request.fields.get('fields')!r} (wanted some of {sorted(allowed)})")
        if node not in known:
            problems.append(f"{node!r} is not {what} this server made")
        return problems

    def _status(self, container: Container, polls: int) -> str:
        if container.media_id:
            return "PUBLISHED"
        sequence = self.container_status_sequence or ["FINISHED"]
        status = sequence[min(polls, len(sequence) - 1)]
        assert status in CONTAINER_STATUSES, f"container_status_sequence holds {status!r}"
        return status

    def _container_status(self, request: GraphRequest) -> tuple[int, dict]:
        container = self.containers[request.path.rsplit("/", 1)[1]]
        with self._lock:
            status = self._status(container, container.polls)
            container.polls += 1
        answer = {"status_code": status, "id": container.id}
        if "status" in request.fields["fields"].split(","):
            answer["status"] = status.title()
        return 200, answer

    def _check_publish(self, request: GraphRequest) -> list[str]:
        problems = []
        if set(request.fields) != {"access_token", "creation_id"}:
            problems.append(f"publish fields are {sorted(request.fields)}, not ['access_token', 'creation_id']")
        container = self.containers.get(request.fields.get("creation_id", ""))
        if container is None:
            problems.append(f"creation_id {request.fields.get('creation_id')!r} is not a container this server made")
        elif container.kind == "carousel_item":
            problems.append("a carousel item is published in its carousel, not on its own")
        return problems

    def _publish(self, request: GraphRequest) -> tuple[int, dict]:
        container = self.containers[request.fields["creation_id"]]
        with self._lock:
            status = self._status(container, max(container.polls - 1, 0))  # as last answered, or as made
            if status == "FINISHED":
                container.media_id = f"178{next(self._ids):013d}"
                self.media_ids.append(container.media_id)
                self.permalinks[container.media_id] = f"https://www.instagram.com/p/{secrets.token_urlsafe(8)}/"
        if status != "FINISHED":
            # Meta answers this for a container not ready, and for one already published or gone.
            return self._refuse(
                request,
                "Media ID is not available",
                code=9007,
                subcode=2207027,
                title=_NOT_PUBLISHABLE[status],
            )
        return 200, {"id": container.media_id}

    def _refuse(
        self,
        request: GraphRequest,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        title: str = "",
        user_message: str = "",
    ) -> tuple[int, dict]:
        error: dict = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FakeTrace"}
        if subcode is not None:
            error["error_subcode"] = subcode
        if title:
            error["error_user_title"] = title
            error["error_user_msg"] = user_message or title
        with self._lock:
            self.refusals.append(f"{request.method} {request.path}: {title + ' ' if title else ''}{message}")
        return 400, {"error": error}

    # --- what the test reads --------------------------------------------------------

    def to(self, endpoint: str) -> list[GraphRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _LoopbackRedirects(urllib.request.HTTPRedirectHandler):
    """The fake fetches images from the test's own servers only: never a redirect off this machine."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib's hook, its own signature
        if not _is_loopback(urllib.parse.urlsplit(newurl).hostname or ""):
            raise urllib.error.URLError(f"redirect off loopback to {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _json_object(value: str | None) -> dict | None:
    try:
        parsed = json.loads(value or "")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    if content_type.startswith("application/x-www-form-urlencoded"):
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        return dict(pairs), {}
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(content_type, body)
    if body:
        raise ValueError(f"unexpected content type {content_type!r}")
    return {}, {}


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Split by hand, byte for byte, so a test can compare an uploaded file with what the vault holds."""
    header = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = header.get_param("boundary")
    if not boundary:
        raise ValueError("multipart without a boundary")
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    if chunks[0] != b"" or chunks[-1] not in {b"--\r\n", b"--"}:
        raise ValueError("multipart body is not framed by its boundary")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n") or b"\r\n\r\n" not in chunk:
            raise ValueError("a malformed part")
        head, data = chunk[2:-2].split(b"\r\n\r\n", 1)
        headers = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(head.decode() + "\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not name:
            raise ValueError("a part without a name")
        filename = headers.get_param("filename", header="content-disposition")
        if filename is not None:
            files[name] = (filename, headers.get_content_type() if headers["Content-Type"] else "", data)
        else:
            fields[name] = data.decode()
    return fields, files


def _answer(handler: BaseHTTPRequestHandler, status: int, answer: dict) -> None:
    payload = json.dumps(answer).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up waiting (the timeout test)


@contextmanager
def page_graph(settings, *, instagram: bool = True) -> Iterator[FakeGraph]:
    """The fake Graph API with FiG Safety configured to publish to its Page and, unless `instagram` is False,
    to its Instagram account (pytest-django's `settings`)."""
    with FakeGraph(page_id="1234567890", token="page-token-for-tests", ig_account_id="17841400000000001") as fake:
        settings.FIG_GRAPH_API_URL = fake.base_url
        settings.FIG_META_PAGE_ID = fake.page_id
        settings.FIG_META_PAGE_TOKEN = fake.token
        settings.FIG_INSTAGRAM_ACCOUNT_ID = fake.ig_account_id if instagram else ""
        settings.FIG_GRAPH_TIMEOUT = 5
        yield fake
