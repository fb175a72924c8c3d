"""Meta webhook payloads as Meta sends them, and their X-Hub-Signature-256, for the inbox tests.

Stable API (others import it):

- `messenger_message(text=..., mid=None, sender_id=..., timestamp_ms=None)` -> payload (object "page")
- `page_comment(message=..., comment_id=None, from_id=..., from_name=..., created_time=None, verb="add")`
- `instagram_message(...)`, `instagram_comment(text=..., comment_id=None, from_id=..., username=..., time=None)`
- `messenger_echo()`, `messenger_read()`, `messenger_delivery()`: events the inbox ignores
- `combine(*payloads)` -> one payload with every entry (same `object`)
- `body(payload)` -> bytes; `sign(body, secret=APP_SECRET)` -> "sha256=<hex>"
- `post(client, payload_or_bytes, secret=APP_SECRET, signature=None)` -> response (signed unless told)
- `ms(dt)`, `seconds(dt)`: epoch timestamps in the two forms Meta uses
- `APP_SECRET`, `VERIFY_TOKEN`, `PAGE_ID`, `IG_ACCOUNT_ID`, `WEBHOOK_URL`

Ids are unique per call unless given, so two calls are two different messages;
pass the same payload twice to simulate a redelivery.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime
from typing import Any

APP_SECRET = "test-app-secret-0123456789abcdef"
VERIFY_TOKEN = "test-verify-token"
PAGE_ID = "104000000000001"
IG_ACCOUNT_ID = "17841400000000001"
WEBHOOK_URL = "/social/webhooks/meta/"
DEFAULT_AT = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)  # 10:00 in London, before the October change

_ids = itertools.count(1)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def seconds(at: datetime) -> int:
    return int(at.timestamp())


def _next(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


def _messaging(object_type: str, recipient: str, event: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "object": object_type,
        "entry": [{"id": recipient, "time": ms(at), "messaging": [event]}],
    }


def messenger_message(
    text: str = "Hello, when is the next family day?",
    *,
    mid: str | None = None,
    sender_id: str = "2400000000000001",
    timestamp_ms: int | None = None,
    at: datetime = DEFAULT_AT,
) -> dict[str, Any]:
    stamp = ms(at) if timestamp_ms is None else timestamp_ms
    return _messaging(
        "page",
        PAGE_ID,
        {
            "sender": {"id": sender_id},
            "recipient": {"id": PAGE_ID},
            "timestamp": stamp,
            "message": {"mid": mid or _next("m_fb_"), "text": text},
        },
        at,
    )


def instagram_message(
    text: str = "Hi FiG, can my son join the club?",
    *,
    mid: str | None = None,
    sender_id: str = "6400000000000001",
    timestamp_ms: int | None = None,
    at: datetime = DEFAULT_AT,
) -> dict[str, Any]:
    stamp = ms(at) if timestamp_ms is None else timestamp_ms
    return _messaging(
        "instagram",
        IG_ACCOUNT_ID,
        {
            "sender": {"id": sender_id},
            "recipient": {"id": IG_ACCOUNT_ID},
            "timestamp": stamp,
            "message": {"mid": mid or _next("aWdfZAG1faXRlbToxOklHTWVzc2FnZA_"), "text": text},
        },
        at,
    )


def messenger_echo(text: str = "Thanks, we will get back to you.", *, at: datetime = DEFAULT_AT) -> dict[str, Any]:
    """FiG's own reply, echoed back by Messenger."""
    return _messaging(
        "page",
        PAGE_ID,
        {
            "sender": {"id": PAGE_ID},
            "recipient": {"id": "2400000000000001"},
            "timestamp": ms(at),
            "message": {"mid": _next("m_echo_"), "text": text, "is_echo": True, "app_id": 1517000000000001},
        },
        at,
    )


def messenger_read(*, at: datetime = DEFAULT_AT) -> dict[str, Any]:
    return _messaging(
        "page",
        PAGE_ID,
        {
            "sender": {"id": "2400000000000001"},
            "recipient": {"id": PAGE_ID},
            "timestamp": ms(at),
            "read": {"watermark": ms(at)},
        },
        at,
    )


def messenger_delivery(*, at: datetime = DEFAULT_AT) -> dict[str, Any]:
    return _messaging(
        "page",
        PAGE_ID,
        {
            "sender": {"id": "2400000000000001"},
            "recipient": {"id": PAGE_ID},
            "timestamp": ms(at),
            "delivery": {"mids": [_next("m_fb_")], "watermark": ms(at)},
        },
        at,
    )


def page_comment(
    message: str = "Lovely photos from the picnic!",
    *,
    comment_id: str | None = None,
    from_id: str = "3100000000000001",
    from_name: str = "Alex Commenter",
    created_time: int | str | None = None,
    verb: str = "add",
    at: datetime = DEFAULT_AT,
) -> dict[str, Any]:
    """A comment on a Page post (`changes[].field == "feed"`); created_time in seconds unless given."""
    post_id = f"{PAGE_ID}_{next(_ids)}"
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": seconds(at),
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": from_id, "name": from_name},
                            "post": {"id": post_id, "status_type": "added_photos", "is_published": True},
                            "message": message,
                            "post_id": post_id,
                            "comment_id": comment_id or f"{post_id}_{_next('')}",
                            "created_time": seconds(at) if created_time is None else created_time,
                            "item": "comment",
                            "parent_id": post_id,
                            "verb": verb,
                            "permalink_url": f"https://www.facebook.com/{post_id}",
                        },
                    }
                ],
            }
        ],
    }


def instagram_comment(
    text: str = "Great day out!",
    *,
    comment_id: str | None = None,
    from_id: str = "17841400000000099",
    username: str = "a_commenter",
    time: int | None = None,
    at: datetime = DEFAULT_AT,
) -> dict[str, Any]:
    """A comment on FiG's Instagram media; Instagram gives the time on the entry, in seconds."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ACCOUNT_ID,
                "time": seconds(at) if time is None else time,
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "from": {"id": from_id, "username": username},
                            "media": {"id": "17900000000000001", "media_product_type": "FEED"},
                            "id": comment_id or _next("179000"),
                            "text": text,
                        },
                    }
                ],
            }
        ],
    }


def combine(*payloads: dict[str, Any]) -> dict[str, Any]:
    """One delivery carrying several entries, as Meta batches them."""
    objects = {p["object"] for p in payloads}
    if len(objects) != 1:
        raise ValueError(f"one delivery carries one object type, not {objects}")
    return {"object": objects.pop(), "entry": [entry for p in payloads for entry in p["entry"]]}


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def post(
    client,
    payload: dict[str, Any] | bytes,
    *,
    secret: str = APP_SECRET,
    signature: str | None = None,
    unsigned: bool = False,
):
    """POST to the webhook as Meta does: raw JSON body, signed with `secret` unless `signature`/`unsigned`."""
    raw = payload if isinstance(payload, bytes) else body(payload)
    headers = {}
    if not unsigned:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature if signature is not None else sign(raw, secret)
    return client.post(WEBHOOK_URL, data=raw, content_type="application/json", **headers)
