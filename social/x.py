"""The one client for the X API v2: uploading a photo, publishing a post with it and deleting a post, as FiG's
own account (OAuth 1.0a user context, through tweepy), and the length of a post's text as X counts it.
Used only when it is configured (all four of FIG_X_API_KEY, FIG_X_API_SECRET, FIG_X_ACCESS_TOKEN and
FIG_X_ACCESS_SECRET). Nothing here touches the database: callers make these calls with no row locked.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Callable

import requests
import tweepy
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# The same kinds as the Graph API client's, so callers word both alike.
from social.graph import REFUSED, TIMEOUT, UNREACHABLE, UNSUCCESSFUL

__all__ = [
    "REFUSED",
    "TIMEOUT",
    "UNREACHABLE",
    "UNSUCCESSFUL",
    "X_IMAGE_MAX_BYTES",
    "X_IMAGE_TYPES",
    "X_LIMIT",
    "XError",
    "create_post",
    "delete_post",
    "post_url",
    "upload_media",
    "x_configured",
    "x_length",
]

X_LIMIT = 280  # a post's text, in X's weighted characters (see x_length)

# The one-shot upload (POST /2/media/upload) takes still images of these types up to 5 MB; GIFs and video
# need the chunked upload (initialize, append, finalize), which FiG Safety has no use for.
X_IMAGE_TYPES = frozenset({"image/jpeg", "image/pjpeg", "image/png", "image/webp", "image/bmp", "image/tiff"})
X_IMAGE_MAX_BYTES = 5 * 1024 * 1024

# Where tweepy 4.17 sends requests: Client writes "https://api.twitter.com" into every call. X answers on
# api.x.com today; every request goes to FIG_X_API_URL instead (see _XSession).
_TWEEPY_ORIGINS = frozenset({"https://api.twitter.com", "https://api.x.com", "https://upload.twitter.com"})


class XError(Exception):
    """The X API refused or did not answer. `kind` says which; `detail` is X's own explanation."""

    def __init__(self, kind: str, detail: str = "", status: int | None = None) -> None:
        self.kind, self.detail, self.status = kind, detail, status
        super().__init__(self.describe("X"))

    @property
    def may_have_succeeded(self) -> bool:
        """The request may have arrived and been acted on, so it must not be repeated blindly: it timed out
        (or the connection dropped after it was sent), or X accepted it (2xx) but its answer was unreadable."""
        return self.kind == TIMEOUT or (self.status is not None and 200 <= self.status < 300)

    def describe(self, who: str) -> str:
        """The problem in a sentence, naming `who` answered ("X", "The X API")."""
        if self.kind == REFUSED and self.status is not None:
            return f"{who} refused ({self.status}{': ' + self.detail if self.detail else ''})."
        if self.kind == REFUSED:
            return f"{who} refused: {self.detail or 'unknown error'}."
        if self.kind == TIMEOUT:
            return f"{who} did not answer in time."
        if self.kind == UNSUCCESSFUL:
            return f"{who} answered that it did not succeed."
        return f"{who} could not be reached or gave an unreadable answer."


def x_configured() -> bool:
    """All four OAuth 1.0a user-context credentials of FiG's account are set."""
    return all(_credentials())


def x_length(text: str) -> int:
    """The length of `text` as X counts it against X_LIMIT (twitter-text's version 3 rules), after NFC
    normalisation: characters up to U+10FF (Latin, Greek, Cyrillic, Hebrew, Arabic, most Indic scripts) and
    common punctuation count 1; the rest (CJK, emoji, an emoji sequence as a whole) 2; every URL, with or
    without its scheme, 23. An emoji sequence newer than the library's Unicode list (2019) counts as its
    parts, so a text can come out longer than X makes it, never shorter."""
    # Imported here: building its URL and emoji patterns takes about half a second, which a worker or a
    # management command that never counts a post should not pay at start-up.
    from twitter_text import parse_tweet

    return parse_tweet(text).weightedLength


