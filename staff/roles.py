"""Roles are Django groups. This module is the one place that names them and answers
"is this person staff / does this person hold that role?"."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser


class Role(StrEnum):
    COORDINATOR = "coordinator"
    PHOTOGRAPHER = "photographer"
    STAFF = "staff"
    POST_WRITER = "post_writer"
    SOCIAL_ADMIN = "social_admin"
    CEO = "ceo"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.COORDINATOR: "Family Service Coordinator",
    Role.PHOTOGRAPHER: "Photographer",
    Role.STAFF: "Staff or volunteer",
    Role.POST_WRITER: "Post writer",
    Role.SOCIAL_ADMIN: "Social media administrator",
    Role.CEO: "CEO",
}
ROLE_CHOICES = [(role.value, role.label) for role in Role]


def user_roles(user) -> frozenset[str]:
    """The role names a user holds, read once per user object."""
    if isinstance(user, AnonymousUser) or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_fig_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True))
        user._fig_roles = cached
    return cached


def is_staff_member(user) -> bool:
    """Staff are people with any FiG role, or with access to the Django admin. Everyone else is a parent or carer."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or user.is_staff or user_roles(user))


def has_role(user, *roles: Role) -> bool:
    held = user_roles(user)
    return any(role.value in held for role in roles)


def is_social_admin(user) -> bool:
    """Social media administrators (and superusers): they approve and publish posts, keep the policy term
    lists, and work the inbox and the takedowns."""
    return bool(getattr(user, "is_superuser", False) or has_role(user, Role.SOCIAL_ADMIN))
