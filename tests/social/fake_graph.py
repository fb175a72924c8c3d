"""A fake Facebook Graph API on loopback for the Facebook Page adapter's tests.

An `http.server` on 127.0.0.1 in a thread that records every request and checks it
the way the Graph API would: POST only, with the page's access token, to
`/<version>/<page id>/photos`, `/<version>/<page id>/feed`, `/<version>/<page id>/messages`
(or `me/messages`), `/<version>/<comment id>/comments` or `/<version>/<comment id>/replies`.
A photo upload is multipart with `published=false` and a JPEG in `source`; a feed
post has a message and its `attached_media[i]` name photos this server was given; a
message has a JSON `recipient` with an `id` or a `comment_id`, a JSON `message` with
`text`, and `messaging_type` RESPONSE (or MESSAGE_TAG with `tag` HUMAN_AGENT); a
comment reply has a `message`. A request that fails a check is answered 400 with a
Graph-style error and listed in `problems`, so a test asserts `graph.problems == []`.

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
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "v21.0"
JPEG_START = b"\xff\xd8\xff"


@dataclass
class GraphRequest:
    """One request as the fake received it."""

    method: str
    path: str
    endpoint: str  # "photos", "feed", "messages", "comments", "replies", "attachment", or "" for anything else
    content_type: str
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name -> (filename, type, bytes)


class FakeGraph:
    def __init__(self, *, page_id: str = "1234567890", token: str = "fake-page-token") -> None:
        self.page_id, self.token = page_id, token
        self.requests: list[GraphRequest] = []
        self.problems: list[str] = []
        self.photo_ids: list[str] = []
        self.post_ids: list[str] = []
        self.message_ids: list[str] = []
        self.next_message_id: str | None = None  # answer the next message with this id (an echo that came first)
        self.comment_ids: list[str] = []  # replies made on /comments and /replies, in order
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
        """Answer requests to `endpoint` ("photos", "feed", "messages", "comments", "replies" or
        "attachment") with a Graph API error."""
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
        request = GraphRequest(method=handler.command, path=parsed.path, endpoint="", content_type=content_type)
        problems: list[str] = []
        try:
            request.fields, request.files = _parse_body(content_type, body)
            if handler.command == "DELETE":  # a DELETE carries its fields in the query string, as the client sends them
                request.fields = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
            elif parsed.query:
                problems.append(f"the query string carries data ({parsed.query!r}); the adapter sends a body")
        except ValueError as exc:
            problems.append(f"unreadable body: {exc}")

        request.endpoint = "comment" if self._comment_node(parsed.path) else self._endpoint(parsed.path)
        if not request.endpoint:
            prefix = f"/{VERSION}/{self.page_id}/"
            problems.append(
                f"unexpected path {parsed.path!r} (wanted {prefix}photos, {prefix}feed, {prefix}messages, "
                f"/{VERSION}/<comment id>/comments or /{VERSION}/<comment id>/replies)"
            )
        if handler.command != "POST" and not (handler.command == "DELETE" and request.endpoint == "comment"):
            problems.append(f"{handler.command} instead of POST")
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
        if node not in {self.page_id, "me"} and edge in {"comments", "replies"}:
            return edge
        return ""

    def _comment_node(self, path: str) -> bool:
        """/<version>/<comment id>: hiding (POST) or deleting (DELETE) one comment."""
        parts = path.split("/")
        return len(parts) == 3 and parts[0] == "" and parts[1] == VERSION and parts[2] not in {"", self.page_id, "me"}

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

    # --- what the test reads --------------------------------------------------------

    def to(self, endpoint: str) -> list[GraphRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]


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
def page_graph(settings) -> Iterator[FakeGraph]:
    """The fake Graph API with FiG Safety configured to publish to its Page (pytest-django's `settings`)."""
    with FakeGraph(page_id="1234567890", token="page-token-for-tests") as fake:
        settings.FIG_GRAPH_API_URL = fake.base_url
        settings.FIG_META_PAGE_ID = fake.page_id
        settings.FIG_META_PAGE_TOKEN = fake.token
        settings.FIG_GRAPH_TIMEOUT = 5
        yield fake
