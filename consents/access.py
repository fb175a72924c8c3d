"""Who may see and change which family, child, carer, consent request and consent record.

Outsiders get 404 (they learn nothing, not even that a family exists);
read-only overseers (social media administrators, the CEO) get 403 on changes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from consents.models import Carer, Child, ConsentRecord, ConsentRequest, Family
from consents.selectors import carers_for_user, children_of_parent, families_managed_by, families_visible_to
from staff.roles import Role, has_role, is_staff_member

OVERSIGHT_ROLES = (Role.COORDINATOR, Role.SOCIAL_ADMIN, Role.CEO)


def can_change_family(user, family: Family) -> bool:
    return has_role(user, Role.COORDINATOR) and families_managed_by(user).filter(pk=family.pk).exists()


def is_coordinator(user) -> bool:
    return has_role(user, Role.COORDINATOR)


def access_family(user, reference: str, *, write: bool = False) -> Family:
    family = families_visible_to(user).filter(reference=reference).first()
    if family is None:
        raise Http404
    if write and not can_change_family(user, family):
        # Overseers see every family but change none; a coordinator of another family got 404 above.
        raise PermissionDenied
    return family


def access_child(user, reference: str, child_id: int, *, write: bool = False) -> Child:
    family = access_family(user, reference, write=write)
    return get_object_or_404(Child.objects.select_related("family"), pk=child_id, family=family)


def access_carer(user, reference: str, carer_id: int, *, write: bool = False) -> Carer:
    family = access_family(user, reference, write=write)
    return get_object_or_404(Carer, pk=carer_id, family=family)


def access_consent_request(user, pk: int, *, write: bool = False) -> ConsentRequest:
    """A consent request in a family this user may see (404 otherwise); with `write`, one they may change (403)."""
    consent_request = get_object_or_404(ConsentRequest.objects.select_related("child__family"), pk=pk)
    family = consent_request.child.family
    if not families_visible_to(user).filter(pk=family.pk).exists():
        raise Http404
    if write and not can_change_family(user, family):
        raise PermissionDenied
    return consent_request


def access_record(user, record_id: int) -> ConsentRecord:
    record = get_object_or_404(
        ConsentRecord.objects.select_related("child__family", "carer", "form_version", "recorded_by", "request"),
        pk=record_id,
    )
    if not families_visible_to(user).filter(pk=record.child.family_id).exists():
        raise Http404
    return record


def access_parent_child(user, child_id: int) -> Child:
    """A parent's own child (they hold parental responsibility in its family); 404 for anyone else's."""
    return get_object_or_404(children_of_parent(user).select_related("family"), pk=child_id)


def access_parent_carer(user, child: Child) -> Carer:
    """The carer record through which this signed-in parent speaks for `child` (one with parental
    responsibility in its family); 404 if they have none."""
    carer = carers_for_user(user).filter(family=child.family, has_parental_responsibility=True).first()
    if carer is None:
        raise Http404
    return carer


def parent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in parents and carers only: anonymous people sign in; staff pages are elsewhere (404)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if is_staff_member(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def access_certificate_copy(user, record_id: int) -> ConsentRecord:
    """A signed consent form's sealed PDF: for the carer who signed it (their account or their email) and
    the family's own coordinators; 404 for anyone else, overseers included (they have the certificate page)."""
    record = get_object_or_404(
        ConsentRecord.objects.select_related("child__family", "carer", "form_version", "recorded_by", "request"),
        pk=record_id,
        kind=ConsentRecord.Kind.GIVEN,
    )
    if carers_for_user(user).filter(pk=record.carer_id).exists():
        return record
    if is_coordinator(user) and families_managed_by(user).filter(pk=record.child.family_id).exists():
        return record
    raise Http404
