"""Reads for the inbox: the tabs, a conversation's thread, a message's history, the takedown lists and the
response dashboard.

Every function here runs a fixed number of queries, whatever the number of messages.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from fig_safety.times import LONDON, when
from social.inbox.attachments import INLINE_TYPES, KEPT_TYPES
from social.inbox.meta import PERMALINK_HOSTS, STORY_HOST_SUFFIXES
from social.models import Conversation, Message, Takedown
from staff.models import AuditEvent, User
from staff.roles import Role

log = logging.getLogger(__name__)

OPEN = Conversation.Status.OPEN
DONE = [status for status in Conversation.Status.values if status != OPEN]

# The inbox tabs, in the order they are shown: (key, label).
TABS: list[tuple[str, str]] = [
    ("open", "Open"),
    ("overdue", "Overdue"),
    ("mine", "Mine"),
    ("passed", "Passed on"),
    ("done", "Done"),
]
TAB_KEYS = {key for key, _ in TABS}


# --- the inbox -----------------------------------------------------------------------------


def _tab_filter(tab: str, user: User, now: datetime) -> Q:
    mine = Q(assignee=user) | Q(passed_to=user)
    return {
        "open": Q(status=OPEN),
        "overdue": Q(status=OPEN, due_at__lte=now),
        "mine": Q(status=OPEN) & mine,
        "passed": Q(status=OPEN, passed_to__isnull=False),
        "done": Q(status__in=DONE),  # not ~Q(status=OPEN): the status index answers IN, not NOT
    }[tab]


# A tab counts, and pages through, at most this many messages: beyond that it says "1,000+" and asks for
# a search. The inbox then costs the same with a hundred messages or years of them.
TAB_CAP = 1000


def capped_count(messages: QuerySet[Conversation]) -> int:
    """How many messages, counting no further than TAB_CAP."""
    return messages.order_by()[:TAB_CAP].count()


def inbox_tab_counts(user: User, now: datetime) -> dict[str, int]:
    """How many messages each tab holds, up to TAB_CAP. One query per tab, each stopping at the cap."""
    return {key: capped_count(Conversation.objects.filter(_tab_filter(key, user, now))) for key, _ in TABS}


def inbox_messages(*, tab: str, user: User, now: datetime, search: str = "") -> QuerySet[Conversation]:
    """The messages of one tab, with who holds them, ready to page through without a query per row.

    Open tabs: urgent (flagged) first, then the least time left. Done: the most recently done first,
    so a long-closed flagged message does not sit at the top for ever.
    """
    messages = (
        Conversation.objects.filter(_tab_filter(tab, user, now))
        .select_related("assignee", "passed_to")
        .annotate(
            has_open_takedown=Exists(Takedown.objects.filter(message=OuterRef("pk"), status=Takedown.Status.OPEN))
        )
        .defer("response_text", "closed_reason", "passed_note", "flagged_names")
    )
    search = search.strip()
    if search:
        messages = messages.filter(
            Q(text__icontains=search) | Q(sender_name__icontains=search) | Q(sender_id__icontains=search)
        )
    if tab == "done":
        return messages.order_by(F("responded_at").desc(nulls_last=True), F("closed_at").desc(nulls_last=True), "-id")
    return messages.order_by("-urgent", "due_at", "id")


def messages_for_staff(user: User, visible: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """The messages a member of staff was passed or that name their families: open first, soonest due."""
    still_open = Case(When(status=OPEN, then=Value(0)), default=Value(1))
    return visible.select_related("passed_to", "assignee").order_by(still_open, "-urgent", "due_at", "id")


def social_administrators() -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, groups__name=Role.SOCIAL_ADMIN.value)
        .distinct()
        .order_by("full_name", "email")
    )


def staff_to_pass_to() -> QuerySet[User]:
    """Active staff who can sign in to answer: anyone holding a FiG role."""
    return (
        User.objects.filter(is_active=True, groups__name__in=[r.value for r in Role])
        .distinct()
        .order_by("full_name", "email")
    )


# --- one conversation's thread --------------------------------------------------------------

# What the page calls each kind of attachment Meta sends.
ATTACHMENT_NAMES = {
    "image": "Photo",
    "animated_image": "Animated image",
    "sticker": "Sticker",
    "video": "Video",
    "audio": "Audio",
    "file": "File",
    "story_mention": "Story",
    "share": "Shared link",
    "location": "Location",
    "template": "Message with buttons",
    "fallback": "Link",
}
_MAY_PUT_BACK = {Message.Sending.FAILED, Message.Sending.UNCERTAIN}


def _https_link(url: str, allowed: Callable[[str], bool] = lambda host: True) -> str:
    """The address if the page may show it as a link: https, with no user or odd port, on a host `allowed`
    accepts; otherwise "" (the template escapes what it shows either way)."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or port not in (None, 443):
        return ""
    return url if allowed(parts.hostname) else ""


