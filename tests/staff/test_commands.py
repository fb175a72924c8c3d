"""Operator commands: `seed_demo` (idempotent demo data and accounts) and `publish_policy FILE`."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import CommandError, call_command

from staff.management.commands.seed_demo import DEMO_ACCOUNTS, DEMO_PASSWORD, PARENT_EMAIL, PLATFORMS
from staff.models import ApprovedPlatform, AuditEvent, PolicyVersion, User
from staff.roles import is_staff_member, user_roles
from tests import factories

POLICY_TEXT = "FiG eSafety policy\n\n1. Photos need written consent.\n"


@pytest.fixture
def policy_file(tmp_path, settings):
    path = tmp_path / "esafety-policy.txt"
    path.write_text(POLICY_TEXT, encoding="utf-8")
    settings.FIG_POLICY_FILE = str(path)
    return path


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _publish(*args: str) -> str:
    out = StringIO()
    call_command("publish_policy", *args, stdout=out)
    return out.getvalue()


def _snapshot() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "authenticators": Authenticator.objects.count(),
        "email addresses": EmailAddress.objects.count(),
        "platforms": ApprovedPlatform.objects.count(),
        "policy versions": PolicyVersion.objects.count(),
        "accounts created": AuditEvent.objects.filter(action="account.created").count(),
    }


# --- seed_demo ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_seeds_one_demo_account_per_role(policy_file):
    output = _seed()

    for email, name, roles, secret in DEMO_ACCOUNTS:
        user = User.objects.get(email=email)
        assert user.full_name == name
        assert user_roles(user) == {role.value for role in roles}
        assert user.check_password(DEMO_PASSWORD)
        totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        assert decrypt(totp.data["secret"]) == secret
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).count() == 1
        assert EmailAddress.objects.get(user=user).verified
        assert secret in output and email in output
    parent = User.objects.get(email=PARENT_EMAIL)
    assert not is_staff_member(parent)
    assert not parent.has_usable_password()
    assert not Authenticator.objects.filter(user=parent).exists()
    assert set(ApprovedPlatform.objects.filter(is_active=True).values_list("name", flat=True)) == {
        name for name, _ in PLATFORMS
    }


@pytest.mark.django_db
def test_it_seeds_the_same_data_when_run_again(policy_file):
    _seed()
    before = _snapshot()

    _seed()

    assert _snapshot() == before
    for email, _, roles, _ in DEMO_ACCOUNTS:
        user = User.objects.get(email=email)
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1
        assert user_roles(user) == {role.value for role in roles}
    assert not User.objects.get(email=PARENT_EMAIL).has_usable_password()


@pytest.mark.django_db
def test_it_puts_demo_accounts_back_as_they_were(policy_file):
    _seed()
    ceo_email, _, _, ceo_secret = DEMO_ACCOUNTS[-1]
    ceo = User.objects.get(email=ceo_email)
    ceo.groups.add(Group.objects.get(name="coordinator"))
    ceo.set_password("someone-changed-it")
    ceo.save()
    Authenticator.objects.filter(user=ceo, type=Authenticator.Type.TOTP).delete()
    factories.add_totp(ceo)  # a different secret from the published one

    _seed()

    ceo = User.objects.get(email=ceo_email)
    assert user_roles(ceo) == {"ceo"}
    assert ceo.check_password(DEMO_PASSWORD)
    totps = Authenticator.objects.filter(user=ceo, type=Authenticator.Type.TOTP)
    assert [decrypt(totp.data["secret"]) for totp in totps] == [ceo_secret]


@pytest.mark.django_db
def test_it_lets_a_demo_account_sign_in_with_its_published_secret(client, policy_file):
    _seed()
    email, _, _, secret = DEMO_ACCOUNTS[0]
    response = client.post("/accounts/login/", {"login": email, "password": DEMO_PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": factories.totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_it_publishes_the_policy_file_once(policy_file):
    output = _seed()
    version = PolicyVersion.objects.get()
    assert version.text == POLICY_TEXT
    assert version.sha256 == PolicyVersion.digest(POLICY_TEXT)
    assert f"eSafety policy version {version.number} is current" in output

    _seed()

    assert list(PolicyVersion.objects.values_list("pk", flat=True)) == [version.pk]
    assert AuditEvent.objects.filter(action="policy.published").count() == 1


@pytest.mark.django_db
def test_it_publishes_a_new_version_when_the_file_changed(policy_file):
    _seed()
    policy_file.write_text(POLICY_TEXT + "2. Messages are answered within a week.\n", encoding="utf-8")
    _seed()
    assert list(PolicyVersion.objects.values_list("number", flat=True)) == [2, 1]
    assert PolicyVersion.objects.get(number=1).text == POLICY_TEXT


@pytest.mark.django_db
def test_it_publishes_no_policy_when_the_file_is_missing(tmp_path, settings):
    settings.FIG_POLICY_FILE = str(tmp_path / "not-there.txt")
    output = _seed()
    assert not PolicyVersion.objects.exists()
    assert "publish_policy FILE" in output
    assert User.objects.filter(email__in=[email for email, *_ in DEMO_ACCOUNTS]).count() == len(DEMO_ACCOUNTS)


@pytest.mark.django_db
def test_it_publishes_no_blank_policy_from_an_empty_file(tmp_path, settings):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    settings.FIG_POLICY_FILE = str(empty)
    output = _seed()
    assert not PolicyVersion.objects.exists()
    assert "publish_policy FILE" in output


# --- publish_policy -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_publishes_a_policy_file(tmp_path):
    path = tmp_path / "policy.txt"
    path.write_text(POLICY_TEXT, encoding="utf-8")

    output = _publish(str(path), "--title", "FiG eSafety policy", "--summary", "First version.")

    version = PolicyVersion.objects.get()
    assert (version.number, version.title, version.text, version.summary_of_changes, version.published_by) == (
        1,
        "FiG eSafety policy",
        POLICY_TEXT,
        "First version.",
        None,
    )
    assert "FiG eSafety policy version 1 is current" in output
    assert AuditEvent.objects.filter(action="policy.published", target_id=str(version.pk), actor=None).count() == 1


@pytest.mark.django_db
def test_it_makes_no_new_version_for_the_same_file(tmp_path):
    path = tmp_path / "policy.txt"
    path.write_text(POLICY_TEXT, encoding="utf-8")
    _publish(str(path))
    path.write_text(POLICY_TEXT.replace("\n", "\r\n") + "\n\n", encoding="utf-8")  # same words, Windows endings
    output = _publish(str(path))
    assert PolicyVersion.objects.count() == 1
    assert "eSafety policy version 1 is current" in output


@pytest.mark.django_db
def test_it_publishes_a_changed_file_as_a_new_version_and_tells_staff(tmp_path, django_capture_on_commit_callbacks):
    staff = [factories.staff_user(role) for role in ("coordinator", "photographer", "ceo")]
    factories.parent_user()
    path = tmp_path / "policy.txt"
    path.write_text(POLICY_TEXT, encoding="utf-8")
    _publish(str(path))
    path.write_text(POLICY_TEXT + "2. A new rule.\n", encoding="utf-8")

    with django_capture_on_commit_callbacks(execute=True):
        _publish(str(path), "--summary", "Rule 2 added.")

    assert list(PolicyVersion.objects.values_list("number", flat=True)) == [2, 1]
    assert PolicyVersion.objects.get(number=1).text == POLICY_TEXT
    assert sorted(message.to[0] for message in mail.outbox) == sorted(user.email for user in staff)
    assert "Rule 2 added." in mail.outbox[0].body


@pytest.mark.django_db
def test_it_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _publish(str(tmp_path / "not-there.txt"))
    assert not PolicyVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="policy.published").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("content", ["", "   \n\t\n"])
def test_it_refuses_an_empty_file(tmp_path, content):
    path = tmp_path / "policy.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match="is empty"):
        _publish(str(path))
    assert not PolicyVersion.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_folder_and_a_file_that_is_not_text(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _publish(str(tmp_path))
    binary = tmp_path / "policy.docx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    with pytest.raises(CommandError, match="Cannot read"):
        _publish(str(binary))
    assert not PolicyVersion.objects.exists()


@pytest.mark.django_db
def test_it_needs_a_file_argument():
    with pytest.raises(CommandError):
        _publish()
    assert not PolicyVersion.objects.exists()
