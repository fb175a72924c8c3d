"""Meta (Facebook Page, Messenger, Instagram) webhooks: signature check, safe decoding and event parsing.

`parse_delivery` turns one webhook body into the `Event`s the inbox acts on; the contract with the inbox
services is in the `Attachment`, `Event` and `Delivery` dataclasses below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

MAX_ID = 200
MAX_TEXT = 20_000
MAX_NAME = 200
MAX_TYPE = 30
MAX_URL = 4_096
MAX_DEPTH = 64

# Permalinks are shown to staff as "open on Facebook/Instagram": only Meta's own public pages qualify.
PERMALINK_HOSTS = frozenset(
    {"facebook.com", "www.facebook.com", "m.facebook.com", "fb.com", "instagram.com", "www.instagram.com"}
)
# A story's media lives on Meta's content networks rather than on the public sites.
STORY_HOST_SUFFIXES = ("facebook.com", "fb.com", "instagram.com", "fbcdn.net", "fbsbx.com", "cdninstagram.com")

# Meta's verbs, as the inbox's actions; verbs not listed (block, mute, ...) are not inbox events.
_ACTIONS = {
    "add": "add",
    "edited": "edit",
    "edit": "edit",
    "remove": "remove",
    "delete": "remove",
    "hide": "hide",
    "unhide": "unhide",
}
_VISITOR_POST_ITEMS = frozenset({"post", "status", "photo", "video"})

_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates (pairs were joined by the decoder)
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)  # possessive: linear even on an unterminated string
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class Attachment:
    type: str  # "image", "video", "audio", "file", "sticker", "share", "story_mention", "ig_reel", ... (<= 30)
    url: str = ""  # Meta's (expiring) https URL for the bytes, "" if none
    title: str = ""  # a share's or file's title, "sticker <id>" for a sticker


@dataclass(frozen=True)
class Event:
    platform: str  # "messenger", "facebook" (Page feed), "instagram"
    kind: str  # "message", "comment", "visitor_post", "mention", "postback", "story_reply", "story_mention", "review"
    action: str  # "add", "edit", "remove", "hide", "unhide"
    platform_id: str  # the item's own id; never ""
    person_id: str  # the sender of an incoming item; the recipient for FiG's own message; "" if unknown
    person_name: str  # "" when Meta does not send one
    text: str
    at: datetime  # aware UTC, the platform's own time
    from_fig: bool = False
    parent_id: str = ""  # comments: the post or media commented on
    permalink: str = ""  # only https on Meta's public hosts
    attachments: tuple[Attachment, ...] = ()
    story_link: str = ""  # story reply or mention: the story's https URL on a Meta host, or its id
    reply_to: str = ""  # mid or comment id this replies to
    rating: int | None = None  # reviews: 1-5


@dataclass(frozen=True)
class Delivery:
    events: list[Event]
    skipped: int  # malformed items, logged by where they were and why, never by their content


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


# --- decoding ---------------------------------------------------------------------------------


def load_body(body: bytes) -> object:
    """The webhook body as JSON, refusing nesting deeper than 64 before decoding, with every string cleaned.

    Raises ValueError (UnicodeDecodeError and JSONDecodeError are ValueErrors) for anything unreadable.
    """
    text = body.decode("utf-8")  # Meta sends UTF-8; json.loads would also guess UTF-16 and UTF-32
    if _depth(body) > MAX_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return _cleaned(json.loads(text, parse_constant=_no_constant))
    except RecursionError as exc:  # unreachable after the depth check; kept so a bug cannot become a 500
        raise ValueError("JSON nested too deeply") from exc


def _depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, counted in C-speed passes: no Python loop per character."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if byte in b"[{" else -1 for byte in brackets), default=0)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _cleaned(value: Any) -> Any:
    """Depth is at most 64 here, so plain recursion is safe."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _cleaned(item) for key, item in value.items()}
    return value


