"""Writes for families: creating them, their children and carers, and which coordinators manage them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from guardian.shortcuts import assign_perm, remove_perm

from consents.errors import ConsentError
from consents.models import Carer, Child, ConsentRequest, Family
from consents.selectors import coordinators_of
from staff.models import User
from staff.services import audit_record, parent_user_get_or_create

LAST_COORDINATOR = "A family needs at least one coordinator."


def family_create(
    *,
    by: User,
    notes: str = "",
    display_name: str = "",
    coordinators: Iterable[User] = (),
    request: HttpRequest | None = None,
) -> Family:
    with transaction.atomic():
        family = Family.objects.create(notes=notes, display_name=" ".join(display_name.split()))
        audit_record(action="family.created", actor=by, target=family, request=request)
        for coordinator in coordinators:
            family_assign_coordinator(family=family, coordinator=coordinator, by=by, request=request)
    return family


def family_update(
    *, family: Family, by: User, display_name: str, notes: str, request: HttpRequest | None = None
) -> Family:
    """Change what staff call the family and its notes. The audit trail names the fields that changed, not
    their words: the name often holds a carer's name, and the trail outlives it."""
    with transaction.atomic():
        family = Family.objects.select_for_update().get(pk=family.pk)
        changed = _apply_changes(family, {"display_name": " ".join(display_name.split()), "notes": notes})
        if changed:
            family.save(update_fields=changed)
            audit_record(
                action="family.updated", actor=by, target=family, request=request, details={"changed": changed}
            )
    return family


def family_assign_coordinator(
    *, family: Family, coordinator: User, by: User | None, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        assign_perm("consents.manage_family", coordinator, family)
        audit_record(
            action="family.coordinator_assigned",
            actor=by,
            target=family,
            request=request,
            details={"coordinator": coordinator.email},
        )


def family_unassign_coordinator(
    *, family: Family, coordinator: User, by: User | None, request: HttpRequest | None = None
) -> None:
    """Take a coordinator off a family; ConsentError if nobody else would be left to coordinate it."""
    with transaction.atomic():
        # The family's row lock makes two removals take turns: two coordinators taking each other off
        # at once would otherwise both count two and leave the family with none.
        Family.objects.select_for_update().get(pk=family.pk)
        if not coordinators_of(family).exclude(pk=coordinator.pk).exists():
            raise ConsentError(LAST_COORDINATOR)
        remove_perm("consents.manage_family", coordinator, family)
        audit_record(
            action="family.coordinator_unassigned",
            actor=by,
            target=family,
            request=request,
            details={"coordinator": coordinator.email},
        )


def _apply_changes(instance: Any, fields: dict[str, Any]) -> list[str]:
    """Set `fields` on `instance`; return the names whose value changed (for the audit trail)."""
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    for name, value in fields.items():
        setattr(instance, name, value)
    return changed


def child_save(
    *, family: Family, by: User, child: Child | None = None, request: HttpRequest | None = None, **fields: Any
) -> Child:
    with transaction.atomic():
        if child is None:
            child = Child.objects.create(family=family, **fields)
            audit_record(action="child.added", actor=by, target=family, request=request, details={"child": child.pk})
        else:
            changed = _apply_changes(child, fields)
            child.save(update_fields=list(fields))
            audit_record(
                action="child.updated",
                actor=by,
                target=family,
                request=request,
                details={"child": child.pk, "changed": changed},
            )
    return child


def _cancel_links(carer: Carer, *, by: User, request: HttpRequest | None, because: str) -> None:
    """The carer's address changed or they no longer hold parental responsibility: every link waiting to be
    signed stops working now, in the same transaction, so whoever holds the old email cannot answer it.
    (Each link is also bound to the address it was sent to: consents.links.address_tag.)"""
    cancelled = list(
        ConsentRequest.objects.select_for_update()
        .filter(carer=carer, status=ConsentRequest.Status.PENDING)
        .values_list("pk", flat=True)
    )
    if not cancelled:
        return
    ConsentRequest.objects.filter(pk__in=cancelled).update(status=ConsentRequest.Status.CANCELLED)
    audit_record(
        action="consent.requests_cancelled",
        actor=by,
        target=carer.family,
        request=request,
        details={"carer": carer.pk, "requests": cancelled, "because": because},
    )


def carer_save(
    *, family: Family, by: User, carer: Carer | None = None, request: HttpRequest | None = None, **fields: Any
) -> Carer:
    fields["email"] = (fields.get("email") or "").strip().lower()
    with transaction.atomic():
        if carer is None:
            carer = Carer.objects.create(family=family, **fields)
            audit_record(action="carer.added", actor=by, target=family, request=request, details={"carer": carer.pk})
        else:
            # The carer's waiting requests, then the carer: the order giving consent takes them in (the request,
            # then the record that refers to the carer), so a correction and a signature take turns rather
            # than each waiting for the other.
            list(
                ConsentRequest.objects.select_for_update()
                .filter(carer=carer, status=ConsentRequest.Status.PENDING)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            carer = Carer.objects.select_for_update().get(pk=carer.pk)
            changed = _apply_changes(carer, fields)
            if "email" in changed:
                carer.user = None  # the old address's account no longer speaks for this carer
            carer.save(update_fields=[*fields, "user"])
            audit_record(
                action="carer.updated",
                actor=by,
                target=family,
                request=request,
                details={"carer": carer.pk, "changed": changed},
            )
            if "email" in changed or not carer.has_parental_responsibility:
                _cancel_links(
                    carer, by=by, request=request, because="email" if "email" in changed else "responsibility"
                )
        if carer.email and carer.user_id is None:
            # An account to sign in to by emailed code, so the carer can see and withdraw consents.
            carer.user = parent_user_get_or_create(email=carer.email, full_name=carer.full_name)
            carer.save(update_fields=["user"])
    return carer
