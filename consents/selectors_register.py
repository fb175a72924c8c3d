"""The consent register: every visible child against every purpose, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from consents.models import PURPOSES, Child, ConsentRecord, ConsentRequest, Family
from consents.selectors import State, consents_for_children

_OPEN_STATES = {State.NONE, State.EXPIRED, State.OUTDATED}


@dataclass(frozen=True)
class RegisterRow:
    child_id: int
    family_reference: str
    child_name: str
    date_of_birth: date
    states: dict[str, str]
    expires_at: datetime | None
    request_status: str  # the latest request's: pending / signed / declined / expired / cancelled, or ""
    consent_method: str  # how the latest consent form was given: online / paper / phone, or ""


def _request_status(status: str | None, expires_at: datetime | None) -> str:
    if status == ConsentRequest.Status.PENDING and expires_at is not None and expires_at <= timezone.now():
        return ConsentRequest.Status.EXPIRED
    return status or ""


def register_rows(
    families: QuerySet[Family], *, family: str = "", purpose: str = "", state: str = ""
) -> list[RegisterRow]:
    """Rows for the register, filtered by family reference, purpose and state.

    Five queries whatever the number of children: the children (with their
    family), three for their consent positions, and their open requests.
    """
    latest_request = ConsentRequest.objects.filter(child=OuterRef("pk")).order_by("-created_at", "-id")
    latest_given = ConsentRecord.objects.filter(child=OuterRef("pk"), kind=ConsentRecord.Kind.GIVEN).order_by(
        "-signed_at", "-id"
    )
    children = (
        Child.objects.filter(family__in=families)
        .select_related("family")
        .annotate(
            request_status=Subquery(latest_request.values("status")[:1]),
            request_expires_at=Subquery(latest_request.values("expires_at")[:1]),
            consent_method=Subquery(latest_given.values("method")[:1]),
        )
        .order_by("family__reference", "first_name", "last_name")
    )
    if family:
        children = children.filter(family__reference__iexact=family.strip())
    children = list(children)
    positions = consents_for_children([c.pk for c in children])
    pending = set(
        ConsentRequest.objects.filter(
            child__in=[c.pk for c in children], status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
        ).values_list("child_id", flat=True)
    )
    rows = []
    for child in children:
        position = positions[child.pk]
        states = {
            p: State.PENDING if child.pk in pending and position.states[p] in _OPEN_STATES else position.states[p]
            for p in PURPOSES
        }
        rows.append(RegisterRow(
            child_id=child.pk, family_reference=child.family.reference, child_name=str(child),
            date_of_birth=child.date_of_birth, states=states,
            expires_at=min(position.expires_at.values()) if position.expires_at else None,
            request_status=_request_status(child.request_status, child.request_expires_at),
            consent_method=child.consent_method or "",
        ))
    if state:
        checked = [purpose] if purpose else PURPOSES
        rows = [row for row in rows if any(row.states[p] == state for p in checked)]
    return rows