def meta_permalink(url: str) -> str:
    """The address of a post or comment on Facebook or Instagram, if the page may link to it; otherwise ""."""
    return _https_link(url, lambda host: host in PERMALINK_HOSTS)


def _on_meta_host(host: str) -> bool:
    return any(host == suffix or host.endswith(f".{suffix}") for suffix in STORY_HOST_SUFFIXES)


@dataclass(frozen=True)
class ShownAttachment:
    """One attachment as the page shows it: kept (a link to the access-checked view), or why it is not."""

    name: str
    title: str = ""
    url: str = ""
    inline: bool = False
    size: int | None = None
    why_not: str = ""


@dataclass(frozen=True)
class ThreadItem:
    """One message of the thread as the page shows it. `pk` is None for a conversation's own text, shown as
    its message when it has none (typed in, or kept from before conversations had messages)."""

    pk: int | None
    from_fig: bool
    who: str
    at: datetime
    at_text: str
    what: str
    text: str
    by: str = ""
    permalink: str = ""
    story_link: str = ""
    stars: str = ""
    rating: int | None = None
    edited_text: str = ""
    earlier: tuple[tuple[str, str], ...] = ()
    removed: str = ""
    flagged_names: tuple[str, ...] = ()
    attachments: tuple[ShownAttachment, ...] = ()
    link: str = ""
    link_text: str = ""
    sending: str = ""
    sending_label: str = ""
    send_error: str = ""
    can_try_again: bool = False
    can_put_back: bool = False


def _attachments(item: Message) -> tuple[ShownAttachment, ...]:
    shown = []
    for index, attachment in enumerate(item.attachments or []):
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("type") or "")
        name = ATTACHMENT_NAMES.get(kind, "Attachment")
        title = str(attachment.get("title") or "")
        if attachment.get("blob"):
            shown.append(
                ShownAttachment(
                    name=name,
                    title=title,
                    url=reverse("social:attachment", args=[item.conversation_id, item.pk, index]),
                    inline=attachment.get("content_type") in INLINE_TYPES,
                    size=attachment.get("size"),
                )
            )
            continue
        if attachment.get("error"):
            why = f"Not kept: {attachment['error']}"
        elif kind not in KEPT_TYPES:
            why = "Nothing to keep: Meta sends no file for this."
        elif item.attachments_fetched_at is None:
            why = "Not fetched from Meta yet."
        else:
            why = "Not kept: Meta gave no link to it."
        shown.append(ShownAttachment(name=name, title=title, why_not=why))
    return tuple(shown)


def _earlier(item: Message) -> tuple[tuple[str, str], ...]:
    """The texts before each edit, oldest first, with when each was replaced."""
    earlier = []
    for entry in item.earlier_texts or []:
        if not isinstance(entry, dict):
            continue
        try:
            until = when(datetime.fromisoformat(entry.get("until") or ""), year=True)
        except (TypeError, ValueError):
            until = ""
        earlier.append((str(entry.get("text") or ""), until))
    return tuple(earlier)


