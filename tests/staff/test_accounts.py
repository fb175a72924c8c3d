"""Accounts: sign-in by email, enforced MFA for staff, parents by code, rate limits, sessions."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from staff.models import AuditEvent, User
from tests import factories


def _reauthenticate(client) -> None:
    response = client.post(reverse("account_reauthenticate"), {"password": factories.PASSWORD})
    assert response.status_code == 302, response.content


STAFF_URLS = [
    "/",
    "/staff/policy/",
    "/staff/policy/register/",
    "/staff/policy/publish/",
    "/staff/breaches/",
    "/staff/breaches/new/",
    "/staff/visits/",
    "/staff/visits/new/",
    "/accounts/password/change/",
    "/accounts/sessions/",
    "/admin/",
]
PARENT_FORBIDDEN_URLS = [
    "/staff/policy/",
    "/staff/policy/register/",
    "/staff/policy/publish/",
    "/staff/breaches/",
    "/staff/breaches/new/",
    "/staff/visits/",
    "/staff/visits/new/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "photographer", "staff", "social_admin", "ceo"])
@pytest.mark.parametrize("url", STAFF_URLS)
def test_it_sends_staff_without_mfa_to_set_it_up_from_every_page(client, role, url):
    user = factories.staff_user(role, mfa=False)
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


@pytest.mark.django_db
def test_it_lets_staff_without_mfa_open_the_setup_page_and_sign_out(client):
    user = factories.staff_user("staff", mfa=False)
    response = client.post(reverse("account_login"), {"login": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == reverse("mfa_activate_totp")
    # allauth asks for the password again before any change to two-step sign-in.
    assert client.get(reverse("mfa_activate_totp"))["Location"].startswith(reverse("account_reauthenticate"))
    _reauthenticate(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_it_lets_staff_with_totp_through(client, member_of_staff):
    client.force_login(member_of_staff)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Hello" in response.content


@pytest.mark.django_db
def test_it_does_not_ask_parents_for_mfa(client, parent):
    client.force_login(parent)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Your FiG account" in response.content or b"Hello" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("url", PARENT_FORBIDDEN_URLS)
def test_it_forbids_staff_pages_to_parents(client, parent, url):
    client.force_login(parent)
    assert client.get(url).status_code in {403, 404}


@pytest.mark.django_db
def test_it_keeps_parents_out_of_the_admin(client, parent):
    client.force_login(parent)
    assert client.get("/admin/").status_code in {302, 403}
    assert client.get("/admin/staff/auditevent/").status_code in {302, 403}
    assert not client.get("/admin/").content.count(b"Site administration")


@pytest.mark.django_db
@pytest.mark.parametrize("url", PARENT_FORBIDDEN_URLS)
def test_it_sends_anonymous_people_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_it_has_no_public_sign_up(client):
    assert client.get("/accounts/signup/").status_code == 404
    assert client.post("/accounts/signup/", {"email": "new@example.org", "password1": "x" * 20}).status_code == 404
    assert not User.objects.filter(email="new@example.org").exists()


@pytest.mark.django_db
def test_it_does_not_let_people_change_their_email_address(client, parent):
    client.force_login(parent)
    assert client.get("/accounts/email/").status_code == 404


@pytest.mark.django_db
def test_it_signs_staff_in_with_password_then_totp(client, member_of_staff):
    response = client.post(reverse("account_login"), {"login": member_of_staff.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session  # not signed in before the second factor

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert SESSION_KEY not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": factories.totp_code(member_of_staff.totp_secret)})
    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == member_of_staff.pk
    assert AuditEvent.objects.filter(action="auth.login", actor=member_of_staff).count() == 1


def _login_code_from(message) -> str:
    match = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


@pytest.mark.django_db
def test_it_signs_parents_in_by_emailed_code(client, parent):
    response = client.post(reverse("account_request_login_code"), {"email": parent.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    code = _login_code_from(mail.outbox[0])
    assert SESSION_KEY not in client.session

    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == parent.pk


@pytest.mark.django_db
def test_it_asks_staff_for_totp_even_after_a_code_sign_in(client, member_of_staff):
    client.post(reverse("account_request_login_code"), {"email": member_of_staff.email})
    code = _login_code_from(mail.outbox[-1])
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response["Location"] == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_it_refuses_a_wrong_login_code(client, parent):
    client.post(reverse("account_request_login_code"), {"email": parent.email})
    response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    assert SESSION_KEY not in client.session
    assert response.status_code == 200
    assert b"Incorrect code" in response.content or b"incorrect" in response.content.lower()


@pytest.mark.django_db
def test_it_rate_limits_failed_sign_ins_through_the_cache(client, member_of_staff):
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": member_of_staff.email, "password": "wrong password"})
        assert response.status_code == 200
    # Now even the right password is refused for a while.
    response = client.post(reverse("account_login"), {"login": member_of_staff.email, "password": factories.PASSWORD})
    assert response.status_code in {200, 429}
    assert b"Too many failed login attempts" in response.content
    assert SESSION_KEY not in client.session
    assert "mfa_authenticate" not in response.get("Location", "")


@pytest.mark.django_db
@pytest.mark.redis
def test_it_keeps_rate_limits_in_redis(client, member_of_staff, settings):
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    import redis

    for _ in range(3):
        client.post(reverse("account_login"), {"login": member_of_staff.email, "password": "wrong password"})
    keys = redis.Redis.from_url(settings.REDIS_URL).keys(f"{settings.CACHES['default']['KEY_PREFIX']}*")
    assert any(b"rl:" in key or b"ratelimit" in key or b"login_failed" in key for key in keys), keys


@pytest.mark.django_db
def test_it_gives_the_admin_login_no_way_around_allauth(client, settings):
    admin = factories.staff_user("staff", is_staff=True, is_superuser=True)
    response = client.post("/admin/login/", {"username": admin.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_it_rate_limits_the_admin_login_too(client):
    admin = factories.staff_user("staff", is_staff=True, is_superuser=True)
    # The admin's own form signs nobody in, even with the right password: it sends
    # people to allauth's sign-in, which counts failures.
    response = client.post("/admin/login/", {"username": admin.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in client.session
    for _ in range(5):
        client.post(reverse("account_login"), {"login": admin.email, "password": "wrong password"})
    response = client.post(reverse("account_login"), {"login": admin.email, "password": factories.PASSWORD})
    assert b"Too many failed login attempts" in response.content
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_it_lists_sessions_and_ends_the_other_ones(client, member_of_staff):
    from django.test import Client

    other = Client()
    other.force_login(member_of_staff)
    other.get("/")  # the other browser is signed in and tracked
    client.force_login(member_of_staff)
    response = client.get(reverse("usersessions_list"))
    assert response.status_code == 200
    from allauth.usersessions.models import UserSession

    assert UserSession.objects.filter(user=member_of_staff).count() == 2
    response = client.post(reverse("usersessions_list"))
    assert response.status_code == 302
    assert UserSession.objects.filter(user=member_of_staff).count() == 1
    assert other.get("/staff/breaches/").status_code == 302  # that browser is signed out
    assert client.get("/staff/breaches/").status_code == 200  # this one is not


@pytest.mark.django_db
def test_it_audits_and_emails_a_password_change(client, member_of_staff):
    client.force_login(member_of_staff)
    new = "a-new-long-passphrase-2026"
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": factories.PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.password_changed", actor=member_of_staff).exists()
    assert any(member_of_staff.email in m.to and "password" in m.subject.lower() for m in mail.outbox)


# A real commit: allauth sends its notification in an on-commit hook inside the request.
@pytest.mark.django_db(transaction=True)
def test_it_audits_and_emails_mfa_set_up(client):
    user = factories.staff_user("staff", mfa=False)
    client.post(reverse("account_login"), {"login": user.email, "password": factories.PASSWORD})
    _reauthenticate(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": factories.totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(action="mfa.added", actor=user, details__type="totp").exists()
    assert any(user.email in m.to for m in mail.outbox)
    assert client.get("/").status_code == 200


# A real commit: allauth sends its notification in an on-commit hook inside the request.
@pytest.mark.django_db(transaction=True)
def test_it_audits_and_emails_mfa_removal(client):
    member_of_staff = factories.staff_user("staff")
    client.force_login(member_of_staff)
    _reauthenticate(client)
    totp = Authenticator.objects.get(user=member_of_staff, type=Authenticator.Type.TOTP)
    mail.outbox.clear()
    response = client.post(reverse("mfa_deactivate_totp"), {"code": factories.totp_code(member_of_staff.totp_secret)})
    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=totp.pk).exists()
    assert AuditEvent.objects.filter(action="mfa.removed", actor=member_of_staff).exists()
    assert any(member_of_staff.email in m.to for m in mail.outbox)
    # Without a second factor they are at once sent back to set one up.
    assert client.get("/")["Location"] == reverse("mfa_activate_totp")


@pytest.mark.django_db
def test_it_signs_idle_staff_out(client, member_of_staff, settings):
    settings.FIG_STAFF_IDLE_MINUTES = 30
    client.force_login(member_of_staff)
    assert client.get("/").status_code == 200
    session = client.session
    session["fig_last_seen"] -= 31 * 60
    session.save()
    response = client.get("/staff/breaches/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_it_keeps_active_staff_signed_in(client, member_of_staff):
    client.force_login(member_of_staff)
    client.get("/")
    session = client.session
    session["fig_last_seen"] -= 29 * 60
    session.save()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_it_resets_staff_passwords_by_email(client, member_of_staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": member_of_staff.email})
    assert response.status_code == 302
    assert any("/accounts/password/reset/key/" in m.body for m in mail.outbox if member_of_staff.email in m.to)


@pytest.mark.django_db
def test_it_never_gives_parents_a_password(client, parent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": parent.email})
    assert response.status_code == 302
    [message] = [m for m in mail.outbox if parent.email in m.to]
    assert "/accounts/password/reset/key/" not in message.body
    assert "sign-in code" in message.body
    parent.refresh_from_db()
    assert not parent.has_usable_password()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["account_set_password", "account_change_password"])
def test_a_signed_in_parent_cannot_give_themselves_a_password(client, parent, name):
    client.force_login(parent)
    assert client.get(reverse(name)).status_code == 404
    response = client.post(
        reverse(name),
        {
            "password1": "a long new passphrase 42",
            "password2": "a long new passphrase 42",
            "oldpassword": "",
            "password": "a long new passphrase 42",
        },
    )
    assert response.status_code == 404
    parent.refresh_from_db()
    assert not parent.has_usable_password()
    assert client.post(reverse("account_logout")).status_code == 302
    response = client.post(reverse("account_login"), {"login": parent.email, "password": "a long new passphrase 42"})
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_staff_still_change_their_password(client, member_of_staff):
    client.force_login(member_of_staff)
    assert client.get(reverse("account_change_password")).status_code == 200
    assert reverse("account_change_password") == "/accounts/password/change/"


@pytest.mark.django_db
def test_an_admin_flag_without_a_role_still_needs_a_second_factor(client):
    user = User.objects.create_user(email="flagged@example.org", password=factories.PASSWORD, is_staff=True)
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
