"""The one client for Meta's Graph API (Facebook Page and Instagram): publishing a post on the Page, and
hiding and deleting comments. Used only when it is configured (FIG_META_PAGE_TOKEN, and FIG_META_PAGE_ID
to publish). Nothing here touches the database: callers make these calls with no row locked.
"""

from __future__ import annotations

import json
import secrets
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
    """One Graph API request with the page token: a POST (form fields, or multipart with `files`) or a
    DELETE. Returns the answer; raises GraphError for any refusal, timeout or unreadable answer."""
    url = f"{settings.FIG_GRAPH_API_URL.rstrip('/')}/{path.lstrip('/')}"
    fields = {**(fields or {}), "access_token": settings.FIG_META_PAGE_TOKEN}
    if method == "DELETE":  # a DELETE body has no defined meaning (RFC 9110): the Graph API reads the query string
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
    return str(error.get("message") or "unknown error")[:200] if isinstance(error, dict) else "unknown error"


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
