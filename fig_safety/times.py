"""Times as people read them: FiG works on London's clock, whatever the server's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

LONDON = ZoneInfo("Europe/London")


def when(moment: datetime, *, year: bool = False) -> str:
    """'Tuesday 3 June at 14:30' (with `year`, 'Tuesday 3 June 2025 at 14:30'), on London's clock."""
    local = timezone.localtime(moment, LONDON)
    day = f"{local:%A} {local.day} {local:%B}" + (f" {local.year}" if year else "")
    return f"{day} at {local:%H:%M}"