def _thread_item(conversation: Conversation, item: Message, *, responder: bool) -> ThreadItem:
    common = {
        "pk": item.pk,
        "from_fig": item.from_fig,
        "at": item.at,
        "at_text": when(item.at, year=True),
        "text": item.text,
        "permalink": meta_permalink(item.permalink),
        "edited_text": f"Edited {when(item.edited_at, year=True)}" if item.edited_at else "",
        "earlier": _earlier(item),
        "removed": item.get_removed_how_display() if item.removed_how else "",
        "attachments": _attachments(item),
    }
    if not item.from_fig:
        rating = item.rating if item.rating and 1 <= item.rating <= 5 else None
        return ThreadItem(
            **common,
            who=conversation.sender_name or "Unknown sender",
            what=item.get_event_display(),
            story_link=_https_link(item.story_link, _on_meta_host),
            rating=rating,
            stars="★" * rating + "☆" * (5 - rating) if rating else "",
            flagged_names=tuple(item.flagged_names or ()),
        )
    by = str(item.by) if item.by_id else ""
    if item.event == Message.Event.ECHO:
        what = "Sent from Meta’s own tools"
    elif item.event == Message.Event.RECORDED:
        what = "Made elsewhere, recorded here"
    else:
        what = f"Sent from FiG Safety: {item.get_send_as_display()}" if item.send_as else "Sent from FiG Safety"
    sent_here = item.event == Message.Event.REPLY
    return ThreadItem(
        **common,
        who="FiG",
        by=by,
        what=what,
        link=_https_link(item.link),
        link_text=item.link if item.link and not _https_link(item.link) else "",
        sending=item.sending if sent_here else "",
        sending_label=item.get_sending_display() if sent_here and item.sending else "",
        send_error=item.send_error if sent_here else "",
        can_try_again=responder and sent_here and item.sending == Message.Sending.FAILED,
        can_put_back=responder and sent_here and item.sending in _MAY_PUT_BACK,
    )


def conversation_thread(conversation: Conversation, *, responder: bool) -> list[ThreadItem]:
    """Every message of the conversation in order, the person's and FiG's, as its page shows them. One query,
    for a conversation read with its `responded_by`; `responder` says whether this person may answer it."""
    items = list(conversation.messages.select_related("by").order_by("at", "id"))
    thread = [_thread_item(conversation, item, responder=responder) for item in items]
    if conversation.text and not any(not item.from_fig for item in items):
        thread.insert(
            0,
            ThreadItem(
                pk=None,
                from_fig=False,
                who=conversation.sender_name or "Unknown sender",
                at=conversation.received_at,
                at_text=when(conversation.received_at, year=True),
                what=conversation.get_kind_display(),
                text=conversation.text,
            ),
        )
    if conversation.response_text and not any(item.from_fig for item in items):
        at = conversation.responded_at or conversation.received_at
        thread.append(
            ThreadItem(
                pk=None,
                from_fig=True,
                who="FiG",
                by=str(conversation.responded_by) if conversation.responded_by_id else "",
                at=at,
                at_text=when(at, year=True),
                what="Made elsewhere, recorded here",
                text=conversation.response_text,
                link=_https_link(conversation.response_link),
            )
        )
    return thread


def unsent_reply_text(conversation: Conversation, pk: int) -> str:
    """The text of this conversation's reply `pk` if it was not sent, or may not have been; otherwise ""."""
    return (
        conversation.messages.filter(pk=pk, event=Message.Event.REPLY, sending__in=_MAY_PUT_BACK)
        .values_list("text", flat=True)
        .first()
        or ""
    )


# --- one message's history ------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    what: str
    who: str = ""
    detail: str = ""


_HOW = dict(Takedown.How.choices)
# Audit events about a conversation: those recorded before conversations were named so carry the old name.
CONVERSATION_TARGETS = ["social.conversation", "social.inboxmessage"]


