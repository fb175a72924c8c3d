"""A fake X API v2 on loopback for the X client's tests.

An `http.server` on 127.0.0.1 in a thread that records every request and checks it the way X would:
each carries an OAuth 1.0a `Authorization: OAuth ...` header with the configured consumer key and access
token, a fresh timestamp and a nonce, and an HMAC-SHA1 signature that verifies, with the two secrets, for
the URL this server was sent (neither secret may appear anywhere in the request). Then, by endpoint:

- "upload", POST /2/media/upload: multipart/form-data with `media_category=tweet_image`, an optional
  `media_type`, and a `media` file whose bytes are an image of that type, at most 5 MB;
- "tweet", POST /2/tweets: a JSON object with `text` (at most 280 as X weighs it) and optionally
  `media: {"media_ids": [...]}`, one to four ids this server issued;
- "delete", DELETE /2/tweets/<id>: a post this server created and has not deleted.

A request that fails a check is answered as X would (401 for the signature, 400 or 403 for the rest) and
listed in `problems`, so a test asserts `x.problems == []`.

Usage::

    with FakeX() as x:  # or x_api(settings), which also points FiG Safety at it
        x.fail_on("tweet", status=403, detail="You are not allowed to create a Tweet with duplicate content.")
        x.sleep_on("upload", 2)  # or x.drop_on("tweet"), x.answer_on("delete", 200, {"data": {"deleted": False}})
"""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape
from PIL import Image
from twitter_text import parse_tweet

from tests.social.fake_graph import _parse_multipart

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
CLOCK_SKEW = 300  # seconds either side of now that X accepts an oauth_timestamp from
OAUTH_KEYS = {
    "oauth_consumer_key",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_token",
    "oauth_version",
}


@dataclass
class XRequest:
    """One request as the fake received it."""

    method: str
    path: str
    endpoint: str  # "upload", "tweet", "delete", or "" for anything else
    headers: dict[str, str]
    body: bytes
    json: object = None
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name -> (filename, type, bytes)
    oauth: dict[str, str] = field(default_factory=dict)  # the Authorization header's OAuth parameters


