"""Access helpers for views: who may open which page. Views call these, never check inline."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from staff.models import BreachReport
from staff.roles import Role, has_role, is_staff_member


def staff_required(*roles: Role, not_found: bool = False) -> Callable:
    """Signed-in staff only; with roles, only holders of one of them (or superusers).

    Anonymous people are sent to sign in; parents and staff without the role get 403, or 404
    with `not_found`, for pages that should not even admit to existing (the photo vault's).
    """
    refusal = Http404 if not_found else PermissionDenied

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not is_staff_member(user):
                raise refusal
            if roles and not (user.is_superuser or has_role(user, *roles)):
                raise refusal
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def require(allowed: bool) -> None:
    """403 for someone who may see the thing but not do this to it."""
    if not allowed:
        raise PermissionDenied


def can_publish_policy(user) -> bool:
    return bool(user.is_superuser or has_role(user, Role.CEO))


def can_manage_breaches(user) -> bool:
    """Breach reports are dealt with by the CEO alone: superusers without the role neither
    read other people's reports nor move any report on (the admin hides them too)."""
    return has_role(user, Role.CEO)


def access_breach_report(user, pk: int) -> BreachReport:
    """The report if the user is its reporter or the CEO; 404 for everyone else."""
    report = get_object_or_404(BreachReport.objects.select_related("reporter"), pk=pk)
    if report.reporter_id == user.pk or can_manage_breaches(user):
        return report
    raise Http404
