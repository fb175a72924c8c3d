"""The consent register: every visible child against every purpose, read a page at a time; and the
consents running out soon, listed on the register and on a coordinator's home page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from consents.models import PURPOSES, Child, ConsentRecord, ConsentRequest, Family
from consents.selectors import ChildConsent, State, consent_valid_for, consents_for_children

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
    family_state: str = "open"  # open / closed / erased (consents.views: closed families are shown when asked)


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
                "family__closed_at",
                "family__erased_at",
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
                    family_state="erased"
                    if child["family__erased_at"]
                    else "closed"
                    if child["family__closed_at"]
                    else "open",
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


# The register and a coordinator's home page list the consents running out within this many days.
LAPSING_DAYS = 30


@dataclass(frozen=True)
class LapsingConsent:
    """A child's consent for some purposes that runs out soon, all on the same day."""

    child_id: int
    family_reference: str
    child_name: str
    purposes: list[str]  # in PURPOSES' order
    lapses_at: datetime
    asked: bool  # a request to the family (a renewal, or any request) is waiting for an answer


def consents_lapsing(families: QuerySet[Family], *, now: datetime | None = None) -> list[LapsingConsent]:
    """Consents of children in `families` still current at `now` (default now) that run out within
    LAPSING_DAYS, soonest first: one row per child and day.

    Five queries whatever the number of rows (one when nothing runs out): the children with a yes
    running out in the window, give or take a day (months differ in length), with their family and
    whether a request is open; their consent positions (four), which decide exactly.
    """
    now = now or timezone.now()
    horizon = now + timedelta(days=LAPSING_DAYS)
    validity = consent_valid_for()
    yes_running_out = ConsentRecord.objects.filter(
        child=OuterRef("pk"),
        kind=ConsentRecord.Kind.GIVEN,
        carer__has_parental_responsibility=True,
        signed_at__gt=now - validity - timedelta(days=1),
        signed_at__lte=horizon - validity + timedelta(days=1),
    )
    open_request = ConsentRequest.objects.filter(
        child=OuterRef("pk"), status=ConsentRequest.Status.PENDING, expires_at__gt=now
    )
    found = list(
        Child.objects.filter(Exists(yes_running_out), family__in=families)
        .annotate(asked=Exists(open_request))
        .order_by()
        .values("pk", "family__reference", "first_name", "last_name", "asked")
    )
    positions = consents_for_children([child["pk"] for child in found], at=now)
    rows = []
    for child in found:
        position = positions[child["pk"]]
        by_day: dict[datetime, list[str]] = defaultdict(list)
        for purpose in PURPOSES:
            expires_at = position.expires_at.get(purpose)
            if position.allows(purpose) and expires_at is not None and now < expires_at <= horizon:
                by_day[expires_at].append(purpose)
        rows.extend(
            LapsingConsent(
                child_id=child["pk"],
                family_reference=child["family__reference"],
                child_name=f"{child['first_name']} {child['last_name']}",
                purposes=purposes,
                lapses_at=lapses_at,
                asked=child["asked"],
            )
            for lapses_at, purposes in by_day.items()
        )
    return sorted(rows, key=lambda row: (row.lapses_at, row.family_reference, row.child_name, row.child_id))
