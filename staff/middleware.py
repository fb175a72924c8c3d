"""Middleware that keeps staff on the safe path: idle sign-out, MFA first, policy read."""

from __future__ import annotations

import time
from collections.abc import Callable

from allauth.mfa.models import Authenticator
from allauth.usersessions import app_settings as usersessions_settings
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

from staff.roles import is_staff_member
from staff.selectors import policy_pending
from staff.services import client_ip

_IDLE_KEY = "fig_last_seen"
_STAMP_EVERY_SECONDS = 60
_ACTIVITY_KEY = "fig_activity"

# Pages a staff member without a second factor may still open: setting one up (an
# authenticator app or a security key), the recovery codes that come with it,
# re-authenticating and signing out.
MFA_SETUP_URL_NAMES = {
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_list_webauthn",
    "mfa_index",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_reauthenticate",
    "account_reauthenticate",
    "account_logout",
}
POLICY_EXEMPT_URL_NAMES = MFA_SETUP_URL_NAMES | {"staff:policy", "account_change_password", "usersessions_list"}


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return None


def _is_static(request: HttpRequest) -> bool:
    return request.path_info.startswith(settings.STATIC_URL)


class StaffIdleTimeoutMiddleware:
    """Signs staff out after FIG_STAFF_IDLE_MINUTES without a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not _is_static(request) and is_staff_member(request.user):
            now = time.time()
            last_seen = request.session.get(_IDLE_KEY)
            if last_seen is not None and now - last_seen > settings.FIG_STAFF_IDLE_MINUTES * 60:
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {settings.FIG_STAFF_IDLE_MINUTES} minutes without activity. Please sign in again.",
                )
                return redirect_to_login(request.get_full_path())
            # Stamp at most once a minute: a session write on every request is most of a page's cost.
            if last_seen is None or now - last_seen >= _STAMP_EVERY_SECONDS:
                request.session[_IDLE_KEY] = now
        return self.get_response(request)


class StaffMFARequiredMiddleware:
    """A staff member with neither an authenticator app nor a security key is sent to set one up, and nowhere else.

    The redirect goes to the authenticator app's set-up page, which most people use; that page offers a
    security key instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not _is_static(request) and not is_staff_member(user):
            # Parents and carers sign in by emailed code: two-step sign-in is for staff, and an
            # authenticator added to a parent's account would only lock them out.
            if (_url_name(request) or "").startswith("mfa_"):
                raise Http404
        if user.is_authenticated and not _is_static(request) and is_staff_member(user):
            if _url_name(request) not in MFA_SETUP_URL_NAMES and not has_second_factor(user):
                messages.warning(
                    request,
                    "Staff accounts need two-step sign-in. Please set up an authenticator app or a security key to continue.",
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)


def has_second_factor(user) -> bool:
    cached = getattr(user, "_fig_has_mfa", None)
    if cached is None:
        cached = Authenticator.objects.filter(
            user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).exists()
        user._fig_has_mfa = cached
    return cached


class PolicyAcknowledgementMiddleware:
    """Staff read and acknowledge the current eSafety policy before anything else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not _is_static(request) and is_staff_member(user):
            if _url_name(request) not in POLICY_EXEMPT_URL_NAMES and policy_pending(user):
                return redirect("staff:policy")
        return self.get_response(request)


class SessionActivityMiddleware:
    """allauth's session list ("where am I signed in, and when was that session last used?"), kept up to date
    without writing on every request.

    allauth's own middleware reads and rewrites the session's row on every request (four queries). This one
    writes when the session is new, when its address or browser changed (allauth then signals the change), and
    otherwise at most once a minute, which is as fine as "last seen" is shown.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            usersessions_settings.TRACK_ACTIVITY
            and request.user.is_authenticated
            and request.session.session_key
            and not _is_static(request)
        ):
            client = f"{client_ip(request) or ''}|{request.META.get('HTTP_USER_AGENT', '')}"
            now = time.time()
            seen = request.session.get(_ACTIVITY_KEY)
            if not seen or seen[1] != client or now - seen[0] >= _STAMP_EVERY_SECONDS:
                UserSession.objects.create_from_request(request)
                request.session[_ACTIVITY_KEY] = [now, client]
        return self.get_response(request)
