"""allauth adapters: accounts are made by administrators, never by sign-up; security keys get plain names."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class MFAAdapter(DefaultMFAAdapter):
    def generate_authenticator_name(self, user, type: Authenticator.Type) -> str:
        """The name the "Add a security key" form suggests: "Security key", then "Security key 2", …

        (allauth's own suggestions are "Master key", "Backup key" and "Key nr. 3".)
        """
        count = Authenticator.objects.filter(user_id=user.pk, type=type).count()
        return "Security key" if count == 0 else f"Security key {count + 1}"
