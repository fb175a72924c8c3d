"""Reads for consents, above all the one answer to "may child C be used for purpose P at time T?".

Every part of the app asks `consents_for_children` (many children, a fixed number of queries;
`consent_allows` gives its answer for one child); what a photo of several children may be used
for, and which children stop a photo being used, are worked out from those positions in
`consents.uses`. The rules:

- only carers with parental responsibility count;
- for each such carer and purpose, their latest record that answers it is their decision;
- any refusal or withdrawal by any of them wins;
- otherwise at least one of them must have said yes, on a form version that
  has not been superseded by one requiring re-consent, within the validity
  period (FIG_CONSENT_VALID_MONTHS, default 12);
- a recognisable face online also needs consent to publish online at all.

Also here: who may see which family, which children still need asking, and what an emailed link points to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import signing
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from consents.errors import LinkProblem
from consents.links import LINK_SALT, REVIEW_SALT, address_tag
from consents.models import (
    PURPOSES,
    Carer,
    Child,
    ConsentFormVersion,
    ConsentRecord,
    ConsentRequest,
    Family,
    FamilyUserObjectPermission,
    Purpose,
)
from staff.roles import Role, has_role


class State:
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    OUTDATED = "outdated"
    NONE = "none"
    PENDING = "pending"


STATE_LABELS = {
    State.GIVEN: "Consented",
    State.REFUSED: "Refused",
    State.WITHDRAWN: "Withdrawn",
    State.EXPIRED: "Expired",
    State.OUTDATED: "Needs new form",
    State.NONE: "No answer",
    State.PENDING: "Request pending",
}
_BLOCKING = {State.REFUSED, State.WITHDRAWN}


@dataclass
class ChildConsent:
    """The current consent position of one child."""

    child_id: int
    states: dict[str, str] = field(default_factory=dict)
    expires_at: dict[str, datetime] = field(default_factory=dict)

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(p for p, state in self.states.items() if state == State.GIVEN)

    def allows(self, purpose: str) -> bool:
        return self.states.get(purpose) == State.GIVEN

    @property
    def has_any_decision(self) -> bool:
        return any(state in {State.GIVEN, *_BLOCKING} for state in self.states.values())


def consent_valid_for() -> relativedelta:
    return relativedelta(months=settings.FIG_CONSENT_VALID_MONTHS)


def consents_for_children(child_ids: Iterable[int], *, at: datetime | None = None) -> dict[int, ChildConsent]:
    """The consent position of many children at time `at` (default now), in four queries.

    Queries: the children's families; the carers with parental responsibility of
    those families; the newest form version that requires re-consent; the records
    of those carers for those children up to `at`.
    """
    at = at or timezone.now()
    child_ids = list(set(child_ids))
    result = {child_id: ChildConsent(child_id, dict.fromkeys(PURPOSES, State.NONE)) for child_id in child_ids}
    if not child_ids:
        return result

    # No ordering (the models' default joins the family to sort by its reference): these are lookups.
    family_of = dict(Child.objects.filter(pk__in=child_ids).order_by().values_list("pk", "family_id"))
    pr_carers: dict[int, set[int]] = defaultdict(set)
    for carer_id, family_id in (
        Carer.objects.filter(family_id__in=set(family_of.values()), has_parental_responsibility=True)
        .order_by()
        .values_list("pk", "family_id")
    ):
        pr_carers[family_id].add(carer_id)

    cutoff = (
        ConsentFormVersion.objects.filter(requires_reconsent=True, published_at__lte=at)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    records = (
        ConsentRecord.objects.filter(child_id__in=child_ids, signed_at__lte=at, carer__has_parental_responsibility=True)
        .order_by("signed_at", "id")
        .values_list("child_id", "carer_id", "kind", "answers", "signed_at", "form_version__number")
    )
    validity = consent_valid_for()
    # latest[(child, carer)][purpose] = (that carer's decision, when it lapses if a yes), from the
    # carer's latest record answering the purpose. A record's yes means the same for every purpose
    # it answers, so it is worked out once a record (relativedelta arithmetic is slow).
    latest: dict[tuple[int, int], dict[str, tuple[str, datetime]]] = defaultdict(dict)
    for child_id, carer_id, kind, answers, signed_at, version in records:
        expires_at = signed_at + validity
        no = State.WITHDRAWN if kind == ConsentRecord.Kind.WITHDRAWAL else State.REFUSED
        if cutoff is not None and kind == ConsentRecord.Kind.GIVEN and (version or 0) < cutoff:
            yes = State.OUTDATED
        elif expires_at <= at:
            yes = State.EXPIRED
        else:
            yes = State.GIVEN
        for purpose, answer in (answers or {}).items():
            if purpose in PURPOSES:
                latest[(child_id, carer_id)][purpose] = (yes if answer else no, expires_at)

    for child_id in child_ids:
        carers = pr_carers.get(family_of.get(child_id), set())
        answered = [latest[(child_id, carer_id)] for carer_id in carers if (child_id, carer_id) in latest]
        if not answered:
            continue  # no carer with parental responsibility has decided anything: every purpose is "none"
        position = result[child_id]
        for purpose in PURPOSES:
            decisions = [by_purpose[purpose] for by_purpose in answered if purpose in by_purpose]
            position.states[purpose] = _combine([state for state, _ in decisions])
            if position.states[purpose] == State.GIVEN:
                # Holds while any yes is current (a refusal would have blocked already): the latest expiry.
                position.expires_at[purpose] = max(expires for state, expires in decisions if state == State.GIVEN)
        if position.states[Purpose.FACE_ONLINE] == State.GIVEN and not position.allows(Purpose.ONLINE):
            position.states[Purpose.FACE_ONLINE] = position.states[Purpose.ONLINE]
            position.expires_at.pop(Purpose.FACE_ONLINE, None)
    return result


def _combine(decisions: list[str]) -> str:
    for blocking in (State.WITHDRAWN, State.REFUSED):
        if blocking in decisions:
            return blocking
    for state in (State.GIVEN, State.OUTDATED, State.EXPIRED):
        if state in decisions:
            return state
    return State.NONE


def consent_allows(*, child: Child | int, purpose: str, at: datetime | None = None) -> bool:
    """May this child be used for this purpose at this time? consents_for_children's answer for one child
    (the app asks about many children at once; this is for the shell and for reading the rules)."""
    child_id = child if isinstance(child, int) else child.pk
    return consents_for_children([child_id], at=at)[child_id].allows(purpose)


def families_without_online_consent(families: Iterable[Family]) -> list[Family]:
    """Those of `families` with a child whose photos or details may not go online now (no consent, refused,
    withdrawn, lapsed): the families a public comment must not name. Five queries."""
    families = list(families)
    children = dict(Child.objects.filter(family__in=families).values_list("pk", "family_id"))
    consents = consents_for_children(children)
    unagreed = {family_id for child_id, family_id in children.items() if not consents[child_id].allows(Purpose.ONLINE)}
    return [family for family in families if family.pk in unagreed]


# --- who may see which family -------------------------------------------------


def can_oversee_all_families(user) -> bool:
    return bool(user.is_superuser or has_role(user, Role.SOCIAL_ADMIN, Role.CEO))


def families_managed_by(user) -> QuerySet[Family]:
    """Families this coordinator is assigned to, filtered in SQL through guardian's direct FK."""
    # The permission as a scalar subquery, not a join on its codename: PostgreSQL cannot tell that the
    # join keeps all of the user's assignments (it guessed 1 in the ~150 permissions), and with that guess
    # sorted all 5,000 children for one register page instead of reading the families in reference order.
    permission = (
        Permission.objects.filter(
            codename="manage_family", content_type__app_label="consents", content_type__model="family"
        )
        .order_by()
        .values("pk")
    )
    return Family.objects.filter(
        Exists(
            FamilyUserObjectPermission.objects.filter(
                content_object=OuterRef("pk"), user=user, permission=Subquery(permission)
            )
        )
    )


