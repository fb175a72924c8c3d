"""The one client for Meta's Graph API (Facebook Page and Instagram): publishing and deleting a post on
the Page, publishing on Instagram, hiding and deleting comments, replying in place from the inbox, and
fetching a message's attachment. Used only when it is configured (FIG_META_PAGE_TOKEN, FIG_META_PAGE_ID to
publish on the Page or send messages, FIG_INSTAGRAM_ACCOUNT_ID to publish on Instagram).
Nothing here touches the database: callers make these calls with no row locked.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

# What went wrong, for callers to word it: the API said no; it did not answer in time (so a call that
# creates something may have done so); it could not be reached at all, or its answer made no sense;
# it answered but said it did not succeed.
REFUSED, TIMEOUT, UNREACHABLE, UNSUCCESSFUL = "refused", "timeout", "unreachable", "unsuccessful"


class GraphError(Exception):
    """The Graph API refused or did not answer. `kind` says which; `detail` is Meta's own explanation."""

    def __init__(self, kind: str, detail: str = "", status: int | None = None) -> None:
        self.kind, self.detail, self.status = kind, detail, status
        super().__init__(self.describe("The Graph API"))

    @property
    def may_have_succeeded(self) -> bool:
        """A timeout: the request may have arrived and been acted on, so it must not be repeated blindly."""
        return self.kind == TIMEOUT

    def describe(self, who: str) -> str:
        """The problem in a sentence, naming `who` answered ("The Graph API", "Facebook")."""
        if self.kind == REFUSED and self.status is not None:
            return f"{who} refused ({self.status}{': ' + self.detail if self.detail else ''})."
        if self.kind == REFUSED:
            return f"{who} refused: {self.detail or 'unknown error'}."
        if self.kind == TIMEOUT:
            return f"{who} did not answer in time."
        if self.kind == UNSUCCESSFUL:
            return f"{who} answered that it did not succeed."
        return f"{who} could not be reached or gave an unreadable answer."


def graph_configured() -> bool:
    return bool(settings.FIG_META_PAGE_TOKEN)


def page_configured() -> bool:
    """Publishing on the Page needs its id as well as a token."""
    return bool(settings.FIG_META_PAGE_ID and settings.FIG_META_PAGE_TOKEN)


