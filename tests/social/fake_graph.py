"""A fake Facebook Graph API on loopback for the Facebook Page adapter's tests.

An `http.server` on 127.0.0.1 in a thread that records every request and checks it
the way the Graph API would: POST only, to `/<version>/<page id>/photos` or
`/<version>/<page id>/feed`, with the page's access token; a photo upload is
multipart with `published=false` and a JPEG in `source`; a feed post has a message
and its `attached_media[i]` name photos this server was given. A request that fails
a check is answered 400 with a Graph-style error and listed in `problems`, so a test
asserts `graph.problems == []`.

Usage::

    with FakeGraph(page_id="1234", token="page-token") as graph:
        settings.FIG_GRAPH_API_URL = graph.base_url
        graph.fail_on("feed", status=400, message="Invalid parameter")  # or graph.sleep_on("feed", 2)
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
    endpoint: str  # "photos", "feed", or "" for anything else
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
        self.on_request: Callable[[GraphRequest], None] | None = None  # run in the server's thread before answering
        self._failures: dict[str, tuple[int, dict]] = {}
        self._sleeps: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what the test tells it -------------------------------------------------

    def fail_on(self, endpoint: str, *, status: int = 400, message: str = "Invalid parameter", code: int = 100) -> None:
        """Answer requests to `endpoint` ("photos" or "feed") with a Graph API error."""
        self._failures[endpoint] = (
            status,
            {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FakeTrace"}},
        )

    def sleep_on(self, endpoint: str, seconds: float) -> None:
        """Wait `seconds` before answering requests to `endpoint`, to run past the client's timeout."""
        self._sleeps[endpoint] = seconds

    # --- lifecycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What FIG_GRAPH_API_URL should be set to."""
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{VERSION}"

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
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        request = GraphRequest(method=handler.command, path=parsed.path, endpoint="", content_type=content_type)
        problems: list[str] = []
        try:
            request.fields, request.files = _parse_body(content_type, body)
            if parsed.query:
                problems.append(f"the query string carries data ({parsed.query!r}); the adapter sends a body")
        except ValueError as exc:
            problems.append(f"unreadable body: {exc}")

        prefix = f"/{VERSION}/{self.page_id}/"
        if parsed.path.startswith(prefix) and parsed.path[len(prefix) :] in {"photos", "feed"}:
            request.endpoint = parsed.path[len(prefix) :]
        else:
            problems.append(f"unexpected path {parsed.path!r} (wanted {prefix}photos or {prefix}feed)")
        if handler.command != "POST":
            problems.append(f"{handler.command} instead of POST")
        if request.fields.get("access_token") != self.token:
            problems.append("missing or wrong access_token")
        if request.endpoint == "photos":
            problems += self._check_photo(request)
        elif request.endpoint == "feed":
            problems += self._check_feed(request)

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
        else:
            post_id = f"{self.page_id}_{next(self._ids)}"
            with self._lock:
                self.post_ids.append(post_id)
            status, answer = 200, {"id": post_id}
        _answer(handler, status, answer)

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