def coordinators_of(family: Family) -> QuerySet:
    """The coordinators assigned to a family (one query)."""
    from staff.models import User

    return User.objects.filter(
        is_active=True,
        familyuserobjectpermission__content_object=family,
        familyuserobjectpermission__permission__codename="manage_family",
    ).distinct()


@dataclass(frozen=True)
class WhoToTell:
    """Where a notice about one family goes: its coordinators, or the CEO when nobody coordinates it (so a
    notice is never recorded as sent to no one); `coordinated` says which, for the notice to mention."""

    emails: list[str]
    coordinated: bool


def who_to_tell(family: Family) -> WhoToTell:
    """The addresses a notice about `family` goes to (one or two queries)."""
    from staff.selectors import emails_of

    coordinators = list(coordinators_of(family).values_list("email", flat=True))
    return WhoToTell(coordinators or emails_of(Role.CEO), bool(coordinators))


def assignable_coordinators(family: Family) -> QuerySet:
    from staff.models import User

    return (
        User.objects.filter(is_active=True, groups__name=Role.COORDINATOR.value)
        .exclude(pk__in=coordinators_of(family).values("pk"))
        .distinct()
        .order_by("full_name", "email")
    )


def families_visible_to(user) -> QuerySet[Family]:
    if can_oversee_all_families(user):
        return Family.objects.all()
    if has_role(user, Role.COORDINATOR):
        return families_managed_by(user)
    return Family.objects.none()


