"""The response dashboard: the weekly numbers, their fixed number of queries, and the page with its SVG chart."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from fig_safety.times import LONDON
from social.inbox import selectors
from social.inbox.charts import weekly_chart
from social.inbox.selectors import WeekStats, percentile, response_dashboard
from social.models import Conversation, Platform, Takedown, policy_due_at
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

# A Wednesday in November (GMT): this week began on Monday 23 November 2026.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
DAY = timedelta(days=1)


def message(
    received_at: datetime, *, answered_after: timedelta | None = None, closed: bool = False, urgent: bool = False
) -> Conversation:
    fields = {}
    if answered_after is not None:
        fields = {"status": "answered", "responded_at": received_at + answered_after, "response_text": "Thanks"}
    elif closed:
        fields = {"status": "closed", "closed_at": received_at + H, "closed_reason": "Spam"}
    return Conversation.objects.create(
        platform=Platform.MESSENGER,
        text="Hello",
        received_at=received_at,
        due_at=policy_due_at(received_at),
        urgent=urgent,
        **fields,
    )


def takedown(opened_at: datetime, *, removed_after: timedelta | None = None, hours: int = 24) -> Takedown:
    fields = {}
    if removed_after is not None:
        fields = {"status": "removed", "removed_at": opened_at + removed_after, "how": "by_hand"}
    return Takedown.objects.create(reason="Names a child", opened_at=opened_at, due_at=opened_at + hours * H, **fields)


@pytest.fixture
def history(db):
    # The week of 16 November.
    message(datetime(2026, 11, 16, 10, 0, tzinfo=UTC), answered_after=2 * H)  # on time
    message(datetime(2026, 11, 16, 9, 0, tzinfo=UTC), answered_after=8 * DAY + H)  # late
    message(datetime(2026, 11, 18, 9, 0, tzinfo=UTC), closed=True)
    message(datetime(2026, 11, 19, 8, 0, tzinfo=UTC), urgent=True)  # open, due on the 26th: still in its week
    takedown(datetime(2026, 11, 17, 10, 0, tzinfo=UTC), removed_after=5 * H)
    takedown(datetime(2026, 11, 18, 10, 0, tzinfo=UTC), removed_after=30 * H)
    takedown(datetime(2026, 11, 20, 10, 0, tzinfo=UTC))  # open and overdue now
    # The week of 9 November.
    message(datetime(2026, 11, 9, 9, 0, tzinfo=UTC))  # open, overdue since the 16th
    message(datetime(2026, 11, 10, 9, 0, tzinfo=UTC), answered_after=DAY)
    # This week.
    message(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    takedown(datetime(2026, 11, 24, 20, 0, tzinfo=UTC))  # open, not yet due
    # 23:30 UTC on Sunday 11 October is 00:30 on Monday 12 October in London (BST): that Monday's week.
    message(datetime(2026, 10, 11, 23, 30, tzinfo=UTC), answered_after=3 * H)
    # Before the twelve weeks: left out.
    message(datetime(2026, 8, 1, 9, 0, tzinfo=UTC), answered_after=H)
    takedown(datetime(2026, 8, 1, 9, 0, tzinfo=UTC), removed_after=H)


def _week(stats, day: str) -> WeekStats:
    [week] = [w for w in stats.weeks if w.start.isoformat() == day]
    return week


def test_it_counts_each_london_week(history):
    stats = response_dashboard(now=NOW)

    assert [w.start.isoformat() for w in stats.weeks][0] == "2026-09-07"
    assert [w.start.isoformat() for w in stats.weeks][-1] == "2026-11-23"
    assert len(stats.weeks) == 12

    week = _week(stats, "2026-11-16")
    assert (week.received, week.answered, week.answered_on_time, week.answered_late) == (4, 2, 1, 1)
    assert (week.closed, week.open_overdue, week.open_waiting) == (1, 0, 1)
    assert week.needing_reply == 2 and week.share_on_time == 0.5
    assert week.median == (2 * H + 8 * DAY + H) / 2  # the middle of two values
    assert week.p90 == 2 * H + (8 * DAY - H) * 0.9
    assert (week.takedowns_opened, week.takedowns_removed, week.takedowns_on_time) == (3, 2, 1)
    assert week.takedown_median == (5 * H + 30 * H) / 2
    assert week.takedown_longest == 30 * H

    week = _week(stats, "2026-11-09")
    assert (week.received, week.answered_on_time, week.open_overdue, week.share_on_time) == (2, 1, 1, 0.5)
    assert week.median == DAY

    week = _week(stats, "2026-10-12")
    assert (week.received, week.share_on_time, week.median) == (1, 1.0, 3 * H)
    assert _week(stats, "2026-10-05").received == 0

    week = _week(stats, "2026-11-23")
    assert (week.received, week.open_waiting, week.share_on_time, week.median) == (1, 1, None, None)

    assert (stats.open_now, stats.overdue_now, stats.urgent_open_now) == (3, 1, 1)
    assert (stats.takedowns_open_now, stats.takedowns_overdue_now) == (2, 1)
    assert stats.received == 8
    assert (stats.answered_on_time, stats.needing_reply) == (3, 5)


def test_it_has_nothing_to_say_about_an_empty_inbox(db):
    stats = response_dashboard(now=NOW)
    assert stats.received == 0 and stats.share_on_time is None and stats.median is None and stats.p90 is None
    assert all(w.received == 0 for w in stats.weeks)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([5 * H], 0.9, 5 * H),
        ([1 * H, 2 * H, 3 * H, 4 * H], 0.5, 2.5 * H),
        ([4 * H, 1 * H, 3 * H], 0.5, 3 * H),  # order does not matter
        ([n * H for n in range(1, 11)], 0.9, 9.1 * H),  # as PostgreSQL's percentile_cont
        ([n * H for n in range(1, 11)], 1.0, 10 * H),
    ],
)
def test_percentiles_interpolate(values, fraction, expected):
    assert percentile(values, fraction) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("count", [10, 1000])
def test_the_statistics_take_five_queries_whatever_the_number_of_messages(django_assert_num_queries, count):
    Conversation.objects.bulk_create(
        [
            Conversation(
                platform=Platform.X,
                text="Hi",
                received_at=NOW - n * H,
                due_at=policy_due_at(NOW - n * H),
                status="answered" if n % 2 else "open",
                responded_at=NOW - n * H + 5 * H if n % 2 else None,
            )
            for n in range(count)
        ]
    )
    Takedown.objects.bulk_create(
        [Takedown(reason="x", opened_at=NOW - n * H, due_at=NOW - n * H + 24 * H) for n in range(count // 10)]
    )
    # The twelve weeks' messages counted per week; the answered ones' response times; takedowns opened
    # in them; open messages now; open takedowns now.
    with django_assert_num_queries(5):
        stats = response_dashboard(now=NOW)
    assert sum(w.received for w in stats.weeks) == count


def test_the_chart_scales_the_bars_to_the_busiest_week(history):
    stats = response_dashboard(now=NOW)
    chart = weekly_chart(stats.weeks)
    assert len(chart.bars) == 12
    assert [t.value for t in chart.ticks] == [0, 1, 2, 3, 4]
    busiest = next(b for b in chart.bars if b.total == 4)
    assert sum(s.height for s in busiest.segments) == pytest.approx(chart.baseline - chart.ticks[-1].y, abs=0.5)
    assert [s.css for s in busiest.segments] == ["seg-on-time", "seg-late", "seg-closed", "seg-waiting"]
    assert busiest.summary == (
        "Week of 16 November: 4 received (1 answered within 7 days, 1 answered late, "
        "1 closed, no reply needed, 1 still open, within the week)"
    )
    empty = next(b for b in chart.bars if b.total == 0)
    assert empty.segments == []


# --- the page -------------------------------------------------------------------------------------


@pytest.fixture
def social_admin(db):
    return factories.staff_user("social_admin", email="sol@example.org")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("social_admin", 200),
        ("ceo", 200),
        ("member_of_staff", 403),
        ("coordinator", 403),
        ("parent", 403),
    ],
)
def test_who_may_see_the_dashboard(client, request, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("social:dashboard")).status_code == status


@pytest.mark.django_db
def test_anonymous_people_are_sent_to_sign_in_and_post_is_refused(client, social_admin):
    response = client.get(reverse("social:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    client.force_login(social_admin)
    assert client.post(reverse("social:dashboard")).status_code == 405


@pytest.mark.django_db
def test_the_page_draws_an_accessible_chart_without_javascript_and_the_same_numbers_in_a_table(client, social_admin):
    now = datetime.now(UTC)
    for n in range(3):
        message(now - timedelta(minutes=40 + 10 * n), answered_after=timedelta(minutes=30))
    message(now - 9 * DAY)  # overdue now
    client.force_login(social_admin)

    response = client.get(reverse("social:dashboard"))

    html = response.content.decode()
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<script" not in main
    svg = re.search(r"<svg viewBox=[^>]*role=\"img\"[^>]*>(.*?)</svg>", main, re.S)
    assert svg, "no chart"
    assert 'aria-labelledby="chart-title chart-desc"' in main
    assert '<title id="chart-title">Messages received each week' in svg.group(1)
    assert '<desc id="chart-desc">' in svg.group(1) and "3 answered within 7 days" in svg.group(1)
    assert svg.group(1).count('class="chart-week"') == 12
    table = main.split('class="table dashboard-table"', 1)[1]
    assert "3 of 3 (100%)" in table
    assert "30 minutes" in table
    assert '<span class="badge badge-danger">1 overdue</span>' in table
    assert response.context["stats"].overdue_now == 1


def _table(main: str, heading_id: str) -> dict[str, list[str]]:
    """The rows of the table under the heading `heading_id`, by week: the text of each cell after the first."""
    section = main.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def _cards(main: str) -> list[tuple[str, str]]:
    """(number, label) of each stat card."""
    return [
        (number.strip(), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", label)).strip())
        for number, label in re.findall(
            r'<span class="stat-number">(.*?)</span>\s*<span class="stat-label">(.*?)</span>', main, re.S
        )
    ]


@pytest.mark.django_db
def test_the_page_shows_the_90th_percentile_and_the_takedowns_and_how_long_they_took(client, social_admin):
    now = datetime.now(UTC)
    two_weeks_ago = timezone.localtime(now - 14 * DAY, LONDON).date()
    week = two_weeks_ago - timedelta(days=two_weeks_ago.weekday())
    # Noon on that week's Wednesday: the hours either side stay in the week, and it is over a week ago.
    received = datetime.combine(week + 2 * DAY, time(12, 0), tzinfo=LONDON)
    for hours in (1, 2, 10):  # median 2 hours; 9 in 10 within 8.4 hours (as PostgreSQL's percentile_cont)
        message(received, answered_after=hours * H)
    message(received - 7 * DAY)  # a week earlier, open and overdue now
    takedown(received, removed_after=5 * H)  # in time
    takedown(received + H, removed_after=30 * H)  # late
    takedown(received + 2 * H)  # still open and late now
    takedown(now - H)  # open, not yet due
    client.force_login(social_admin)

    main = client.get(reverse("social:dashboard")).content.decode().split("<main", 1)[1].split("</main>", 1)[0]

    row = f"{week.day} {week:%b %Y}"  # as the page writes the week's Monday
    # Received, answered within 7 days, late, closed, overdue now, still in their week, median, 9 in 10.
    assert _table(main, "table-heading")[row] == [
        "3",
        "3 of 3 (100%)",
        "0",
        "0",
        "0",
        "0",
        "2 hours",
        "8 hours 24 minutes",
    ]
    earlier = week - timedelta(days=7)
    assert _table(main, "table-heading")[f"{earlier.day} {earlier:%b %Y}"][4] == "1 overdue"
    # Opened, removed, removed in time, median time to remove, longest.
    assert _table(main, "takedown-table-heading")[row] == ["3", "2", "1 of 2", "17 hours 30 minutes", "1 day 6 hours"]
    cards = _cards(main)
    assert ("1", "overdue message") in cards
    assert ("2", "open takedowns, 1 late") in cards
    assert ("2 hours", "median time to answer") in cards
    assert ("8 hours 24 minutes", "9 in 10 answered within") in cards
    assert ("75%", "answered within 7 days (3 of 4)") in cards


@pytest.mark.django_db
@pytest.mark.parametrize("count", [10, 1000])
def test_the_page_takes_the_same_number_of_queries_for_10_and_1000_messages(
    client, social_admin, django_assert_num_queries, count, monkeypatch, django_capture_on_commit_callbacks
):
    now = datetime.now(UTC).replace(second=30)
    monkeypatch.setattr(timezone, "now", lambda: now)  # every request below in the same minute
    Conversation.objects.bulk_create(
        [
            Conversation(
                platform=Platform.EMAIL,
                text="Hi",
                received_at=now - n * 10 * H,
                due_at=policy_due_at(now - n * 10 * H),
            )
            for n in range(count)
        ]
    )
    client.force_login(social_admin)
    client.get(reverse("social:dashboard"))  # the first request creates the usersession row
    with django_capture_on_commit_callbacks(execute=True):
        message(now - H)  # a change since: the figures are worked out again
    # + the five queries of the statistics.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 5):
        assert client.get(reverse("social:dashboard")).status_code == 200
    # The same minute and nothing changed: the figures come from the cache.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES):
        assert client.get(reverse("social:dashboard")).context["stats"].open_now == count + 1


@pytest.mark.django_db(transaction=True)  # each save commits, as in a request: the figures change after commit
def test_the_figures_change_as_soon_as_a_message_is_answered_or_the_minute_turns(client, social_admin, monkeypatch):
    now = datetime.now(UTC).replace(second=10, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: now)
    late = message(now - 7 * DAY + timedelta(seconds=30))  # due 30 seconds from now
    client.force_login(social_admin)

    def figures():
        stats = client.get(reverse("social:dashboard")).context["stats"]
        return stats.open_now, stats.overdue_now

    assert figures() == (1, 0)
    now += timedelta(minutes=1)  # a new minute: it is overdue now
    assert figures() == (1, 1)

    late.status, late.responded_at = Conversation.Status.ANSWERED, now
    late.save()
    assert figures() == (0, 0)  # the same minute, but the answer shows at once


class _CacheAway:
    """A cache whose server is gone, as a plain Redis cache behaves then."""

    def set(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db
def test_the_figures_go_stale_once_the_change_commits_with_one_callback_a_transaction(
    django_capture_on_commit_callbacks,
):
    selectors.cached_response_dashboard(NOW)
    version = cache.get(selectors._DASHBOARD_VERSION)
    with django_capture_on_commit_callbacks() as callbacks:
        for hours in (1, 2, 3):
            message(NOW - hours * H)
        takedown(NOW - H)
        assert cache.get(selectors._DASHBOARD_VERSION) == version  # a visit now keeps no figures for later
    assert callbacks == [selectors._new_dashboard_version]  # one, however many saves
    callbacks[0]()
    assert cache.get(selectors._DASHBOARD_VERSION) != version


@pytest.mark.django_db
def test_a_cache_that_fails_does_not_fail_the_save(monkeypatch, caplog, django_capture_on_commit_callbacks):
    monkeypatch.setattr(selectors, "cache", _CacheAway())
    with (
        caplog.at_level(logging.WARNING, logger="social.inbox.selectors"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        saved = message(NOW - H)
    assert Conversation.objects.filter(pk=saved.pk).exists()
    assert "Could not mark the response dashboard's cached figures stale." in caplog.messages
