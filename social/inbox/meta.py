"""Meta (Facebook Page, Messenger, Instagram) webhooks: signature check and payload parsing."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Incoming:
    platform: str  # messenger, facebook, instagram
    kind: str  # message or comment
    platform_id: str
    sender_id: str
    sender_name: str
    text: str
    received_at: datetime
    permalink: str = ""


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    """X-Hub-Signature-256 is 'sha256=' + HMAC-SHA256(raw body, app secret); compared in constant time."""
    if not header or not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str, and a forger chooses the header.
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode())


def platform_time(value: Any) -> datetime:
    """Meta sends seconds or milliseconds since the epoch, or an ISO 8601 string."""
    if isinstance(value, bool):
        raise ValueError(f"Unreadable timestamp {value!r}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        try:
            parsed = datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError) as exc:  # out of range: a bad payload, not a server error
            raise ValueError(f"Unreadable timestamp {value!r}") from exc
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    else:
        raise ValueError(f"Unreadable timestamp {value!r}")
    if not 2000 <= parsed.year <= 2999:  # leaves room for the deadline; anything else is not a real message
        raise ValueError(f"Implausible timestamp {value!r}")
    return parsed


def _dicts(value: Any, what: str) -> list[dict[str, Any]]:
    """A list of objects from the payload, or ValueError: the view answers 400 rather than failing."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"{what} is not a list of objects")
    return value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse(payload: dict[str, Any]) -> list[Incoming]:
    """Messages and comments in a webhook payload; echoes, reads, deliveries and FiG's own comments are ignored.

    Raises ValueError (or KeyError) for a payload whose shape is wrong.
    """
    object_type = payload.get("object")
    found: list[Incoming] = []
    for entry in _dicts(payload.get("entry"), "entry"):
        own_id = str(entry.get("id", ""))  # the Page or Instagram account the entry is about
        for event in _dicts(entry.get("messaging"), "messaging"):
            message = event.get("message")
            if (
                not isinstance(message, dict)
                or message.get("is_echo")
                or message.get("is_deleted")
                or not message.get("mid")
            ):
                continue  # reads, deliveries, echoes of our own replies, unsent messages
            found.append(
                Incoming(
                    platform="instagram" if object_type == "instagram" else "messenger",
                    kind="message",
                    platform_id=str(message["mid"]),
                    sender_id=str(_object(event.get("sender")).get("id", "")),
                    sender_name="",
                    text=str(message.get("text") or "[an attachment with no text]"),
                    received_at=platform_time(event.get("timestamp")),
                )
            )
        for change in _dicts(entry.get("changes"), "changes"):
            value = _object(change.get("value"))
            field = change.get("field")
            sender = _object(value.get("from"))
            if own_id and str(sender.get("id", "")) == own_id:
                continue  # FiG's own reply on its Page or account: nothing to answer
            if (
                object_type == "page"
                and field == "feed"
                and value.get("item") == "comment"
                and value.get("verb", "add") == "add"
            ):
                found.append(
                    Incoming(
                        platform="facebook",
                        kind="comment",
                        platform_id=str(value["comment_id"]),
                        sender_id=str(sender.get("id", "")),
                        sender_name=str(sender.get("name", "")),
                        text=str(value.get("message") or ""),
                        received_at=platform_time(value.get("created_time")),
                        permalink=str(value.get("permalink_url") or ""),
                    )
                )
            elif object_type == "instagram" and field == "comments" and value.get("id"):
                found.append(
                    Incoming(
                        platform="instagram",
                        kind="comment",
                        platform_id=str(value["id"]),
                        sender_id=str(sender.get("id", "")),
                        sender_name=str(sender.get("username", "")),
                        text=str(value.get("text") or ""),
                        received_at=platform_time(value.get("timestamp") or entry.get("time")),
                    )
                )
    return found
