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
from django.utils import timezone

from consents.demo import seed_consents
from photos.demo import seed_photos
from social.inbox.sweeps import digest_skip_today
from staff import services
from staff.models import ApprovedPlatform, User
from staff.roles import Role
from staff.selectors import current_policy

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
DEMO_POLICY_TITLE = "eSafety policy (demo)"
# What `make run` publishes when FIG_POLICY_FILE has no text, so staff still meet the acknowledgement page.
DEMO_POLICY = """\
This is a demonstration policy for trying FiG Safety. It is not FiG's eSafety policy: publish FiG's own \
text with `python manage.py publish_policy FILE`.

1. Take, keep and share photos of a child only as their parent or carer agreed on the consent form.
2. Never publish a child's full name, school, address or anything else that could lead someone to a family.
3. Keep photos in FiG Safety, not on your own phone, computer or cloud storage.
4. Answer messages to FiG's social media accounts within a week, and take down anything a family asks us \
to remove within a day.
5. Tell your Family Service Coordinator straight away about any worry for a child's safety online.
"""


class Command(BaseCommand):
    help = "Create or refresh demo data and one demo account per role. Safe to run again."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--demo-policy",
            action="store_true",
            help="When FIG_POLICY_FILE has no text and no policy is published yet, publish a short demo policy.",
        )

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
        elif options["demo_policy"]:
            version = current_policy() or services.policy_publish(text=DEMO_POLICY, title=DEMO_POLICY_TITLE, by=None)
            lines.append(
                f"{version.title} version {version.number} is current; there is no policy text at {policy_file} "
                "(publish FiG's with `manage.py publish_policy FILE`)."
            )
        else:
            # An empty file would publish a blank policy that every member of staff must "acknowledge".
            lines.append(f"No policy text at {policy_file}; publish one with `manage.py publish_policy FILE`.")
        # `make run` seeds at every start: today's inbox digest, if due already, would arrive as the site opens.
        digest_skip_today(timezone.now())
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