def message_history(message: Conversation) -> list[HistoryEntry]:
    """What happened to a message, oldest first, from its audit events and its takedowns'. Three queries."""
    takedown_ids = [str(pk) for pk in message.takedowns.values_list("pk", flat=True)]
    events = list(
        AuditEvent.objects.filter(
            Q(target_type__in=CONVERSATION_TARGETS, target_id=str(message.pk))
            | Q(target_type="social.takedown", target_id__in=takedown_ids)
        )
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
    # Assignments record the user's id and hand-offs their email: name them, in one query.
    ids = {e.details.get("to") for e in events if e.action == "inbox.assigned" and e.details.get("to")}
    emails = {e.details.get("to") for e in events if e.action == "inbox.passed_on" and e.details.get("to")}
    people: dict[object, str] = {}
    if ids or emails:
        for person in User.objects.filter(Q(pk__in=ids) | Q(email__in=emails)):
            people[person.pk] = people[person.email] = str(person)
    received = HistoryEntry(
        at=message.received_at,
        what=f"Received on {message.get_platform_display()}",
        detail=f"From {message.sender_name}" if message.sender_name else "",
    )
    return [received] + [_describe(event, people) for event in events]


def _describe(event: AuditEvent, people: dict[object, str]) -> HistoryEntry:
    who = str(event.actor) if event.actor else (event.actor_email or "")
    details = event.details or {}
    to = details.get("to")
    what = {
        "inbox.added": "Added by hand",
        "inbox.flagged": "Flagged urgent: it names a child or carer in the consent register",
        "inbox.assigned": f"Assigned to {people.get(to, 'someone')}" if to else "Unassigned",
        "inbox.passed_on": f"Passed on to {people.get(to, to or 'a member of staff')}",
        "inbox.answered": "Response recorded" + ("" if details.get("on_time", True) else ", after the deadline"),
        "inbox.closed": "Closed as needing no reply",
        "inbox.reopened": "Opened again: they wrote again",
        "inbox.echo": "Replied from Meta's own tools",
        "inbox.reply_queued": "Reply written and queued to send",
        "inbox.reply_sent": "Reply sent",
        "inbox.reply_failed": "A reply was not sent"
        if details.get("state") == "failed"
        else "A reply may not have been sent",
        "inbox.noted": "Note added",
        "inbox.edited": "They edited a message",
        "inbox.removed": "A message was "
        + {"unsent": "unsent", "hidden": "hidden", "removed": "removed"}.get(details.get("how", ""), "removed"),
        "inbox.unhidden": "A hidden comment was shown again",
        "takedown.removal_requested": "Asked Meta to remove it",
        "takedown.removal_failed": "Meta did not remove it",
        "takedown.opened": "Takedown opened",
        "takedown.removed": f"Removed: {_HOW.get(details.get('how', ''), 'recorded')}",
    }.get(event.action, event.action)
    detail = details.get("reason", "") if event.action == "inbox.closed" else ""
    if event.action == "inbox.flagged":
        who = ""  # the system did it
    return HistoryEntry(at=event.occurred_at, what=what, who=who, detail=detail)


# --- takedowns ------------------------------------------------------------------------------


def open_takedowns() -> QuerySet[Takedown]:
    return (
        Takedown.objects.filter(status=Takedown.Status.OPEN)
        .select_related("message", "post", "opened_by", "removal_requested_by")
        .order_by("due_at", "id")
    )


def removed_takedowns() -> QuerySet[Takedown]:
    return (
        Takedown.objects.filter(status=Takedown.Status.REMOVED)
        .select_related("message", "post", "opened_by", "removed_by")
        .annotate(took=F("removed_at") - F("opened_at"))
        .order_by("-removed_at", "-id")
    )


# --- the daily digest ------------------------------------------------------------------------

# The digest lists at most this many messages in each list, and takedowns, then says how many more.
DIGEST_LIMIT = 20


@dataclass(frozen=True)
class Digest:
    """What the daily digest reports: counts, and the first DIGEST_LIMIT of each list."""

    open: int
    overdue: int
    urgent: int
    overdue_messages: list[Conversation]  # open and past the deadline, flagged first, then the most overdue
    due_soonest: list[Conversation]  # open and not yet due, flagged first, then the least time left
    takedowns_open: int
    takedowns: list[Takedown]  # open, the soonest due first

    # The counts and the lists are separate queries, so a message answered between them could make
    # "more" negative: never below nought.

    @property
    def not_yet_due(self) -> int:
        return max(0, self.open - self.overdue)

    @property
    def more_overdue(self) -> int:
        return max(0, self.overdue - len(self.overdue_messages))

    @property
    def more_due(self) -> int:
        return max(0, self.not_yet_due - len(self.due_soonest))

    @property
    def more_takedowns(self) -> int:
        return max(0, self.takedowns_open - len(self.takedowns))


def inbox_digest(now: datetime, limit: int = DIGEST_LIMIT) -> Digest:
    """The open and overdue messages and the open takedowns for the daily digest. Five queries."""
    counts = Conversation.objects.filter(status=OPEN).aggregate(
        open=Count("pk"),
        overdue=Count("pk", filter=Q(due_at__lte=now)),
        urgent=Count("pk", filter=Q(urgent=True)),
    )
    messages = (
        Conversation.objects.filter(status=OPEN)
        .select_related("assignee", "passed_to")
        .order_by("-urgent", "due_at", "id")  # as the inbox's tabs list them
    )
    open_takedowns = Takedown.objects.filter(status=Takedown.Status.OPEN)
    return Digest(
        **counts,
        overdue_messages=list(messages.filter(due_at__lte=now)[:limit]),
        due_soonest=list(messages.filter(due_at__gt=now)[:limit]),
        takedowns_open=open_takedowns.count(),
        takedowns=list(open_takedowns.select_related("message", "post").order_by("due_at", "id")[:limit]),
    )


# --- the response dashboard ------------------------------------------------------------------

WEEKS = 12


def percentile(values: Sequence[timedelta], fraction: float) -> timedelta | None:
    """The value below which `fraction` of `values` fall, interpolated as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class WeekStats:
    """One London week (Monday to Sunday) of messages received, and takedowns opened."""

    start: date
    received: int = 0
    answered: int = 0
    answered_on_time: int = 0
    closed: int = 0
    open_overdue: int = 0  # received this week, still open, past the deadline now
    open_waiting: int = 0  # still open, within its week
    response_times: list[timedelta] = field(default_factory=list, repr=False)
    takedowns_opened: int = 0
    takedowns_removed: int = 0
    takedowns_on_time: int = 0
    takedown_times: list[timedelta] = field(default_factory=list, repr=False)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def answered_late(self) -> int:
        return self.answered - self.answered_on_time

    @property
    def needing_reply(self) -> int:
        """Messages whose outcome is known: answered, or overdue. Closed ones needed no reply;
        ones still inside their week are not late yet."""
        return self.answered + self.open_overdue

    @property
    def share_on_time(self) -> float | None:
        return self.answered_on_time / self.needing_reply if self.needing_reply else None

    @property
    def median(self) -> timedelta | None:
        return percentile(self.response_times, 0.5)

    @property
    def p90(self) -> timedelta | None:
        return percentile(self.response_times, 0.9)

    @property
    def takedown_median(self) -> timedelta | None:
        return percentile(self.takedown_times, 0.5)

    @property
    def takedown_longest(self) -> timedelta | None:
        return max(self.takedown_times) if self.takedown_times else None


@dataclass
class Dashboard:
    weeks: list[WeekStats]
    open_now: int
    overdue_now: int
    urgent_open_now: int
    takedowns_open_now: int
    takedowns_overdue_now: int
    takedown_hours: int

    @property
    def first_day(self) -> date:
        return self.weeks[0].start

    @property
    def received(self) -> int:
        return sum(w.received for w in self.weeks)

    @property
    def answered_on_time(self) -> int:
        return sum(w.answered_on_time for w in self.weeks)

    @property
    def needing_reply(self) -> int:
        return sum(w.needing_reply for w in self.weeks)

    @property
    def share_on_time(self) -> float | None:
        return self.answered_on_time / self.needing_reply if self.needing_reply else None

    @property
    def median(self) -> timedelta | None:
        return percentile([t for w in self.weeks for t in w.response_times], 0.5)

    @property
    def p90(self) -> timedelta | None:
        return percentile([t for w in self.weeks for t in w.response_times], 0.9)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_start(moment: datetime) -> date:
    return _monday(timezone.localtime(moment, LONDON).date())


def response_dashboard(now: datetime | None = None, weeks: int = WEEKS) -> Dashboard:
    """Per London week for the last `weeks` weeks (this one included), and what stands now. Five queries."""
    now = now or timezone.now()
    this_monday = _monday(timezone.localtime(now, LONDON).date())
    starts = [this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    by_start = {start: WeekStats(start=start) for start in starts}
    since = timezone.make_aware(datetime.combine(starts[0], datetime.min.time()), LONDON)

    # Counted by the database per London week, so the cost does not grow with the messages in Python.
    week_of_receipt = TruncWeek("received_at", tzinfo=LONDON)
    answered = Q(status=Conversation.Status.ANSWERED, responded_at__isnull=False)
    still_open = ~answered & ~Q(status=Conversation.Status.CLOSED)
    recent = Conversation.objects.filter(received_at__gte=since).annotate(week=week_of_receipt).order_by()
    for row in recent.values("week").annotate(
        received=Count("pk"),
        answered=Count("pk", filter=answered),
        answered_on_time=Count("pk", filter=answered & Q(responded_at__lte=F("due_at"))),
        closed=Count("pk", filter=Q(status=Conversation.Status.CLOSED)),
        open_overdue=Count("pk", filter=still_open & Q(due_at__lte=now)),
        open_waiting=Count("pk", filter=still_open & Q(due_at__gt=now)),
    ):
        week = by_start.get(row.pop("week").date())
        if week is None:  # received "in the future" by a skewed platform clock: not in any week yet
            continue
        for key, value in row.items():
            setattr(week, key, value)
    # Response times only for answered messages (a charity's few a week), for the medians.
    for week_start, received_at, responded_at in recent.filter(answered).values_list(
        "week", "received_at", "responded_at"
    ):
        week = by_start.get(week_start.date())
        if week is not None:
            week.response_times.append(max(responded_at - received_at, timedelta(0)))

    for opened_at, due_at, status, removed_at in Takedown.objects.filter(opened_at__gte=since).values_list(
        "opened_at", "due_at", "status", "removed_at"
    ):
        week = by_start.get(_week_start(opened_at))
        if week is None:
            continue
        week.takedowns_opened += 1
        if status == Takedown.Status.REMOVED and removed_at is not None:
            week.takedowns_removed += 1
            week.takedowns_on_time += removed_at <= due_at
            week.takedown_times.append(removed_at - opened_at)

    messages_now = Conversation.objects.filter(status=OPEN).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lte=now)), urgent=Count("pk", filter=Q(urgent=True))
    )
    takedowns_now = Takedown.objects.filter(status=Takedown.Status.OPEN).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lte=now))
    )
    return Dashboard(
        weeks=[by_start[start] for start in starts],
        open_now=messages_now["open"],
        overdue_now=messages_now["overdue"],
        urgent_open_now=messages_now["urgent"],
        takedowns_open_now=takedowns_now["open"],
        takedowns_overdue_now=takedowns_now["overdue"],
        takedown_hours=settings.FIG_TAKEDOWN_HOURS,
    )


# --- the dashboard, kept until something changes ------------------------------------------------

_DASHBOARD_VERSION = "social:dashboard:version"


def dashboard_changed(**_signal) -> None:
    """A message or takedown was saved or deleted: once that commits, figures cached before are stale.

    After the commit, so that figures worked out between the save and its commit are not kept, and so that
    the cache failing cannot fail the save (a webhook's messages among them). One callback per transaction,
    however many rows it saves.
    """
    pending = transaction.get_connection().run_on_commit  # [(savepoint ids, callback, robust)]
    if not any(callback is _new_dashboard_version for _, callback, _ in pending):
        transaction.on_commit(_new_dashboard_version)


def _new_dashboard_version() -> None:
    try:
        cache.set(_DASHBOARD_VERSION, uuid.uuid4().hex, None)
    except Exception:  # the figures stay at most to the end of their minute, as the key changes every minute
        log.warning("Could not mark the response dashboard's cached figures stale.", exc_info=True)


def cached_response_dashboard(now: datetime | None = None) -> Dashboard:
    """response_dashboard to the minute, kept in the cache until a message or takedown changes.

    The figures depend on the time (what is overdue, which week this is), so they are worked out for
    the start of the current minute and kept for that minute; any save or delete of a message or
    takedown changes the version in the key, so an answer recorded shows on the next visit.
    """
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    cache.add(_DASHBOARD_VERSION, uuid.uuid4().hex, None)
    key = f"social:dashboard:{cache.get(_DASHBOARD_VERSION)}:{now:%Y%m%d%H%M}"
    stats = cache.get(key)
    if stats is None:
        stats = response_dashboard(now)
        cache.set(key, stats, 120)
    return stats
