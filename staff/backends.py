"""Authentication backends that load, with the signed-in user, what every staff request asks.

Every request runs the same checks in middleware: which roles does this person hold, do they have a
second factor, have they acknowledged the current policy? Asked one by one that is four queries
before the page does any work. ``get_user`` answers all of them in the one query that loads the
user, and leaves the answers on the user object where ``staff.roles`` and ``staff.middleware`` look
first. The answers belong to this request only: the next request loads the user again.
"""

from __future__ import annotations

from functools import cache

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from allauth.mfa.models import Authenticator
from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from staff.models import PolicyAcknowledgement, PolicyVersion, User
from staff.roles import Role

_ROLE_FLAG = "fig_role_{}"


def users_with_request_state() -> QuerySet[User]:
    """Users annotated with their roles, whether they have a second factor, and whether a policy awaits them."""
    memberships = User.groups.through.objects.filter(user_id=OuterRef("pk"))
    latest = PolicyVersion.objects.order_by("-number").values("number")[:1]
    acknowledged = PolicyAcknowledgement.objects.filter(user_id=OuterRef(OuterRef("pk")), version_id=OuterRef("pk"))
    return User._default_manager.annotate(
        **{_ROLE_FLAG.format(role.value): Exists(memberships.filter(group__name=role.value)) for role in Role},
        fig_has_mfa=Exists(
            Authenticator.objects.filter(
                user_id=OuterRef("pk"), type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
            )
        ),
        fig_policy_pending=Exists(PolicyVersion.objects.filter(number=Subquery(latest)).filter(~Exists(acknowledged))),
    )


@cache
def _request_state_query() -> QuerySet[User]:
    """Built once per process (building it costs as much as running it); never evaluated itself."""
    return users_with_request_state()


def load_request_user(user_id) -> User | None:
    user = _request_state_query().filter(pk=user_id).first()
    if user is not None:
        user._fig_roles = frozenset(role.value for role in Role if getattr(user, _ROLE_FLAG.format(role.value)))
        user._fig_has_mfa = user.fig_has_mfa
        user._fig_policy_pending = user.fig_policy_pending
    return user


class _RequestStateMixin:
    def get_user(self, user_id):
        user = load_request_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class FigModelBackend(_RequestStateMixin, ModelBackend):
    """Django's model backend (the admin's sign-in goes through allauth; this keeps Django's own checks)."""


class FigAllauthBackend(_RequestStateMixin, AllauthBackend):
    """allauth's backend: email and password, and parents' sign-in codes."""