def call(
    method: str, path: str, fields: dict[str, str] | None = None, files: dict[str, tuple[str, bytes, str]] | None = None
) -> dict:
    """One Graph API request with the page token: a POST (form fields, or multipart with `files`), or a GET
    or DELETE (fields and token in the query string). Returns the answer; raises GraphError for any refusal,
    timeout or unreadable answer."""
    if method not in {"GET", "POST", "DELETE"} or (files and method != "POST"):
        raise ValueError(f"no {method} request{' with files' if files else ''} in the Graph API client")
    url = f"{settings.FIG_GRAPH_API_URL.rstrip('/')}/{path.lstrip('/')}"
    fields = {**(fields or {}), "access_token": settings.FIG_META_PAGE_TOKEN}
    if method in {"GET", "DELETE"}:
        # Neither has a body with a defined meaning (RFC 9110): Meta documents both with the fields and the
        # token in the query string (GET /{node}?fields=...&access_token=...), and reads them from there.
        request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(fields)}", method=method)  # noqa: S310
    elif files:
        body, content_type = _multipart(fields, files)
        request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})  # noqa: S310
    else:
        body = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=settings.FIG_GRAPH_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise GraphError(REFUSED, _error_message(exc), status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise GraphError(TIMEOUT) from exc
        raise GraphError(UNREACHABLE) from exc
    if isinstance(answer, dict) and answer.get("error"):
        raise GraphError(REFUSED, _describe(answer["error"]))
    if isinstance(answer, dict) and answer.get("success") is False:
        raise GraphError(UNSUCCESSFUL)
    return answer if isinstance(answer, dict) else {}


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "fig" + secrets.token_hex(12)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for key, (filename, content, content_type) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
        parts.append(f"{head}Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _describe(error: object) -> str:
    if not isinstance(error, dict):
        return "unknown error"
    # Meta words some refusals for people in error_user_title ("Media download has failed."), where its
    # message alone misleads ("Only photo or video can be accepted as media type."). Its error_user_msg is
    # left out: it can repeat the address given, a signed link to a photo.
    title, message = (str(error.get(key) or "").strip() for key in ("error_user_title", "message"))
    if title and message:
        message = f"{title}{' ' if title[-1] in '.!?' else ': '}{message}"
    return (message or title)[:200] or "unknown error"


def _required(answer: dict, key: str) -> str:
    """`key` from a successful answer; an answer without it is unreadable (UNREACHABLE), not a refusal."""
    value = answer.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise GraphError(UNREACHABLE, f"no {key} in the answer")
    return str(value)


def _error_message(exc: urllib.error.HTTPError) -> str:
    """Meta explains a refusal in the body ({"error": {"message": ...}}); the person acting should see why."""
    try:
        error = json.loads(exc.read(4096) or b"{}").get("error")
    except (ValueError, AttributeError, OSError):
        return ""
    return _describe(error) if error else ""


# --- what FiG Safety asks of it -----------------------------------------------------------------------------


def hide_comment(comment_id: str, *, platform: str = "facebook") -> None:
    # Facebook comments take is_hidden; Instagram comments take hide.
    field = "hide" if platform == "instagram" else "is_hidden"
    call("POST", urllib.parse.quote(comment_id, safe=""), {field: "true"})


def delete_comment(comment_id: str) -> None:
    call("DELETE", urllib.parse.quote(comment_id, safe=""))


def upload_unpublished_photo(data: bytes) -> str:
    """A photo on the Page, not yet shown to anyone, to attach to a post; its id ("" if Meta gave none)."""
    answer = call(
        "POST",
        f"{settings.FIG_META_PAGE_ID}/photos",
        {"published": "false"},
        files={"source": ("photo.jpg", data, "image/jpeg")},
    )
    return str(answer.get("id") or "")


def publish_on_page(message: str, media_ids: list[str]) -> str:
    """A post on the Page's feed with these photos attached; its id ("" if Meta gave none)."""
    fields = {"message": message}
    for index, media_id in enumerate(media_ids):
        fields[f"attached_media[{index}]"] = json.dumps({"media_fbid": media_id})
    return str(call("POST", f"{settings.FIG_META_PAGE_ID}/feed", fields).get("id") or "")


def delete_page_post(post_id: str) -> None:
    """Delete a post from the Page's feed (DELETE /{page-id}_{post-id}, Meta answers {"success": true}).
    Only such an id, of a post on FIG_META_PAGE_ID, is taken: the same request would delete a comment, or
    anything else the token may delete, so a wrong id must not reach Meta."""
    page, _, number = post_id.partition("_")
    if (
        not settings.FIG_META_PAGE_ID
        or page != settings.FIG_META_PAGE_ID
        or not (number.isascii() and number.isdigit())
    ):
        raise ValueError(f"{post_id!r} is not a post on the Page")
    answer = call("DELETE", urllib.parse.quote(post_id, safe=""))
    if answer.get("success") is not True:
        raise GraphError(UNREACHABLE, "no success in the answer")


# --- publishing on Instagram ------------------------------------------------------------------------------------
# Instagram takes a post in steps, on the professional account linked to the Page (FIG_INSTAGRAM_ACCOUNT_ID),
# with the Page token: a container for each photo, which Instagram makes by fetching the photo itself from a
# public address (JPEG only); for several photos, a carousel container naming those; the container's status,
# until it is FINISHED; then publishing it, once; then the new media's permalink.
# Meta has no API to delete Instagram media: a published Instagram post can only be removed in the app.

CONTAINER_STATUSES = ("FINISHED", "IN_PROGRESS", "ERROR", "EXPIRED", "PUBLISHED")
CAROUSEL_ITEMS = range(2, 11)  # a carousel holds 2 to 10 photos


def instagram_configured() -> bool:
    return bool(settings.FIG_INSTAGRAM_ACCOUNT_ID and settings.FIG_META_PAGE_TOKEN)


def instagram_create_container(image_url: str, caption: str = "", *, carousel_item: bool = False) -> str:
    """A container for one photo, which Instagram fetches from `image_url` (a JPEG at a public address) before
    it answers; the container's id. A carousel item has no caption: the carousel holds it."""
    if carousel_item and caption:
        raise ValueError("a carousel item has no caption of its own: give it to the carousel")
    fields = {"image_url": image_url}
    if caption:
        fields["caption"] = caption
    if carousel_item:
        fields["is_carousel_item"] = "true"
    return _required(_instagram("media", fields), "id")


def instagram_create_carousel(children: list[str], caption: str) -> str:
    """A carousel container holding these carousel-item containers, in this order; its id."""
    if len(children) not in CAROUSEL_ITEMS:
        raise ValueError(f"a carousel holds 2 to 10 photos, not {len(children)}")
    fields = {"media_type": "CAROUSEL", "children": ",".join(children)}
    if caption:
        fields["caption"] = caption
    return _required(_instagram("media", fields), "id")


def instagram_container_status(container_id: str) -> str:
    """One of CONTAINER_STATUSES: FINISHED (ready to publish), IN_PROGRESS, ERROR, EXPIRED (not published
    within 24 hours) or PUBLISHED."""
    answer = call("GET", urllib.parse.quote(container_id, safe=""), {"fields": "status_code"})
    return _required(answer, "status_code")


def instagram_publish(container_id: str) -> str:
    """Publish a FINISHED container; the new media's id. Meta publishes a container once only, and refuses a
    container not yet FINISHED. After a timeout or an unreadable answer the post may be up: the container's
    status (PUBLISHED or not) says so, where trying again would only be refused."""
    return _required(_instagram("media_publish", {"creation_id": container_id}), "id")


def instagram_permalink(media_id: str) -> str:
    """The address of published media on instagram.com."""
    return _required(call("GET", urllib.parse.quote(media_id, safe=""), {"fields": "permalink"}), "permalink")


def _instagram(edge: str, fields: dict[str, str]) -> dict:
    if not settings.FIG_INSTAGRAM_ACCOUNT_ID:
        raise ValueError("FIG_INSTAGRAM_ACCOUNT_ID is not set: check instagram_configured() first")
    return call("POST", f"{urllib.parse.quote(settings.FIG_INSTAGRAM_ACCOUNT_ID, safe='')}/{edge}", fields)


# --- replying in place from the inbox ------------------------------------------------------------------------
# Messages to Facebook (PSID) and Instagram (IGSID) people both go through the Page's Send API,
# POST /{page-id}/messages with the Page token: Meta documents Instagram messaging for an Instagram
# professional account linked to a Page ("Instagram API with Facebook Login") on that same endpoint. The
# other route, POST /{ig-user-id}/messages on graph.instagram.com, needs an Instagram user token from
# Instagram Login: a second token and host that FiG Safety does not hold, for nothing this needs.


def send_message(recipient_id: str, text: str, *, human_agent: bool = False) -> str:
    """A text message to a person who wrote to the Page (a Facebook PSID or an Instagram IGSID); Meta's
    message id ("" if it gave none). Inside the 24-hour window it is a RESPONSE; `human_agent` sends it
    with the HUMAN_AGENT tag, which Meta allows for a person's reply up to 7 days after their message."""
    return _send({"id": recipient_id}, text, human_agent=human_agent)


def private_reply(comment_id: str, text: str) -> str:
    """One private message to whoever wrote this Facebook or Instagram comment (Meta allows one per comment,
    within 7 days of it); Meta's message id ("" if it gave none)."""
    return _send({"comment_id": comment_id}, text, human_agent=False)


def reply_to_comment(comment_id: str, text: str, *, platform: str) -> str:
    """A public reply under a comment, as the Page; the new comment's id ("" if Meta gave none).
    A Facebook comment takes replies on its /comments edge, an Instagram comment on /replies."""
    edges = {"facebook": "comments", "instagram": "replies"}
    if platform not in edges:
        raise ValueError(f"no comment replies on {platform!r}")
    answer = call("POST", f"{urllib.parse.quote(comment_id, safe='')}/{edges[platform]}", {"message": text})
    return str(answer.get("id") or "")


def _send(recipient: dict[str, str], text: str, *, human_agent: bool) -> str:
    # The Send API takes recipient and message as JSON objects; as form fields they are JSON strings
    # (Meta's own curl examples post them with -d), which keeps every call here the same form POST.
    fields = {"recipient": json.dumps(recipient), "message": json.dumps({"text": text})}
    if human_agent:
        fields |= {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    else:
        fields["messaging_type"] = "RESPONSE"
    # With a Page token "me" is the Page itself, so a token without FIG_META_PAGE_ID can still answer.
    page = urllib.parse.quote(settings.FIG_META_PAGE_ID, safe="") or "me"
    return str(call("POST", f"{page}/messages", fields).get("message_id") or "")


# --- attachments on messages ----------------------------------------------------------------------------------

_ATTACHMENT_REDIRECTS = 3  # Meta's lookaside.fbsbx.com links send you on to a CDN host once


def fetch_attachment(url: str, *, max_bytes: int) -> tuple[bytes, str]:
    """The bytes and content type behind an attachment URL from a webhook (Meta's signed, expiring CDN
    links). Only https addresses on FIG_META_CDN_HOSTS are fetched, and redirects only to those; no
    token is sent, as the link itself is the permission. Raises GraphError: REFUSED with "not a Meta
    address" or "too large" (nothing past `max_bytes` is read), or as `call` does for the rest."""
    if not _is_meta_address(url):
        raise GraphError(REFUSED, "not a Meta address")
    opener = urllib.request.build_opener(_MetaOnlyRedirects)
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - scheme and host checked above
    deadline = time.monotonic() + settings.FIG_GRAPH_TIMEOUT
    try:
        with opener.open(request, timeout=settings.FIG_GRAPH_TIMEOUT) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise GraphError(REFUSED, "too large")
            data = _read_capped(response, max_bytes, deadline)
            content_type = response.headers.get_content_type() if response.headers.get("Content-Type") else ""
    except urllib.error.HTTPError as exc:
        raise GraphError(REFUSED, _error_message(exc), status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise GraphError(TIMEOUT) from exc
        raise GraphError(UNREACHABLE) from exc
    return data, content_type or "application/octet-stream"


def _read_capped(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    # Read in pieces: a missing or false Content-Length must not let a file past the cap into memory, and a
    # server that trickles must not hold the caller past the timeout (the socket's only covers each read).
    chunks, size = [], 0
    while chunk := response.read(min(65536, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise GraphError(REFUSED, "too large")
        if time.monotonic() > deadline:
            raise GraphError(TIMEOUT)
    return b"".join(chunks)


def _is_meta_address(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https" and port in (None, 443):
        hosts = {h.strip().lower().strip(".") for h in settings.FIG_META_CDN_HOSTS if h.strip().strip(".")}
        return any(host == h or host.endswith("." + h) for h in hosts)
    # The tests' fake Graph API serves attachments on its own loopback address: allow exactly that origin,
    # and only while the Graph API itself is configured there, so production never fetches plain http.
    api = urllib.parse.urlsplit(settings.FIG_GRAPH_API_URL)
    return (
        api.scheme == "http"
        and api.hostname == "127.0.0.1"
        and (parts.scheme, host, port) == (api.scheme, api.hostname, api.port)
    )


class _MetaOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to another Meta address, and only a few times."""

    max_redirections = _ATTACHMENT_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib's hook, its own signature
        if not _is_meta_address(newurl):
            fp.close()
            raise GraphError(REFUSED, "not a Meta address")
        return super().redirect_request(req, fp, code, msg, headers, newurl)
