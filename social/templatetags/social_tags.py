"""Template helpers for the inbox: the "time left" badge in plain words, durations, and who sees the nav link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from social.inbox.access import can_read_inbox

register = template.Library()

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class TimeLeft:
    text: str
    tone: str  # "overdue", "soon" or "ok": the badge's colour, always with the words

    @property
    def css(self) -> str:
        return {"overdue": "badge-danger", "soon": "badge-warning", "ok": "badge-time"}[self.tone]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _amount(delta: timedelta) -> str:
    """Whole days from a day on, whole hours from an hour on, else minutes (at least one)."""
    if delta >= DAY:
        return _plural(delta // DAY, "day")
    if delta >= HOUR:
        return _plural(delta // HOUR, "hour")
    return _plural(max(1, delta // timedelta(minutes=1)), "minute")


def time_left(due_at: datetime, now: datetime, *, soon: timedelta | None = None) -> TimeLeft:
    """'3 days left', 'Due in 5 hours', '2 days overdue': how long until (or since) a deadline.

    `soon` is when the badge turns amber: by default when the reminder goes
    (FIG_INBOX_REMIND_DAYS_LEFT days before the deadline).
    """
    soon = soon if soon is not None else timedelta(days=settings.FIG_INBOX_REMIND_DAYS_LEFT)
    delta = due_at - now
    if delta <= timedelta(0):
        return TimeLeft(f"{_amount(-delta)} overdue", "overdue")
    tone = "soon" if delta <= soon else "ok"
    if delta >= DAY:
        return TimeLeft(f"{_amount(delta)} left", tone)
    return TimeLeft(f"Due in {_amount(delta)}", tone)


@register.simple_tag(takes_context=True)
def time_left_badge(context, due_at: datetime, kind: str = "message") -> str:
    """The badge for an open message (or, with kind="takedown", an open takedown)."""
    now = context.get("now") or timezone.now()
    soon = timedelta(hours=max(1, settings.FIG_TAKEDOWN_HOURS // 4)) if kind == "takedown" else None
    left = time_left(due_at, now, soon=soon)
    return format_html('<span class="badge {}">{}</span>', left.css, left.text)


@register.filter
def duration(value: timedelta | None) -> str:
    """A length of time in words: '2 days 4 hours', '5 hours 10 minutes', '40 minutes'; '—' for none."""
    if value is None:
        return "—"
    minutes = max(0, round(value.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _plural(days, "day") + (f" {_plural(hours, 'hour')}" if hours else "")
    if hours:
        return _plural(hours, "hour") + (f" {_plural(minutes, 'minute')}" if minutes else "")
    return _plural(minutes, "minute")


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


@register.simple_tag(takes_context=True)
def can_read_social_inbox(context) -> bool:
    """For the navigation. Roles are read once per request and cached on the user, so no extra query."""
    user = context.get("user")
    return bool(user is not None and user.is_authenticated and can_read_inbox(user))