def post_url(post_id: str) -> str:
    return f"https://x.com/i/web/status/{urllib.parse.quote(str(post_id), safe='')}"


# --- what FiG Safety asks of it -----------------------------------------------------------------------------


def upload_media(data: bytes, mime_type: str) -> str:
    """A photo uploaded for a post, not yet shown to anyone; its media id. X keeps it for a day.

    tweepy 4.17 has no call for the v2 upload (its API.media_upload is the v1.1 one on upload.twitter.com,
    which X has deprecated for this one), so this is the one request made directly: on the tweepy client's
    session, signed by the OAuth 1.0a handler tweepy signs its own calls with (a multipart body, so only the
    URL and the OAuth parameters are signed, as OAuth 1.0a says)."""
    if mime_type not in X_IMAGE_TYPES:
        raise XError(REFUSED, f"X takes photos as JPEG, PNG, WebP, BMP or TIFF, not {mime_type or 'unknown'}")
    if len(data) > X_IMAGE_MAX_BYTES:
        raise XError(REFUSED, "the photo is larger than the 5 MB X allows")

    def upload(client: tweepy.Client) -> requests.Response:
        return client.session.post(
            "https://api.x.com/2/media/upload",
            data={"media_category": "tweet_image", "media_type": mime_type},
            files={"media": ("media", data, mime_type)},
            headers={"User-Agent": client.user_agent},
            auth=tweepy.OAuth1UserHandler(*_credentials()).apply_auth(),
        )

    return _id(_send(upload))


def create_post(text: str, media_ids: list[str]) -> str:
    """A post on FiG's account with these uploaded photos attached (POST /2/tweets); its id."""
    # An empty list would be sent as "media": {"media_ids": []}, which X refuses.
    return _id(_send(lambda client: client.create_tweet(text=text, media_ids=media_ids or None, user_auth=True)))


def delete_post(post_id: str) -> None:
    """Delete one of FiG's posts (DELETE /2/tweets/:id). X answers {"data": {"deleted": true}}."""
    # tweepy puts the id into the path as it is: only digits may go there.
    if not (post_id.isascii() and post_id.isdigit()):
        raise ValueError(f"not an X post id: {post_id!r}")
    _, answer = _send(lambda client: client.delete_tweet(post_id, user_auth=True))
    data = answer.get("data")
    if not (isinstance(data, dict) and data.get("deleted") is True):
        raise XError(UNSUCCESSFUL)


# --- one request --------------------------------------------------------------------------------------------


def _send(call: Callable[[tweepy.Client], requests.Response]) -> tuple[int, dict]:
    """Make one request through a fresh tweepy client; X's answer. Raises XError for any refusal, timeout or
    unreadable answer: with X's explanation, never with the request (its Authorization header holds the
    access token), so the requests or tweepy exception is neither chained nor kept as the context."""
    key, secret, token, token_secret = _credentials()
    client = tweepy.Client(
        consumer_key=key,
        consumer_secret=secret,
        access_token=token,
        access_token_secret=token_secret,
        return_type=requests.Response,  # the bare response: its status matters when its body makes no sense
    )
    client.session.close()  # the plain one tweepy made, never used
    client.session = _XSession(_api_url(), settings.FIG_X_TIMEOUT)
    error: XError | None = None
    try:
        response = call(client)
    except tweepy.HTTPException as exc:  # tweepy raises for any status outside 2xx, the response kept
        response = exc.response
    except requests.RequestException as exc:
        response, error = None, XError(_network_kind(exc))
    finally:
        client.session.close()
    if error is not None or response is None:
        raise error or XError(UNREACHABLE)
    return response.status_code, _answer(response)


def _answer(response: requests.Response) -> dict:
    status = response.status_code
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not 200 <= status < 300:
        # X's gateway timing out on its own servers leaves the request as unsettled as our timing out.
        raise XError(TIMEOUT if status == 504 else REFUSED, _explanation(answer), status=status)
    if not isinstance(answer, dict):
        raise XError(UNREACHABLE, status=status)
    if answer.get("errors") and not answer.get("data"):
        raise XError(REFUSED, _explanation(answer))
    return answer