class FakeX:
    def __init__(
        self,
        *,
        api_key: str = "x-api-key-for-tests",
        api_secret: str = "x-api-secret-for-tests",
        access_token: str = "1234567890-x-access-token-for-tests",
        access_secret: str = "x-access-secret-for-tests",
    ) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.access_token, self.access_secret = access_token, access_secret
        self.requests: list[XRequest] = []
        self.problems: list[str] = []
        self.media: dict[str, tuple[str, bytes]] = {}  # media id -> (type, bytes)
        self.posts: dict[str, dict] = {}  # post id -> {"text": ..., "media_ids": [...]}
        self.deleted: list[str] = []
        self._failures: dict[str, tuple[int, bytes]] = {}
        self._sleeps: dict[str, float] = {}
        self._drops: set[str] = set()
        self._nonces: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- what the test tells it -------------------------------------------------

    def fail_on(self, endpoint: str, *, status: int = 403, detail: str = "Forbidden", title: str = "") -> None:
        """Answer requests to `endpoint` ("upload", "tweet" or "delete") with X's problem details."""
        title = title or HTTPStatus(status).phrase
        problem = {"title": title, "detail": detail, "type": "about:blank", "status": status}
        self._failures[endpoint] = (status, json.dumps(problem).encode())

    def answer_on(self, endpoint: str, status: int, answer: dict | bytes) -> None:
        """Answer requests to `endpoint` with exactly this (a JSON object, or raw bytes), checks passed or not."""
        self._failures[endpoint] = (status, answer if isinstance(answer, bytes) else json.dumps(answer).encode())

    def sleep_on(self, endpoint: str, seconds: float) -> None:
        """Act on requests to `endpoint`, then wait `seconds` before answering, to run past the client's timeout."""
        self._sleeps[endpoint] = seconds

    def drop_on(self, endpoint: str) -> None:
        """Read requests to `endpoint` whole, act on them, then close the connection without answering."""
        self._drops.add(endpoint)

    # --- lifecycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What FIG_X_API_URL should be set to."""
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeX:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_DELETE(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args) -> None:  # quiet in the test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-x", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what the test reads --------------------------------------------------------

    def to(self, endpoint: str) -> list[XRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    # --- the server side ----------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = XRequest(
            method=handler.command,
            path=parsed.path,
            endpoint=_endpoint(handler.command, parsed.path),
            headers=dict(handler.headers.items()),
            body=body,
        )
        auth_problems = self._check_auth(handler, request, parsed)
        problems = [] if auth_problems else self._check(request)

        with self._lock:
            self.requests.append(request)
            self.problems += [f"{request.method} {request.path}: {p}" for p in auth_problems + problems]

        if auth_problems:  # X's answer to a request it cannot authenticate
            answer = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
            status, payload = 401, json.dumps(answer).encode()
        elif problems:
            errors = [{"message": p} for p in problems]
            answer = {
                "errors": errors,
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.x.com/2/problems/invalid-request",
            }
            status, payload = 400, json.dumps(answer).encode()
        elif request.endpoint in self._failures:
            status, payload = self._failures[request.endpoint]
        else:
            status, payload = self._act(request)

        delay = self._sleeps.get(request.endpoint, 0)
        if delay:  # after acting on it, as X would have: the answer is what comes late
            time.sleep(delay)
        if request.endpoint in self._drops:
            handler.close_connection = True
            return  # the request was acted on; the connection closes with no answer
        _answer(handler, status, payload)

    def _check_auth(self, handler: BaseHTTPRequestHandler, request: XRequest, parsed) -> list[str]:
        problems = []
        raw = " ".join([request.method, handler.path, *request.headers.values()]).encode() + request.body
        for name, secret in [("API key secret", self.api_secret), ("access token secret", self.access_secret)]:
            if secret.encode() in raw:
                problems.append(f"the {name} was sent")
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return [*problems, f"no OAuth 1.0a Authorization header (got {header.split(' ')[0]!r})"]
        try:
            request.oauth = {k: unescape(v) for k, v in parse_authorization_header(header)}
        except ValueError as exc:
            return [*problems, f"unreadable Authorization header: {exc}"]
        oauth = request.oauth
        if missing := sorted(OAUTH_KEYS - set(oauth)):
            problems.append(f"OAuth parameters missing: {missing}")
        if oauth.get("oauth_consumer_key") != self.api_key:
            problems.append("wrong oauth_consumer_key")
        if oauth.get("oauth_token") != self.access_token:
            problems.append("wrong oauth_token")
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            problems.append(f"oauth_signature_method is {oauth.get('oauth_signature_method')!r}, not HMAC-SHA1")
        timestamp = oauth.get("oauth_timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > CLOCK_SKEW:
            problems.append(f"oauth_timestamp {timestamp!r} is not now")
        with self._lock:
            nonce = oauth.get("oauth_nonce", "")
            if nonce in self._nonces:
                problems.append("oauth_nonce used before")
            self._nonces.add(nonce)
        if oauth.get("oauth_signature") and not self._signature_verifies(request, parsed):
            problems.append("the OAuth signature does not verify for this URL")
        return problems

    def _signature_verifies(self, request: XRequest, parsed) -> bool:
        # X verifies the signature against the URL it was sent, so the client must sign the one it sends.
        content_type = request.headers.get("Content-Type", "")
        form = request.body.decode() if content_type.startswith("application/x-www-form-urlencoded") else None
        params = oauth_signature.collect_parameters(
            uri_query=parsed.query,
            body=form,
            headers={"Authorization": request.headers["Authorization"]},
            exclude_oauth_signature=True,
        )
        signed = SimpleNamespace(
            params=params,
            uri=self.base_url + request.path + (f"?{parsed.query}" if parsed.query else ""),
            http_method=request.method,
            signature=request.oauth["oauth_signature"],
        )
        return oauth_signature.verify_hmac_sha1(signed, self.api_secret, self.access_secret)

    def _check(self, request: XRequest) -> list[str]:
        if request.endpoint == "upload":
            return self._check_upload(request)
        if request.endpoint == "tweet":
            return self._check_tweet(request)
        if request.endpoint == "delete":
            post_id = request.path.rsplit("/", 1)[-1]
            if request.body:
                return ["a DELETE with a body"]
            if post_id not in self.posts:
                return [f"no post {post_id!r} was created here"]
            if post_id in self.deleted:
                return [f"post {post_id!r} was deleted already"]
            return []
        return [f"unexpected {request.method} {request.path} (wanted POST /2/media/upload, POST or DELETE /2/tweets)"]

    def _check_upload(self, request: XRequest) -> list[str]:
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return [f"a media upload must be multipart/form-data, not {content_type!r}"]
        try:
            request.fields, request.files = _parse_multipart(content_type, request.body)
        except ValueError as exc:
            return [f"unreadable multipart body: {exc}"]
        problems = []
        if set(request.fields) - {"media_category", "media_type"} or set(request.files) != {"media"}:
            problems.append(f"fields {sorted(request.fields)} and files {sorted(request.files)}")
        if request.fields.get("media_category") != "tweet_image":
            problems.append(f"media_category is {request.fields.get('media_category')!r}, not tweet_image")
        if "media" not in request.files:
            return [*problems, "no 'media' file part"]
        _, part_type, data = request.files["media"]
        if len(data) > MAX_IMAGE_BYTES:
            problems.append(f"the image is {len(data)} bytes, over 5 MB")
        actual = _image_type(data)
        if actual is None:
            problems.append(f"'media' is not an image (starts {data[:8]!r})")
        for said in {request.fields.get("media_type"), part_type} - {None}:
            if actual is not None and said != actual:
                problems.append(f"the image is {actual} but was sent as {said}")
        return problems

    def _check_tweet(self, request: XRequest) -> list[str]:
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            return [f"a post must be JSON, not {content_type!r}"]
        try:
            request.json = json.loads(request.body)
        except ValueError:
            return ["the body is not JSON"]
        post = request.json
        if not isinstance(post, dict):
            return ["the body is not a JSON object"]
        problems = []
        if unknown := sorted(set(post) - {"text", "media"}):
            problems.append(f"unexpected fields {unknown}")
        text = post.get("text")
        if text is not None and not isinstance(text, str):
            problems.append("text is not a string")
        elif text and parse_tweet(text).weightedLength > 280:
            problems.append(f"the text is {parse_tweet(text).weightedLength} characters as X counts them, over 280")
        media = post.get("media")
        if media is not None:
            ids = media.get("media_ids") if isinstance(media, dict) else None
            if not isinstance(ids, list) or not 1 <= len(ids) <= 4 or not all(isinstance(i, str) for i in ids):
                problems.append(f'media is not {{"media_ids": [1 to 4 strings]}}: {media!r}')
            else:
                problems += [f"media id {i!r} was not uploaded here" for i in ids if i not in self.media]
        if not (text or "").strip() and media is None:
            problems.append("a post needs text or media")
        return problems

    def _act(self, request: XRequest) -> tuple[int, bytes]:
        number = next(self._ids)
        if request.endpoint == "upload":
            media_id = str(1_800_000_000_000_000_000 + number)
            _, part_type, data = request.files["media"]
            with self._lock:
                self.media[media_id] = (request.fields.get("media_type") or part_type, data)
            answer = {"id": media_id, "media_key": f"3_{media_id}", "size": len(data), "expires_after_secs": 86400}
            return 200, json.dumps({"data": answer}).encode()
        if request.endpoint == "tweet":
            post_id = str(1_900_000_000_000_000_000 + number)
            text = request.json.get("text", "")
            with self._lock:
                self.posts[post_id] = {
                    "text": text,
                    "media_ids": (request.json.get("media") or {}).get("media_ids", []),
                }
            answer = {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}
            return 201, json.dumps(answer).encode()
        post_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            self.deleted.append(post_id)
        return 200, json.dumps({"data": {"deleted": True}}).encode()


def _endpoint(method: str, path: str) -> str:
    if method == "POST" and path == "/2/media/upload":
        return "upload"
    if method == "POST" and path == "/2/tweets":
        return "tweet"
    parts = path.split("/")
    if method == "DELETE" and len(parts) == 4 and parts[:3] == ["", "2", "tweets"] and parts[3]:
        return "delete"
    return ""


def _image_type(data: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            return IMAGE_TYPES.get(image.format or "")
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for bytes that are not an image
        return None


def _answer(handler: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up waiting (the timeout test)


@contextmanager
def x_api(settings) -> Iterator[FakeX]:
    """The fake X API with FiG Safety configured to post to it (pytest-django's `settings`)."""
    with FakeX() as fake:
        settings.FIG_X_API_URL = fake.base_url
        settings.FIG_X_API_KEY = fake.api_key
        settings.FIG_X_API_SECRET = fake.api_secret
        settings.FIG_X_ACCESS_TOKEN = fake.access_token
        settings.FIG_X_ACCESS_SECRET = fake.access_secret
        settings.FIG_X_TIMEOUT = 5
        yield fake
