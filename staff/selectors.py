"""Reads for the staff app that are more than a line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from allauth.mfa.models import Authenticator
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from fig_safety.times import LONDON
from staff.models import BreachReport, PolicyAcknowledgement, PolicyNudge, PolicyReminder, PolicyVersion, User
from staff.roles import Role


def current_policy() -> PolicyVersion | None:
    return PolicyVersion.objects.order_by("-number").first()


def has_acknowledged(user: User, version: PolicyVersion) -> bool:
    return PolicyAcknowledgement.objects.filter(user=user, version=version).exists()


def policy_pending(user: User) -> bool:
    """Is there a published policy this user has not acknowledged? Loaded with the user on each request
    (staff.backends); asked directly for a user loaded any other way."""
    pending = getattr(user, "_fig_policy_pending", None)
    if pending is None:
        version = current_policy()
        pending = version is not None and not has_acknowledged(user, version)
    return pending


def emails_of(*roles: Role) -> list[str]:
    """The addresses of active users holding any of `roles`, each once."""
    return list(
        User.objects.filter(is_active=True, groups__name__in=[r.value for r in roles])
        .distinct()
        .values_list("email", flat=True)
    )


def staff_users() -> QuerySet[User]:
    """Active staff as staff.roles.is_staff_member sees them: anyone with a role, and superusers.

    Superusers are held to the policy by the middleware too, so they are listed, reminded and told.
    """
    return User.objects.filter(
        Q(groups__name__in=[r.value for r in Role]) | Q(is_superuser=True), is_active=True
    ).distinct()


@dataclass(frozen=True)
class AcknowledgementRow:
    user: User
    acknowledged_at: datetime | None
    last_version_number: int | None


def acknowledgement_register(version: PolicyVersion) -> list[AcknowledgementRow]:
    """Every active member of staff with when they acknowledged `version` (or not).

    Two queries whatever the number of staff: the users, and their acknowledgements.
    """
    acks = PolicyAcknowledgement.objects.select_related("version").order_by("-version__number")
    users = (
        staff_users()
        .order_by("full_name", "email")
        .prefetch_related(Prefetch("policy_acknowledgements", queryset=acks, to_attr="acks"))
    )
    rows = []
    for user in users:
        this = next((ack for ack in user.acks if ack.version_id == version.pk), None)
        rows.append(
            AcknowledgementRow(
                user=user,
                acknowledged_at=this.acknowledged_at if this else None,
                last_version_number=user.acks[0].version.number if user.acks else None,
            )
        )
    rows.sort(key=lambda row: (row.acknowledged_at is not None, (row.user.full_name or row.user.email).lower()))
    return rows


def breach_reports_for(user: User, *, is_ceo: bool) -> QuerySet[BreachReport]:
    reports = BreachReport.objects.select_related("reporter")
    return reports if is_ceo else reports.filter(reporter=user)


@dataclass(frozen=True)
class SecondFactors:
    """The ways a person can complete two-step sign-in; recovery codes only stand in for these."""

    authenticator_app: bool
    security_keys: int

    @property
    def count(self) -> int:
        return int(self.authenticator_app) + self.security_keys


def second_factors(user: User) -> SecondFactors:
    """Which second factors `user` has, in one query (for pages that word themselves by them)."""
    types = list(
        Authenticator.objects.filter(
            user_id=user.pk, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).values_list("type", flat=True)
    )
    return SecondFactors(
        authenticator_app=Authenticator.Type.TOTP in types,
        security_keys=types.count(Authenticator.Type.WEBAUTHN),
    )


def policy_not_acknowledged(version: PolicyVersion) -> QuerySet[User]:
    """Active staff who have not acknowledged `version`, by name."""
    return staff_users().exclude(policy_acknowledgements__version=version).order_by("full_name", "email")


def reminded_today(version: PolicyVersion, now: datetime | None = None) -> set[int]:
    """Ids of the people reminded about the policy today (London's day): by the CEO, or by the sweep."""
    today = timezone.localtime(now or timezone.now(), LONDON).date()
    by_hand = PolicyNudge.objects.filter(sent_on=today).values_list("user_id", flat=True)
    by_sweep = PolicyReminder.objects.filter(version=version, sent_at__date=today).values_list("user_id", flat=True)
    return set(by_hand) | set(by_sweep)


def last_reminded(version: PolicyVersion, users: list[User]) -> dict[int, datetime]:
    """When each of `users` was last reminded about `version`, by the CEO or by the sweep (two queries)."""
    last: dict[int, datetime] = {}
    for model, scope in ((PolicyReminder, {"version": version}), (PolicyNudge, {})):
        for user_id, sent_at in model.objects.filter(user__in=users, **scope).values_list("user_id", "sent_at"):
            last[user_id] = max(sent_at, last.get(user_id, sent_at))
    return last
