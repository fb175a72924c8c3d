"""allauth adapters: accounts are made by administrators, never by sign-up; security keys get plain names;
failed sign-ins are limited so that nobody elsewhere can lock a member of staff out."""

from __future__ import annotations

import json
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core import signing
from django.http import HttpRequest, HttpResponse

KNOWN_DEVICE_COOKIE = "fig_known_device"
KNOWN_DEVICE_SALT = "staff.known-device"
KNOWN_DEVICE_ACCOUNTS = 5  # the accounts one browser remembers (a shared office laptop)


class AccountAdapter(DefaultAccountAdapter):
    """Failed password sign-ins are counted twice:

    - per account and address (allauth's own "login_failed" rate, FIG_LOGIN_FAILED_RATE, with this
      adapter's key): someone guessing from one place is slowed at once, but cannot lock out the owner,
      who signs in from somewhere else;
    - per account, more slowly (FIG_LOGIN_FAILED_ACCOUNT_RATE): guesses spread over many addresses are
      capped too. A browser the account has fully signed in from before (password and second factor) is
      remembered by a signed cookie and is not held back by this one, so the owner at their own desk
      still gets in while strangers exhaust it.

    A correct password takes its attempt back from both counts, as allauth does (so an attacker cannot
    clear them by slipping in a successful sign-in of their own).
    """

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        return f"{_account_key(request, **credentials)}|{ratelimit.get_ip(request)}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        super().pre_authenticate(request, **credentials)  # per account and address
        self._account_rl_usage = None
        account = _account_key(request, **credentials)
        if _known_device(request, account):
            return
        self._account_rl_usage = ratelimit.consume(
            request,
            app="allauth.account",
            action="login_failed_account",
            config={"login_failed_account": settings.FIG_LOGIN_FAILED_ACCOUNT_RATE},
            key=account,
        )
        if not self._account_rl_usage:
            self._rollback_login_failed_rl_usage()
            raise self.validation_error("too_many_login_attempts")

    def _rollback_login_failed_rl_usage(self) -> None:
        super()._rollback_login_failed_rl_usage()
        usage = getattr(self, "_account_rl_usage", None)
        if usage:
            usage.rollback()
            self._account_rl_usage = None

    def post_login(self, request: HttpRequest, user, **kwargs: Any) -> HttpResponse:
        """Signed in completely (password and, for staff, second factor): remember this browser for the account."""
        response = super().post_login(request, user, **kwargs)
        if user.email:
            remembered = _remembered_accounts(request)
            account = _account_key(request, email=user.email)
            remembered = [account, *(a for a in remembered if a != account)][:KNOWN_DEVICE_ACCOUNTS]
            response.set_signed_cookie(
                KNOWN_DEVICE_COOKIE,
                json.dumps(remembered),
                salt=KNOWN_DEVICE_SALT,
                max_age=settings.FIG_KNOWN_DEVICE_DAYS * 86400,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def _account_key(request: HttpRequest, **credentials: Any) -> str:
    login = str(credentials.get("email", credentials.get("username", ""))).strip().lower()
    return f"{get_current_site(request).domain}:{login}"


def _remembered_accounts(request: HttpRequest) -> list[str]:
    try:
        value = request.get_signed_cookie(
            KNOWN_DEVICE_COOKIE, salt=KNOWN_DEVICE_SALT, max_age=settings.FIG_KNOWN_DEVICE_DAYS * 86400
        )
        accounts = json.loads(value)
    except (KeyError, signing.BadSignature, ValueError):
        return []
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


def _known_device(request: HttpRequest, account: str) -> bool:
    return account in _remembered_accounts(request)


class MFAAdapter(DefaultMFAAdapter):
    def generate_authenticator_name(self, user, type: Authenticator.Type) -> str:
        """The name the "Add a security key" form suggests: "Security key", then "Security key 2", …

        (allauth's own suggestions are "Master key", "Backup key" and "Key nr. 3".)
        """
        count = Authenticator.objects.filter(user_id=user.pk, type=type).count()
        return "Security key" if count == 0 else f"Security key {count + 1}"
