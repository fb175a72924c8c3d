"""Template context for the navigation: what the signed-in person may open."""

from __future__ import annotations

from django.http import HttpRequest

from staff.middleware import has_second_factor
from staff.roles import Role, has_role, is_staff_member


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_is_staff": False}
    is_staff = is_staff_member(user)
    if is_staff and not has_second_factor(user):
        # Until two-step sign-in is set up every staff page redirects to set-up: offer only that.
        return {"nav_is_staff": False, "nav_needs_mfa": True}
    return {
        "nav_is_staff": is_staff,
        "nav_is_ceo": has_role(user, Role.CEO) or user.is_superuser,
        "nav_can_see_consents": user.is_superuser or has_role(user, Role.COORDINATOR, Role.SOCIAL_ADMIN, Role.CEO),
        "nav_is_admin": user.is_staff and user.is_superuser,
        # The photo vault: photographers upload, coordinators also browse their families' photos.
        "nav_can_upload": has_role(user, Role.PHOTOGRAPHER, Role.COORDINATOR),
        "nav_is_coordinator": has_role(user, Role.COORDINATOR),
    }
