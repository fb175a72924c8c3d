"""What a consent record proves about how it was made: where it came from, and a hash over its facts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from staff.services import client_ip


@dataclass(frozen=True)
class Evidence:
    ip_address: str | None
    user_agent: str


def evidence_from(request: HttpRequest) -> Evidence:
    return Evidence(ip_address=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:400])


def evidence_hash(fields: dict[str, Any]) -> str:
    """The digest stored on a record over the facts it was made from, so it can be recomputed from the row."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
