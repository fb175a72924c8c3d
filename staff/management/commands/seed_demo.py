"""python manage.py seed_demo: idempotent demo data with one account per role."""

from __future__ import annotations

from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from consents.demo import seed_consents
from photos.demo import seed_photos
from staff import services
from staff.models import ApprovedPlatform, User
from staff.roles import Role

DEMO_PASSWORD = "fig-demo-password"
# Fixed, published secrets: these accounts exist only for demonstration.
DEMO_ACCOUNTS = [
    ("coordinator@example.org", "Corinne Coordinator", [Role.COORDINATOR], "FIGDEMOCOORDINATORJBSWY3DPEHPK3P"),
    ("photographer@example.org", "Pat Photographer", [Role.PHOTOGRAPHER], "FIGDEMOPHOTOGRAPHERJBSWY3DPEHPK3"),
    # A member of staff chosen to write posts: they see and attach the photos that may go online.
    ("staff@example.org", "Sam Staff", [Role.STAFF, Role.POST_WRITER], "FIGDEMOSTAFFMEMBERJBSWY3DPEHPK3P"),
    ("socialadmin@example.org", "Sol Socialadmin", [Role.SOCIAL_ADMIN], "FIGDEMOSOCIALADMINJBSWY3DPEHPK3P"),
    ("ceo@example.org", "Chris Ceo", [Role.CEO], "FIGDEMOCHIEFEXECUTIVEJBSWY3DPEHP"),
]
PARENT_EMAIL = "parent@example.org"
PLATFORMS = [
    ("Microsoft Teams (FiG tenant)", "Encrypted in transit; lobby on; meetings created by FiG accounts only."),
    ("Zoom (FiG licence)", "End-to-end encryption on; waiting room and passcode required."),
]


class Command(BaseCommand):
    help = "Create or refresh demo data and one demo account per role. Safe to run again."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        lines = ["Demo accounts (password for staff: %s):" % DEMO_PASSWORD]
        for email, name, roles, secret in DEMO_ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = services.staff_user_create(
                    email=email, full_name=name, roles=roles, by=None, send_invitation=False
                )
            else:
                services.user_set_roles(user=user, roles=roles, by=None)
            if not user.check_password(DEMO_PASSWORD):
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            _ensure_totp(user, secret)
            label = ", ".join(role.label for role in roles)
            lines.append(f"  {label:<28} {email:<28} TOTP secret {secret}")
        services.parent_user_get_or_create(email=PARENT_EMAIL, full_name="Priya Parent")
        lines.append(f"  {'Parent / carer':<28} {PARENT_EMAIL:<28} sign in with an emailed code (see the console)")

        coordinator = User.objects.get(email="coordinator@example.org")
        lines += seed_consents(coordinator=coordinator)
        lines += seed_photos(photographer=User.objects.get(email="photographer@example.org"))

        for name, notes in PLATFORMS:
            ApprovedPlatform.objects.get_or_create(name=name, defaults={"security_notes": notes})

        policy_file = Path(settings.FIG_POLICY_FILE)
        policy_text = policy_file.read_text(encoding="utf-8") if policy_file.is_file() else ""
        if policy_text.strip():
            version = services.policy_publish(text=policy_text, by=None)
            lines.append(f"eSafety policy version {version.number} is current (from {policy_file}).")
        else:
            # An empty file would publish a blank policy that every member of staff must "acknowledge".
            lines.append(f"No policy text at {policy_file}; publish one with `manage.py publish_policy FILE`.")
        self.stdout.write("\n".join(lines))


def _ensure_totp(user: User, secret: str) -> None:
    """Give a demo account a known TOTP secret, so anyone can add it to an authenticator app."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        if decrypt(existing.data["secret"]) == secret:
            return
        existing.delete()
    TOTP.activate(user, secret)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists():
        RecoveryCodes.activate(user)