def carers_for_user(user) -> QuerySet[Carer]:
    """The carer records of a signed-in parent: linked to their account, or matching their email."""
    return Carer.objects.filter(Q(user=user) | Q(email__iexact=user.email))


def children_of_parent(user) -> QuerySet[Child]:
    """Children in families where this person is a carer with parental responsibility."""
    families = (
        carers_for_user(user)
        .filter(has_parental_responsibility=True, family__closed_at__isnull=True)
        .values("family_id")
    )
    return Child.objects.filter(family_id__in=families)


def open_requests(child_ids: Iterable[int]) -> dict[int, list[ConsentRequest]]:
    found: dict[int, list[ConsentRequest]] = defaultdict(list)
    for request in ConsentRequest.objects.filter(
        child_id__in=list(child_ids), status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
    ).select_related("carer"):
        found[request.child_id].append(request)
    return found


def children_without_current_consent(families) -> list[Child]:
    """Children with no current decision at all and no open request."""
    children = list(Child.objects.filter(family__in=families).select_related("family"))
    positions = consents_for_children([c.pk for c in children])
    pending = set(
        ConsentRequest.objects.filter(
            child__in=children, status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
        ).values_list("child_id", flat=True)
    )
    return [c for c in children if not positions[c.pk].has_any_decision and c.pk not in pending]


# --- what an emailed link points to (the links are made in consents.links) -------------------------


