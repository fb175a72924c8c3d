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
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def platform_time(value: Any) -> datetime:
    """Meta sends seconds or milliseconds since the epoch, or an ISO 8601 string."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        return datetime.fromtimestamp(number, tz=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"Unreadable timestamp {value!r}")


def parse(payload: dict[str, Any]) -> list[Incoming]:
    """Messages and comments in a webhook payload; echoes, reads and deliveries are ignored."""
    object_type = payload.get("object")
    found: list[Incoming] = []
    for entry in payload.get("entry") or []:
        for event in entry.get("messaging") or []:
            message = event.get("message")
            if not isinstance(message, dict) or message.get("is_echo") or not message.get("mid"):
                continue  # reads, deliveries, echoes of our own replies
            found.append(Incoming(
                platform="instagram" if object_type == "instagram" else "messenger",
                kind="message",
                platform_id=str(message["mid"]),
                sender_id=str((event.get("sender") or {}).get("id", "")),
                sender_name="",
                text=str(message.get("text") or "[an attachment with no text]"),
                received_at=platform_time(event.get("timestamp")),
            ))
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            field = change.get("field")
            if object_type == "page" and field == "feed" and value.get("item") == "comment" and value.get("verb", "add") == "add":
                sender = value.get("from") or {}
                found.append(Incoming(
                    platform="facebook", kind="comment", platform_id=str(value["comment_id"]),
                    sender_id=str(sender.get("id", "")), sender_name=str(sender.get("name", "")),
                    text=str(value.get("message") or ""), received_at=platform_time(value.get("created_time")),
                    permalink=str(value.get("permalink_url") or ""),
                ))
            elif object_type == "instagram" and field == "comments" and value.get("id"):
                sender = value.get("from") or {}
                found.append(Incoming(
                    platform="instagram", kind="comment", platform_id=str(value["id"]),
                    sender_id=str(sender.get("id", "")), sender_name=str(sender.get("username", "")),
                    text=str(value.get("text") or ""),
                    received_at=platform_time(value.get("timestamp") or entry.get("time")),
                ))
    return found