def _id(sent: tuple[int, dict]) -> str:
    status, answer = sent
    data = answer.get("data")
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str | int) or not str(value):
        raise XError(UNREACHABLE, status=status)  # it said yes (2xx), so something may have been made
    return str(value)


def _network_kind(exc: requests.RequestException) -> str:
    """TIMEOUT where the request may have reached X (no answer in time, or the connection dropped after it
    was sent); UNREACHABLE where it cannot have (refused, no such host, no connection in time)."""
    if isinstance(exc, requests.ConnectTimeout):
        return UNREACHABLE
    if isinstance(exc, requests.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return TIMEOUT
    if isinstance(exc, requests.ConnectionError) and exc.args and _is_aborted(exc.args[0]):
        return TIMEOUT
    return UNREACHABLE


def _is_aborted(reason: object) -> bool:
    from urllib3.exceptions import ProtocolError  # requests' own transport

    return isinstance(reason, ProtocolError)


def _explanation(answer: object) -> str:
    """X explains a refusal as an RFC 7807 problem ({"title", "detail"}), with a list of "errors" (each with a
    "message") when parameters were wrong: the most particular of these, for the person acting."""
    if not isinstance(answer, dict):
        return ""
    errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
    messages = [e.get("message") or e.get("detail") for e in errors if isinstance(e, dict)]
    text = "; ".join(m for m in messages if isinstance(m, str) and m.strip())
    text = text or next((answer[k] for k in ("detail", "title") if isinstance(answer.get(k), str)), "")
    for secret in _credentials():  # should X ever echo one back, it goes no further
        if secret:
            text = text.replace(secret, "[redacted]")
    return text.strip()[:200]


def _credentials() -> tuple[str, str, str, str]:
    """In tweepy's order: consumer key and secret (the app's), access token and secret (FiG's account)."""
    return (
        settings.FIG_X_API_KEY,
        settings.FIG_X_API_SECRET,
        settings.FIG_X_ACCESS_TOKEN,
        settings.FIG_X_ACCESS_SECRET,
    )


def _api_url() -> str:
    """FIG_X_API_URL, which must be https, or plain http only on this machine's loopback (the tests' fake)."""
    url = settings.FIG_X_API_URL.rstrip("/")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIG_X_API_URL is not a URL: {url!r}.") from exc
    host = parts.hostname or ""
    if not host or parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"FIG_X_API_URL must be a plain https address, not {url!r}.")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return url
    raise ImproperlyConfigured(f"FIG_X_API_URL must be https (plain http only on 127.0.0.1), not {url!r}.")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _XSession(requests.Session):
    """tweepy's session, sending each request to FIG_X_API_URL, with a timeout and without redirects.

    tweepy 4.17 writes its host into every call and sets no timeout at all. The address is changed here,
    before the request is prepared, and not in a transport adapter mounted on the session: OAuth 1.0a signs
    the whole URL, and an adapter sees the request only once it is signed, so X (or the tests' fake) would
    be checking a signature made for another address. Only an address on tweepy's X hosts is rewritten;
    any other is refused, so nothing signed leaves for a host that is not X."""

    def __init__(self, api_url: str, timeout: int) -> None:
        super().__init__()
        self.api_url, self.timeout = api_url, timeout

    def request(self, method: str | bytes, url: str | bytes, *args, **kwargs) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        parts = urllib.parse.urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}".lower() not in _TWEEPY_ORIGINS:
            raise ValueError(f"not an X API address: {parts.scheme}://{parts.netloc}")
        url = self.api_url + urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        kwargs["timeout"] = self.timeout
        # X's API does not redirect; a redirect elsewhere would leave the request's signature for the wrong URL.
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)