def clean_text(value: str, limit: int | None = None) -> str:
    """NUL bytes and lone surrogates removed (PostgreSQL and UTF-8 refuse both), then cut to `limit`."""
    cleaned = _NOT_TEXT.sub("", value)
    return cleaned[:limit] if limit is not None else cleaned


# --- parsing ----------------------------------------------------------------------------------


class _Malformed(Exception):
    """An item that cannot be read; `path` and `reason` never hold the payload's own content."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class _Entry:
    """One `entry[]` element: the Page or Instagram account it is about, and its time as the fallback."""

    platform_object: str  # "page" or "instagram"
    own_id: str
    raw: dict[str, Any]
    path: str

    def time(self) -> datetime:
        return _time(self.raw.get("time"), f"{self.path}.time")


def parse_delivery(payload: object) -> Delivery:
    """Every inbox event in one webhook delivery; a malformed item is logged, counted and passed over.

    Raises ValueError only when the body as a whole is not a Meta delivery (an object with "object" and
    "entry"). Deliveries for objects other than a Page or an Instagram account hold no inbox events.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("object"), str):
        raise ValueError("Not a Meta webhook delivery: no object")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise ValueError("Not a Meta webhook delivery: no list of entries")
    platform_object = payload["object"]
    events: list[Event] = []
    skipped = 0
    if platform_object not in ("page", "instagram"):
        return Delivery(events=events, skipped=skipped)
    for index, raw_entry in enumerate(entries):
        path = f"entry[{index}]"
        try:
            entry, groups = _entry(raw_entry, path, platform_object)
        except _Malformed as exc:
            _log_skip(exc)
            skipped += 1
            continue
        for key, items, parse_item in groups:
            for position, item in enumerate(items):
                try:
                    event = parse_item(item, f"{path}.{key}[{position}]", entry)
                except _Malformed as exc:
                    _log_skip(exc)
                    skipped += 1
                    continue
                if event is not None:
                    events.append(event)
    return Delivery(events=events, skipped=skipped)


def _log_skip(exc: _Malformed) -> None:
    logger.warning("Meta webhook: skipped a malformed item at %s (%s)", exc.path, exc.reason)


def _entry(raw: Any, path: str, platform_object: str) -> tuple[_Entry, list[tuple[str, list[Any], Any]]]:
    if not isinstance(raw, dict):
        raise _Malformed(path, "not an object")
    entry = _Entry(platform_object=platform_object, own_id=_id(raw, "id", path), raw=raw, path=path)
    # "standby" carries the same events as "messaging" while another app owns the conversation
    # (Meta Business Suite, say): they are still messages to FiG.
    return entry, [
        ("messaging", _list(raw, "messaging", path), _messaging_event),
        ("standby", _list(raw, "standby", path), _messaging_event),
        ("changes", _list(raw, "changes", path), _change_event),
    ]


# Readers: each returns a cleaned value or raises _Malformed with the field's path.


def _obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"{path}.{key}", "not an object")
    return value


def _list(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{path}.{key}", "not a list")
    return value


def _str(parent: dict[str, Any], key: str, path: str, limit: int = MAX_TEXT) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"{path}.{key}", "not a string")
    return clean_text(value, limit)


