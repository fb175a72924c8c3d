"""Audit receivers for events that Django and allauth announce by signal.

Signals are the only hook these libraries offer, so the receivers here do one
thing: hand the event to staff.services.audit_record. No other logic lives here.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from staff.services import audit_record


@receiver(auth_signals.user_logged_in, dispatch_uid="fig_audit_login")
def _logged_in(sender, request, user, **kwargs) -> None:
    audit_record(action="auth.login", actor=user, target=user, request=request)


@receiver(auth_signals.user_logged_out, dispatch_uid="fig_audit_logout")
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action="auth.logout", actor=user, target=user, request=request)


@receiver(auth_signals.user_login_failed, dispatch_uid="fig_audit_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`; only the email is kept.
    attempted = credentials.get("email") or credentials.get("username") or ""
    audit_record(action="auth.login_failed", request=request, details={"email": str(attempted)[:254]})


@receiver(account_signals.password_changed, dispatch_uid="fig_audit_password_changed")
def _password_changed(sender, request, user, **kwargs) -> None:
    audit_record(action="auth.password_changed", actor=user, target=user, request=request)


@receiver(account_signals.password_set, dispatch_uid="fig_audit_password_set")
def _password_set(sender, request, user, **kwargs) -> None:
    audit_record(action="auth.password_set", actor=user, target=user, request=request)


@receiver(account_signals.password_reset, dispatch_uid="fig_audit_password_reset")
def _password_reset(sender, request, user, **kwargs) -> None:
    audit_record(action="auth.password_reset", actor=user, target=user, request=request)


@receiver(mfa_signals.authenticator_added, dispatch_uid="fig_audit_mfa_added")
def _mfa_added(sender, request, user, authenticator, **kwargs) -> None:
    audit_record(action="mfa.added", actor=user, target=user, request=request, details={"type": authenticator.type})


@receiver(mfa_signals.authenticator_removed, dispatch_uid="fig_audit_mfa_removed")
def _mfa_removed(sender, request, user, authenticator, **kwargs) -> None:
    audit_record(action="mfa.removed", actor=user, target=user, request=request, details={"type": authenticator.type})


@receiver(mfa_signals.authenticator_reset, dispatch_uid="fig_audit_mfa_reset")
def _mfa_reset(sender, request, user, authenticator, **kwargs) -> None:
    audit_record(action="mfa.reset", actor=user, target=user, request=request, details={"type": authenticator.type})
