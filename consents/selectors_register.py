"""The consent register: every visible child against every purpose, read a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from consents.models import PURPOSES, Child, ConsentRecord, ConsentRequest, Family
from consents.selectors import ChildConsent, State, consents_for_children

_OPEN_STATES = {State.NONE, State.EXPIRED, State.OUTDATED}
# The id breaks ties (two children in a family with the same name), so that pages never overlap.
_ORDER = ("family__reference", "first_name", "last_name", "pk")


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


class Register:
    """The register's rows, filtered by family reference, purpose and state, read only as asked.

    Paginator takes it as its object list (`count()` and slices); `all_rows()` is the export. Each
    takes a fixed number of queries whatever the number of children:

    - no state filter: the count; then the slice's children, with their family, latest request,
      latest consent form and whether a request is open; and their consent positions (four);
    - a state filter: which rows match is known only from every child's consent position, so all
      the children's ids and open requests are read first (values, no instances) with their consent
      positions (four), once; then the slice's children, as above, without their positions again.
    """

    def __init__(self, families: QuerySet[Family], *, family: str = "", purpose: str = "", state: str = "") -> None:
        children = Child.objects.filter(family__in=families)
        if family:
            children = children.filter(family__reference__iexact=family.strip())
        open_request = ConsentRequest.objects.filter(
            child=OuterRef("pk"), status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
        )
        self._children = children.annotate(pending=Exists(open_request))
        self._purposes = [purpose] if purpose else PURPOSES
        self._state = state
        self._count: int | None = None
        # With a state filter: the matching children in the register's order, id -> (position, states).
        self._matches: dict[int, tuple[ChildConsent, dict[str, str]]] | None = None

    def count(self) -> int:
        if self._state:
            return len(self._matching())
        if self._count is None:
            self._count = self._children.count()
        return self._count

    def __getitem__(self, index: slice) -> list[RegisterRow]:
        if not isinstance(index, slice):
            raise TypeError("The register is read in slices.")
        if not self._state:
            return self._rows(self._children.order_by(*_ORDER)[index])
        matches = self._matching()
        ids = list(matches)[index]
        return self._rows(self._children.filter(pk__in=ids).order_by(*_ORDER), {pk: matches[pk] for pk in ids})

    def all_rows(self) -> list[RegisterRow]:
        return self[:]

    def _matching(self) -> dict[int, tuple[ChildConsent, dict[str, str]]]:
        if self._matches is None:
            children = self._children
            if self._state == State.PENDING:
                children = children.filter(pending=True)  # without an open request nothing is "pending"
            found = list(children.order_by(*_ORDER).values_list("pk", "pending"))
            positions = consents_for_children([pk for pk, _ in found])
            self._matches = {}
            for pk, pending in found:
                states = _states(positions[pk], pending)
                if any(states[p] == self._state for p in self._purposes):
                    self._matches[pk] = (positions[pk], states)
        return self._matches

    def _rows(
        self, children: QuerySet[Child], known: dict[int, tuple[ChildConsent, dict[str, str]]] | None = None
    ) -> list[RegisterRow]:
        """The rows of these children, with `known` positions and states if they are already worked out."""
        latest_request = ConsentRequest.objects.filter(child=OuterRef("pk")).order_by("-created_at", "-id")
        latest_given = ConsentRecord.objects.filter(child=OuterRef("pk"), kind=ConsentRecord.Kind.GIVEN).order_by(
            "-signed_at", "-id"
        )
        found = list(
            children.annotate(
                request_status=Subquery(latest_request.values("status")[:1]),
                request_expires_at=Subquery(latest_request.values("expires_at")[:1]),
                consent_method=Subquery(latest_given.values("method")[:1]),
            ).values(
                "pk",
                "family__reference",
                "first_name",
                "last_name",
                "date_of_birth",
                "pending",
                "request_status",
                "request_expires_at",
                "consent_method",
            )
        )
        if known is None:
            positions = consents_for_children([child["pk"] for child in found])
            known = {
                child["pk"]: (positions[child["pk"]], _states(positions[child["pk"]], child["pending"]))
                for child in found
            }
        rows = []
        for child in found:
            position, states = known[child["pk"]]
            rows.append(
                RegisterRow(
                    child_id=child["pk"],
                    family_reference=child["family__reference"],
                    child_name=f"{child['first_name']} {child['last_name']}",  # str(Child), without an instance
                    date_of_birth=child["date_of_birth"],
                    states=states,
                    expires_at=min(position.expires_at.values()) if position.expires_at else None,
                    request_status=_request_status(child["request_status"], child["request_expires_at"]),
                    consent_method=child["consent_method"] or "",
                )
            )
        return rows


def _states(position: ChildConsent, pending: bool) -> dict[str, str]:
    # An open request stands in for an answer not yet given (none, expired or outdated).
    return {
        p: State.PENDING if pending and position.states[p] in _OPEN_STATES else position.states[p] for p in PURPOSES
    }


def _request_status(status: str | None, expires_at: datetime | None) -> str:
    if status == ConsentRequest.Status.PENDING and expires_at is not None and expires_at <= timezone.now():
        return ConsentRequest.Status.EXPIRED
    return status or ""


def register_rows(families: QuerySet[Family], *, family: str = "", purpose: str = "", state: str = "") -> Register:
    """The register's rows for these families: page them with Paginator, or export `all_rows()`."""
    return Register(families, family=family, purpose=purpose, state=state)
