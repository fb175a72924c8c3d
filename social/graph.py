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
    body = urllib.parse.urlencode({**(data or {}), "access_token": settings.FIG_META_PAGE_TOKEN}).encode()
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - the URL is our setting
    try:
        with urllib.request.urlopen(request, timeout=settings.FIG_GRAPH_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise GraphError(f"The Graph API refused ({exc.code}).") from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise GraphError("The Graph API did not answer in time.") from exc
    if isinstance(answer, dict) and answer.get("error"):
        raise GraphError(f"The Graph API refused: {answer['error'].get('message', 'unknown error')}.")
    return answer


def hide_comment(comment_id: str) -> None:
    _call("POST", urllib.parse.quote(comment_id), {"is_hidden": "true"})


def delete_comment(comment_id: str) -> None:
    _call("DELETE", urllib.parse.quote(comment_id))
