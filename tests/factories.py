"""factory_boy factories and helpers for named personas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth.models import Group
from django.utils import timezone

from social.models import Conversation, Message, policy_due_at
from staff.models import ApprovedPlatform, BreachReport, PolicyAcknowledgement, PolicyVersion, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    full_name = factory.Faker("name", locale="en_GB")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if extracted:
            for name in extracted:
                group, _ = Group.objects.get_or_create(name=name)
                self.groups.add(group)
        self.save()
        EmailAddress.objects.get_or_create(user=self, email=self.email, defaults={"primary": True, "verified": True})


def staff_user(*roles: str, mfa: bool = True, acknowledged: bool = True, **fields) -> User:
    """A member of staff who has set up TOTP and read the current policy, unless told otherwise."""
    user = UserFactory(roles=list(roles) or ["staff"], **fields)
    if mfa:
        user.totp_secret = add_totp(user)
    if acknowledged:
        for version in PolicyVersion.objects.all():
            PolicyAcknowledgement.objects.get_or_create(user=user, version=version)
    return user


def parent_user(**fields) -> User:
    user = UserFactory(roles=[], **fields)
    user.set_unusable_password()
    user.save()
    return user


def add_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str, offset: int = 0) -> str:
    import time

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyVersion

    number = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"eSafety policy text, version {n + 1}.\n")
    sha256 = factory.LazyAttribute(lambda o: PolicyVersion.digest(o.text))


class ApprovedPlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApprovedPlatform
        django_get_or_create = ("name",)

    name = "Microsoft Teams (FiG tenant)"


class BreachReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BreachReport

    reporter = factory.SubFactory(UserFactory, roles=["staff"])
    occurred_on = factory.Faker("past_date")
    where = "A private Facebook post"
    description = "A colleague posted about a home visit."


def make_conversation(
    text: str = "When is the next family day?",
    *,
    platform: str = "messenger",
    kind: str = "message",
    received_at: datetime | None = None,
    platform_id: str | None = None,
    flagged_at: datetime | None = None,
    **fields: Any,
) -> Conversation:
    """A conversation holding one message from the person, as ingesting or typing it in leaves it.

    `fields` go to the conversation (status, assignee, sender_name, urgent, flagged_names, due_at, ...);
    its message is of the conversation's kind ("comment" for a comment), with `platform_id`, and
    `flagged_at` once it was checked for names (None: not yet checked), carrying the conversation's
    urgent flag and names.
    """
    received_at = received_at or timezone.now()
    fields.setdefault("due_at", policy_due_at(received_at))
    conversation = Conversation.objects.create(
        platform=platform, kind=kind, text=text, received_at=received_at, **fields
    )
    Message.objects.create(
        conversation=conversation,
        platform=platform,
        platform_id=platform_id,
        event=kind,  # each kind of conversation begins with the event of the same name
        text=text,
        at=received_at,
        flagged_at=flagged_at,
        urgent=conversation.urgent,
        flagged_names=conversation.flagged_names,
    )
    return conversation


__all__ = ["Authenticator", "PASSWORD"]