def _id(parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = parent.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # older payloads send numeric ids as JSON numbers
    elif value is not None and not isinstance(value, str):
        raise _Malformed(f"{path}.{key}", "not a string or whole number")
    cleaned = clean_text(value or "").strip()
    if len(cleaned) > MAX_ID:
        raise _Malformed(f"{path}.{key}", f"longer than {MAX_ID} characters")
    if required and not cleaned:
        raise _Malformed(f"{path}.{key}", "missing")
    return cleaned


def _time(value: Any, path: str) -> datetime:
    try:
        return platform_time(value)
    except (ValueError, TypeError):
        raise _Malformed(path, "unreadable time") from None


def _time_of(parent: dict[str, Any], key: str, path: str, entry: _Entry) -> datetime:
    """The item's own time, or the entry's when Meta leaves it out (removals, reviews, Instagram comments)."""
    if parent.get(key) is None:
        return entry.time()
    return _time(parent[key], f"{path}.{key}")


def _https(value: str) -> bool:
    """An https URL with a host and nothing to hide in it; a URL too long is refused, never shortened."""
    if not value or len(value) > MAX_URL or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc and port in (None, 443)


def _permalink_or_blank(url: str) -> str:
    return url if _https(url) and urlsplit(url).hostname in PERMALINK_HOSTS else ""


def _on_meta_host(url: str) -> bool:
    if not _https(url):
        return False
    host = urlsplit(url).hostname or ""
    return any(host == suffix or host.endswith(f".{suffix}") for suffix in STORY_HOST_SUFFIXES)


def _https_or_blank(url: str) -> str:
    return url if _https(url) else ""


def _platform(entry: _Entry, page_platform: str) -> str:
    return "instagram" if entry.platform_object == "instagram" else page_platform


# --- messaging[]: Messenger and Instagram Direct ---------------------------------------------


def _messaging_event(item: Any, path: str, entry: _Entry) -> Event | None:
    if not isinstance(item, dict):
        raise _Malformed(path, "not an object")
    if item.get("message") is not None:
        return _message(item, path, entry)
    if item.get("message_edit") is not None:
        return _message_edit(item, path, entry)
    if item.get("postback") is not None:
        return _postback(item, path, entry)
    return None  # read, delivery, reaction, optin, referral, handover: nothing for the inbox


def _parties(item: dict[str, Any], path: str, entry: _Entry, *, echo: bool) -> tuple[str, bool]:
    """(the other party's id, from_fig); for FiG's own message the other party is its recipient."""
    sender = _obj(item, "sender", path)
    sender_id = _id(sender, "id", f"{path}.sender") or _id(sender, "user_ref", f"{path}.sender")
    from_fig = echo or bool(entry.own_id and sender_id == entry.own_id)
    if from_fig:
        return _id(_obj(item, "recipient", path), "id", f"{path}.recipient", required=True), True
    if not sender_id:
        raise _Malformed(f"{path}.sender.id", "missing")
    return sender_id, False


def _message(item: dict[str, Any], path: str, entry: _Entry) -> Event:
    mpath = f"{path}.message"
    message = _obj(item, "message", path)
    platform_id = _id(message, "mid", mpath, required=True)
    is_echo = message.get("is_echo") is True
    person_id, from_fig = _parties(item, path, entry, echo=is_echo)
    at = _time_of(item, "timestamp", path, entry)
    text = _str(message, "text", mpath)
    if not text:  # a quick reply's button text normally arrives as the text; its payload is the fallback
        payload = _str(_obj(message, "quick_reply", mpath), "payload", f"{mpath}.quick_reply", MAX_TEXT - 2)
        text = f"({payload})" if payload else ""
    sticker = _id(message, "sticker_id", mpath)
    attachments = [
        _attachment(raw, f"{mpath}.attachments[{index}]", sticker)
        for index, raw in enumerate(_list(message, "attachments", mpath))
    ]
    if message.get("is_unsupported") is True:
        attachments.append(Attachment(type="unsupported"))
    kind, story_link = "message", ""
    replied = _obj(message, "reply_to", mpath)
    reply_to = _id(replied, "mid", f"{mpath}.reply_to")
    story = _obj(replied, "story", f"{mpath}.reply_to")
    if story:
        spath = f"{mpath}.reply_to.story"
        url = _str(story, "url", spath)
        kind, story_link = "story_reply", url if _on_meta_host(url) else _id(story, "id", spath)
    mention = next((a for a in attachments if a.type == "story_mention"), None)
    if mention is not None:
        kind, story_link = "story_mention", mention.url if _on_meta_host(mention.url) else ""
    return Event(
        platform=_platform(entry, "messenger"),
        kind=kind,
        action="remove" if message.get("is_deleted") is True else "add",
        platform_id=platform_id,
        person_id=person_id,
        person_name="",
        text=text,
        at=at,
        from_fig=from_fig,
        attachments=tuple(attachments),
        story_link=story_link,
        reply_to=reply_to,
    )


def _attachment(raw: Any, path: str, sticker_id: str) -> Attachment:
    if not isinstance(raw, dict):
        raise _Malformed(path, "not an object")
    kind = _str(raw, "type", path, MAX_TYPE) or "unsupported"
    payload = _obj(raw, "payload", path)
    ppath = f"{path}.payload"
    url = _str(payload, "url", ppath) or _str(raw, "URL", path) or _str(raw, "url", path)
    title = _str(payload, "title", ppath) or _str(raw, "title", path)
    sticker = _id(payload, "sticker_id", ppath) or (sticker_id if kind == "image" else "")
    if sticker:  # Meta sends a sticker as an image carrying a sticker_id (369239263222822 is the thumbs-up)
        kind, title = "sticker", f"sticker {sticker}"
    return Attachment(type=kind, url=_https_or_blank(url), title=title)


def _message_edit(item: dict[str, Any], path: str, entry: _Entry) -> Event:
    epath = f"{path}.message_edit"
    edit = _obj(item, "message_edit", path)
    platform_id = _id(edit, "mid", epath, required=True)
    person_id, from_fig = _parties(item, path, entry, echo=False)
    return Event(
        platform=_platform(entry, "messenger"),
        kind="message",
        action="edit",
        platform_id=platform_id,
        person_id=person_id,
        person_name="",
        text=_str(edit, "text", epath),
        at=_time_of(item, "timestamp", path, entry),
        from_fig=from_fig,
    )


def _postback(item: dict[str, Any], path: str, entry: _Entry) -> Event:
    """Get Started, ice-breakers and menu buttons: the person chose something, so there is someone to answer."""
    ppath = f"{path}.postback"
    postback = _obj(item, "postback", path)
    person_id, from_fig = _parties(item, path, entry, echo=False)
    at = _time_of(item, "timestamp", path, entry)
    title = _str(postback, "title", ppath)
    payload = _str(postback, "payload", ppath)
    platform_id = _id(postback, "mid", ppath)
    if not platform_id:  # older postbacks have no mid: the same tap redelivered must keep the same id
        seed = f"{person_id}\n{int(at.timestamp() * 1000)}\n{payload}".encode("utf-8", "surrogatepass")
        platform_id = f"postback-{hashlib.sha256(seed).hexdigest()[:40]}"
    text = " ".join(part for part in (title, f"({payload})" if payload else "") if part)
    return Event(
        platform=_platform(entry, "messenger"),
        kind="postback",
        action="add",
        platform_id=platform_id,
        person_id=person_id,
        person_name="",
        text=clean_text(text, MAX_TEXT),
        at=at,
        from_fig=from_fig,
    )


# --- changes[]: Page feed, mentions and reviews; Instagram comments and mentions -----------


def _change_event(change: Any, path: str, entry: _Entry) -> Event | None:
    if not isinstance(change, dict):
        raise _Malformed(path, "not an object")
    field = _str(change, "field", path)
    readers = _PAGE_FIELDS if entry.platform_object == "page" else _INSTAGRAM_FIELDS
    reader = readers.get(field)
    if reader is None:
        return None  # fields the inbox does not act on (leadgen, story_insights, ...)
    return reader(_obj(change, "value", path), f"{path}.value", entry)


def _action(value: dict[str, Any], path: str) -> str | None:
    return _ACTIONS.get(_str(value, "verb", path) or "add")


def _author(value: dict[str, Any], path: str, entry: _Entry, *, id_key: str, name_key: str) -> tuple[str, str, bool]:
    """(person_id, person_name, from_fig) from `from` or the older flat fields; FiG's own has no other party."""
    sender = _obj(value, "from", path)
    person_id = _id(sender, "id", f"{path}.from") or _id(value, id_key, path)
    name = _str(sender, "name", f"{path}.from", MAX_NAME) or _str(value, name_key, path, MAX_NAME)
    if entry.own_id and person_id == entry.own_id:
        return "", "", True
    return person_id, name, False


def _permalink(value: dict[str, Any], path: str) -> str:
    post = _obj(value, "post", path)
    url = _str(post, "permalink_url", f"{path}.post") or _str(value, "permalink_url", path)
    return _permalink_or_blank(url)


def _feed(value: dict[str, Any], path: str, entry: _Entry) -> Event | None:
    item = _str(value, "item", path)
    action = _action(value, path)
    if action is None or (item != "comment" and item not in _VISITOR_POST_ITEMS):
        return None  # reactions, likes, shares, albums, events, video blocks: nothing to answer
    if item == "comment":
        platform_id = _id(value, "comment_id", path, required=True)
        post_id = _id(value, "post_id", path)
        parent = _id(value, "parent_id", path)
        reply_to = parent if parent and parent != post_id else ""
    else:
        platform_id = _id(value, "post_id", path) or _id(value, f"{item}_id", path, required=True)
        post_id, reply_to = "", ""
    person_id, name, from_fig = _author(value, path, entry, id_key="sender_id", name_key="sender_name")
    return Event(
        platform="facebook",
        kind="comment" if item == "comment" else "visitor_post",
        action=action,
        platform_id=platform_id,
        person_id=person_id,
        person_name=name,
        text=_str(value, "message", path),
        at=_time_of(value, "created_time", path, entry),
        from_fig=from_fig,
        parent_id=post_id,
        permalink=_permalink(value, path),
        attachments=_feed_media(value, path, item),
        reply_to=reply_to,
    )


def _feed_media(value: dict[str, Any], path: str, item: str) -> tuple[Attachment, ...]:
    """A comment's photo or video, a photo or video post's file, a status's photos."""
    found: list[Attachment] = []
    for key, kind in (("photo", "image"), ("video", "video")):
        url = _str(value, key, path)
        if _https(url):
            found.append(Attachment(type=kind, url=url))
    if item in ("photo", "video"):
        url = _str(value, "link", path)
        if _https(url):
            found.append(Attachment(type="image" if item == "photo" else "video", url=url))
    for index, url in enumerate(_list(value, "photos", path)):
        if not isinstance(url, str):
            raise _Malformed(f"{path}.photos[{index}]", "not a string")
        if _https(url):
            found.append(Attachment(type="image", url=clean_text(url)))
    return tuple(found)


def _page_mention(value: dict[str, Any], path: str, entry: _Entry) -> Event | None:
    """The Page was tagged in someone's post or comment, usually on their own timeline."""
    item = _str(value, "item", path) or "post"
    action = _action(value, path)
    if action is None or item not in ("post", "comment"):
        return None
    post_id = _id(value, "post_id", path, required=item == "post")
    if item == "comment":
        platform_id, parent_id = _id(value, "comment_id", path, required=True), post_id
    else:
        platform_id, parent_id = post_id, ""
    person_id, name, from_fig = _author(value, path, entry, id_key="sender_id", name_key="sender_name")
    return Event(
        platform="facebook",
        kind="mention",
        action=action,
        platform_id=platform_id,
        person_id=person_id,
        person_name=name,
        text=_str(value, "message", path),
        at=_time_of(value, "created_time", path, entry),
        from_fig=from_fig,
        parent_id=parent_id,
        permalink=_permalink(value, path),
    )


def _rating(value: dict[str, Any], path: str, entry: _Entry) -> Event | None:
    """A review (recommendation) of the Page, or a comment under one; likes and reactions are ignored."""
    item = _str(value, "item", path) or "rating"
    action = _action(value, path)
    if action is None or item not in ("rating", "comment"):
        return None
    if item == "comment":  # a reply under a review: FiG's own counts as answering the review
        story = _id(value, "open_graph_story_id", path) or _id(value, "post_id", path)
        person_id, name, from_fig = _author(value, path, entry, id_key="sender_id", name_key="sender_name")
        return Event(
            platform="facebook",
            kind="comment",
            action=action,
            platform_id=_id(value, "comment_id", path, required=True),
            person_id=person_id,
            person_name=name,
            text=_str(value, "message", path),
            at=_time_of(value, "created_time", path, entry),
            from_fig=from_fig,
            parent_id=story,
            permalink=_permalink(value, path),
        )
    platform_id = _id(value, "open_graph_story_id", path) or _id(value, "review_id", path)
    if not platform_id:
        raise _Malformed(f"{path}.open_graph_story_id", "missing")
    person_id, name, from_fig = _author(value, path, entry, id_key="reviewer_id", name_key="reviewer_name")
    return Event(
        platform="facebook",
        kind="review",
        action=action,
        platform_id=platform_id,
        person_id=person_id,
        person_name=name,
        text=_str(value, "review_text", path),
        at=_time_of(value, "created_time", path, entry),
        from_fig=from_fig,
        permalink=_permalink(value, path),
        rating=_stars(value, path),
    )


def _stars(value: dict[str, Any], path: str) -> int | None:
    """Meta replaced 1-5 stars with recommend / don't recommend in 2018; old reviews still carry stars."""
    stars = value.get("rating")
    if stars is not None and (isinstance(stars, bool) or not isinstance(stars, int)):
        raise _Malformed(f"{path}.rating", "not a whole number")
    if stars is not None and 1 <= stars <= 5:
        return stars
    return {"positive": 5, "negative": 1}.get(_str(value, "recommendation_type", path))


def _instagram_comment(value: dict[str, Any], path: str, entry: _Entry) -> Event:
    """A comment (or a live comment) on one of FiG's Instagram posts, reels or live videos."""
    platform_id = _id(value, "id", path, required=True)
    sender = _obj(value, "from", path)
    person_id = _id(sender, "id", f"{path}.from")
    name = _str(sender, "username", f"{path}.from", MAX_NAME)
    from_fig = bool(entry.own_id and person_id == entry.own_id)
    return Event(
        platform="instagram",
        kind="comment",
        action="add",  # Instagram notifies new comments only, with no verb
        platform_id=platform_id,
        person_id="" if from_fig else person_id,
        person_name="" if from_fig else name,
        text=_str(value, "text", path),
        at=_time_of(value, "timestamp", path, entry),
        from_fig=from_fig,
        parent_id=_id(_obj(value, "media", path), "id", f"{path}.media"),
        reply_to=_id(value, "parent_id", path),
    )


def _instagram_mention(value: dict[str, Any], path: str, entry: _Entry) -> Event:
    """FiG's account was @mentioned in a caption or comment; Meta sends only the ids, fetched on demand."""
    media_id = _id(value, "media_id", path)
    comment_id = _id(value, "comment_id", path)
    if not (media_id or comment_id):
        raise _Malformed(f"{path}.media_id", "missing")
    return Event(
        platform="instagram",
        kind="mention",
        action="add",
        platform_id=comment_id or media_id,
        person_id="",
        person_name="",
        text="",
        at=entry.time(),
        parent_id=media_id if comment_id else "",
    )


_PAGE_FIELDS = {"feed": _feed, "mention": _page_mention, "ratings": _rating}
_INSTAGRAM_FIELDS = {
    "comments": _instagram_comment,
    "live_comments": _instagram_comment,
    "mentions": _instagram_mention,
}


# --- the first parser's result: tests/social/inbox/test_services.py still imports it; remove with that import ---


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
