"""factory_boy factories and helpers for named personas."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth.models import Group

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


__all__ = ["Authenticator", "PASSWORD"]
