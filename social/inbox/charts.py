"""The dashboard's bar chart, laid out on the server so it reads without JavaScript.

The template draws the SVG from these numbers; colours come from classes in fig.css
(the content security policy allows no inline styles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from social.inbox.selectors import WeekStats

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

# Bottom to top of each bar: (attribute of WeekStats, css class, legend label).
SEGMENTS = [
    ("answered_on_time", "seg-on-time", "Answered within 7 days"),
    ("answered_late", "seg-late", "Answered late"),
    ("closed", "seg-closed", "Closed, no reply needed"),
    ("open_overdue", "seg-overdue", "Still open and overdue"),
    ("open_waiting", "seg-waiting", "Still open, within the week"),
]


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    css: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label_x: float
    total: int
    total_y: float
    week_label: str
    summary: str
    segments: list[Segment]


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    baseline: float
    axis_label_x: int
    bars: list[Bar]
    ticks: list[Tick]
    legend: list[tuple[str, str]]


def _nice_step(top: int) -> int:
    """A round step (1, 2, 5, 10, 20, 50…) giving about four gridlines up to `top`."""
    rough = max(top / 4, 1)
    magnitude = 10 ** math.floor(math.log10(rough))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= rough:
            return int(multiple * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def _summary(week: WeekStats) -> str:
    parts = [f"{getattr(week, attr)} {label.lower()}" for attr, _, label in SEGMENTS if getattr(week, attr)]
    return f"Week of {week.start:%-d %B}: {week.received} received" + (f" ({', '.join(parts)})" if parts else "")


def weekly_chart(weeks: list[WeekStats]) -> Chart:
    step = _nice_step(max([w.received for w in weeks] + [4]))
    top = step * math.ceil(max([w.received for w in weeks] + [1]) / step)
    scale = PLOT_H / top
    baseline = TOP + PLOT_H
    slot = PLOT_W / len(weeks)
    bar_width = round(slot * 0.62, 1)
    bars = []
    for index, week in enumerate(weeks):
        x = round(LEFT + slot * index + (slot - bar_width) / 2, 1)
        y = baseline
        segments = []
        for attr, css, _ in SEGMENTS:
            count = getattr(week, attr)
            if count:
                height = round(count * scale, 1)
                y = round(y - height, 1)
                segments.append(Segment(y=y, height=height, css=css))
        bars.append(
            Bar(
                x=x,
                width=bar_width,
                label_x=round(x + bar_width / 2, 1),
                total=week.received,
                total_y=round(baseline - week.received * scale - 6, 1),
                week_label=f"{week.start:%-d %b}",
                summary=_summary(week),
                segments=segments,
            )
        )
    ticks = [Tick(y=round(baseline - value * scale, 1), value=value) for value in range(0, top + 1, step)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        baseline=baseline,
        axis_label_x=LEFT - 8,
        bars=bars,
        ticks=ticks,
        legend=[(css, label) for _, css, label in SEGMENTS],
    )
