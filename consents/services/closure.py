"""Closing a family: FiG stops working with it. Its waiting links stop, its parents can no longer sign in,
and the retention clocks for what FiG holds about it start (consents.retention). A family can be opened
again until its data is erased."""

from __future__ import annotations

from collections.abc import Iterable

from allauth.usersessions.models import UserSession
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from consents.errors import ConsentError
from consents.models import Carer, ConsentRequest, Family
from staff.models import User
from staff.roles import user_roles
from staff.services import audit_record


def family_close(*, family: Family, by: User | None, reason: str, request: HttpRequest | None = None) -> Family:
    """Close `family` (by None: FiG Safety itself, for an erasure). ConsentError if it is already closed."""
    reason = " ".join(reason.split())
    if by is not None and len(reason) < 5:
        raise ConsentError("Say why FiG is closing this family (a few words).")
    with transaction.atomic():
        locked = Family.objects.select_for_update().get(pk=family.pk)
        if locked.closed_at is not None:
            raise ConsentError("This family is already closed.")
        locked.closed_at, locked.closed_by, locked.closed_reason = timezone.now(), by, reason
        locked.save(update_fields=["closed_at", "closed_by", "closed_reason"])
        cancelled = list(
            ConsentRequest.objects.select_for_update()
            .filter(child__family=locked, status=ConsentRequest.Status.PENDING)
            .values_list("pk", flat=True)
        )
        ConsentRequest.objects.filter(pk__in=cancelled).update(status=ConsentRequest.Status.CANCELLED)
        deactivated = _set_parents_active(_parents_of(locked), active=False)
        audit_record(
            action="family.closed",
            actor=by,
            target=locked,
            request=request,
            details={"reason": reason, "requests_cancelled": cancelled, "accounts_deactivated": deactivated},
        )
    return locked


def family_reopen(*, family: Family, by: User, request: HttpRequest | None = None) -> Family:
    """Open a closed family again (before its data is erased): its parents can sign in again; links that
    were cancelled stay cancelled (send new requests)."""
    with transaction.atomic():
        locked = Family.objects.select_for_update().get(pk=family.pk)
        if locked.closed_at is None:
            raise ConsentError("This family is not closed.")
        if locked.erased_at is not None:
            raise ConsentError("This family's data has been erased: it cannot be opened again.")
        if locked.erasure_requests.filter(status="waiting").exists():
            raise ConsentError("Cancel the erasure request first: the family was closed because of it.")
        locked.closed_at, locked.closed_by, locked.closed_reason = None, None, ""
        locked.save(update_fields=["closed_at", "closed_by", "closed_reason"])
        reactivated = _set_parents_active(_parents_of(locked), active=True)
        audit_record(
            action="family.reopened",
            actor=by,
            target=locked,
            request=request,
            details={"accounts_reactivated": reactivated},
        )
    return locked


def _parents_of(family: Family) -> list[User]:
    return list(User.objects.filter(carer_profiles__family=family).distinct())


def _set_parents_active(users: Iterable[User], *, active: bool) -> list[int]:
    """Deactivate (or reactivate) the accounts among `users` that speak for no open family: a parent with
    a child in another, open family keeps signing in for that one. Staff accounts are never touched here.
    Returns the ids changed. Deactivating ends their sessions too."""
    changed = []
    for user in users:
        if user_roles(user) or user.is_staff or user.is_superuser:
            continue
        if not active and Carer.objects.filter(user=user, family__closed_at__isnull=True).exists():
            continue
        if user.is_active != active:
            User.objects.filter(pk=user.pk).update(is_active=active)
            changed.append(user.pk)
        if not active:
            for session in UserSession.objects.filter(user=user):
                session.end()
    return changed
