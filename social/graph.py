"""A small Graph API client for hiding and deleting comments, used only when configured."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings


class GraphError(Exception):
    """The Graph API refused or did not answer; nothing should be marked as done."""


def graph_configured() -> bool:
    return bool(settings.FIG_META_PAGE_TOKEN)


def _call(method: str, path: str, data: dict[str, str] | None = None) -> dict:
    url = f"{settings.FIG_GRAPH_API_URL.rstrip('/')}/{path.lstrip('/')}"
    params = urllib.parse.urlencode({**(data or {}), "access_token": settings.FIG_META_PAGE_TOKEN})
    if method == "POST":
        request = urllib.request.Request(url, data=params.encode(), method=method)  # noqa: S310 - our setting
    else:  # a DELETE body has no defined meaning (RFC 9110): the Graph API reads the query string
        request = urllib.request.Request(f"{url}?{params}", method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=settings.FIG_GRAPH_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise GraphError(f"The Graph API refused ({exc.code}{_error_message(exc)}).") from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise GraphError("The Graph API did not answer in time.") from exc
        raise GraphError("The Graph API could not be reached or gave an unreadable answer.") from exc
    if isinstance(answer, dict) and answer.get("error"):
        raise GraphError(f"The Graph API refused: {_describe(answer['error'])}.")
    if isinstance(answer, dict) and answer.get("success") is False:
        raise GraphError("The Graph API answered that it did not succeed.")
    return answer


def _describe(error: object) -> str:
    return str(error.get("message") or "unknown error") if isinstance(error, dict) else "unknown error"


def _error_message(exc: urllib.error.HTTPError) -> str:
    """Meta explains a refusal in the body ({"error": {"message": ...}}); the admin should see why."""
    try:
        error = json.loads(exc.read() or b"{}").get("error")
    except (ValueError, AttributeError, OSError):
        return ""
    return f": {_describe(error)}" if error else ""


def hide_comment(comment_id: str, *, platform: str = "facebook") -> None:
    # Facebook comments take is_hidden; Instagram comments take hide.
    field = "hide" if platform == "instagram" else "is_hidden"
    _call("POST", urllib.parse.quote(comment_id, safe=""), {field: "true"})


def delete_comment(comment_id: str) -> None:
    _call("DELETE", urllib.parse.quote(comment_id, safe=""))