def request_from_token(token: str) -> ConsentRequest:
    """The pending request a link points to, or LinkProblem saying why it cannot be used.

    "used" is checked before the age, so a carer who comes back to an answered
    link weeks later still sees that it was answered rather than "expired".
    """
    consent_request = request_from_token_any(token)
    if consent_request is not None and consent_request.child.family.closed_at is not None:
        raise LinkProblem("closed")
    if consent_request is None or consent_request.status == ConsentRequest.Status.CANCELLED:
        raise LinkProblem("invalid")
    if consent_request.status in {ConsentRequest.Status.SIGNED, ConsentRequest.Status.DECLINED}:
        raise LinkProblem("used")
    try:
        signing.loads(token, salt=LINK_SALT, max_age=timedelta(days=settings.FIG_CONSENT_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkProblem("expired") from exc
    if consent_request.status == ConsentRequest.Status.EXPIRED or consent_request.expires_at <= timezone.now():
        raise LinkProblem("expired")
    return consent_request


def request_from_token_any(token: str) -> ConsentRequest | None:
    """The request a genuine link points to, whatever its state (for the "already answered" page); None
    when the link was sent to an address the carer no longer has (a coordinator corrected it)."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    consent_request = (
        ConsentRequest.objects.select_related("child", "carer", "form_version", "child__family")
        .filter(pk=data.get("r"), nonce=data.get("n"))
        .first()
    )
    if consent_request is None or not constant_time_compare(
        address_tag(consent_request.carer.email), str(data.get("e", ""))
    ):
        return None
    return consent_request


def review_from_token(token: str) -> tuple[Carer, Child]:
    """The carer and child a review link was sent for, or LinkProblem ("invalid" or "expired").

    The link lets whoever holds it see that one child's consent and withdraw it, as that carer,
    for FIG_CONSENT_LINK_DAYS: less than a signing link does (it cannot give consent), and no
    sign-in, so withdrawing takes no more steps than giving did.
    """
    try:
        data = signing.loads(token, salt=REVIEW_SALT, max_age=timedelta(days=settings.FIG_CONSENT_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkProblem("expired") from exc
    except signing.BadSignature as exc:
        raise LinkProblem("invalid") from exc
    carer = Carer.objects.filter(pk=data.get("c"), has_parental_responsibility=True).first()
    child = Child.objects.select_related("family").filter(pk=data.get("k")).first()
    if (
        carer is None
        or child is None
        or carer.family_id != child.family_id
        or not constant_time_compare(address_tag(carer.email), str(data.get("e", "")))
    ):
        raise LinkProblem("invalid")
    if child.family.closed_at is not None:
        raise LinkProblem("closed")
    return carer, child


def children_without_group_photo_words(child_ids: Iterable[int]) -> set[int]:
    """The children for whom a carer with parental responsibility said yes to keeping photos on a form whose
    words did not say that a group photo is seen by the other families' coordinators too
    (consents.formtext.GROUP_PHOTOS): their latest such yes, in the text they were shown. One query."""
    from consents.formtext import says_group_photos

    latest: dict[tuple[int, int], tuple[dict, str]] = {}
    for child_id, carer_id, answers, text in (
        ConsentRecord.objects.filter(
            child_id__in=list(child_ids),
            kind=ConsentRecord.Kind.GIVEN,
            carer__has_parental_responsibility=True,
        )
        .order_by("signed_at", "pk")
        .values_list("child_id", "carer_id", "answers", "text_shown")
    ):
        if Purpose.STORED in answers:
            latest[(child_id, carer_id)] = (answers, text)
    return {
        child_id
        for (child_id, _carer), (answers, text) in latest.items()
        if answers.get(Purpose.STORED) and not says_group_photos(text)
    }


def reconsent_due(families, version) -> tuple[set[int], set[tuple[int, int]]]:
    """Who re-consent asks after `version` was published: (the children in the open `families` who gave
    consent on an older version and have no record on `version`, the (child, carer) pairs already sent
    `version`'s form and still open). One reading for the confirmation list and the sending alike."""
    families = families.filter(closed_at__isnull=True)
    child_ids = set(
        ConsentRecord.objects.filter(
            child__family__in=families, kind=ConsentRecord.Kind.GIVEN, form_version__number__lt=version.number
        ).values_list("child_id", flat=True)
    ) - set(
        ConsentRecord.objects.filter(child__family__in=families, form_version=version).values_list(
            "child_id", flat=True
        )
    )
    waiting = set(
        ConsentRequest.objects.filter(
            child_id__in=child_ids,
            form_version=version,
            status=ConsentRequest.Status.PENDING,
            expires_at__gt=timezone.now(),
        ).values_list("child_id", "carer_id")
    )
    return child_ids, waiting
