"""Administrators create staff accounts and change roles in the admin; both are audited."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from staff.models import AuditEvent, User
from tests import factories


@pytest.fixture
def administrator(db, client):
    admin = factories.staff_user("staff", email="admin@example.org", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return admin


def test_it_creates_a_staff_account_that_sets_its_own_password(
    client, administrator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:staff_user_add"),
            {"email": "New.Person@Example.org", "full_name": "New Person", "roles": ["coordinator", "photographer"]},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new.person@example.org")
    assert not user.has_usable_password()
    assert {g.name for g in user.groups.all()} == {"coordinator", "photographer"}
    assert AuditEvent.objects.filter(action="account.created", actor=administrator, target_id=str(user.pk)).exists()
    roles_event = AuditEvent.objects.get(action="account.roles_changed", target_id=str(user.pk))
    assert roles_event.details == {"added": ["coordinator", "photographer"], "removed": []}

    [invitation] = [m for m in mail.outbox if user.email in m.to]
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", invitation.body).group(0)
    path = urlparse(link).path

    client.logout()
    response = client.get(path, follow=True)
    assert response.status_code == 200
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else path
    password = "a-good-long-passphrase-for-fig"
    response = client.post(form_path, {"password1": password, "password2": password})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(password)

    # The set-password link works once only.
    response = client.get(path, follow=True)
    assert b"invalid" in response.content.lower() or b"expired" in response.content.lower()

    # Signing in asks for the second factor set-up before anything else.
    client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert int(client.session[SESSION_KEY]) == user.pk
    assert client.get("/")["Location"] == reverse("mfa_activate_totp")


def test_it_audits_role_changes_made_in_the_admin(client, administrator):
    user = factories.staff_user("staff")
    response = client.post(
        reverse("admin:staff_user_change", args=[user.pk]),
        {"email": user.email, "full_name": user.full_name, "is_active": "on", "roles": ["ceo"]},
    )
    assert response.status_code == 302
    assert {g.name for g in user.groups.all()} == {"ceo"}
    event = AuditEvent.objects.get(action="account.roles_changed", target_id=str(user.pk))
    assert event.details == {"added": ["ceo"], "removed": ["staff"]}
    assert event.actor == administrator


def test_it_refuses_a_duplicate_email(client, administrator):
    factories.staff_user("staff", email="taken@example.org")
    response = client.post(
        reverse("admin:staff_user_add"), {"email": "TAKEN@example.org", "full_name": "X", "roles": []}
    )
    assert response.status_code == 200
    assert b"already an account" in response.content
    assert User.objects.filter(email__iexact="taken@example.org").count() == 1


def test_it_does_not_let_anyone_delete_accounts_or_audit_rows_in_the_admin(client, administrator):
    user = factories.staff_user("staff")
    assert client.get(reverse("admin:staff_user_delete", args=[user.pk])).status_code == 403
    event = AuditEvent.objects.first()
    assert client.get(reverse("admin:staff_auditevent_change", args=[event.pk])).status_code == 200
    response = client.post(reverse("admin:staff_auditevent_change", args=[event.pk]), {"action": "tampered"})
    assert response.status_code == 403
    assert client.get(reverse("admin:staff_auditevent_delete", args=[event.pk])).status_code == 403
    assert client.get(reverse("admin:staff_auditevent_add")).status_code == 403
    assert not AuditEvent.objects.filter(action="tampered").exists()


def test_it_keeps_staff_without_the_admin_flag_out_of_the_admin(client, member_of_staff):
    client.force_login(member_of_staff)
    assert client.get("/admin/").status_code in {302, 403}


def test_it_offers_the_post_writer_role_and_shows_it_once_given(client, administrator):
    """Seeing the photos offered for posts takes the "Post writer" role (issue 13, point 5):
    the admin offers it beside "Staff or volunteer", gives it with an audit row, and lists it."""
    user = factories.staff_user("staff", email="volunteer@example.org")
    change_url = reverse("admin:staff_user_change", args=[user.pk])
    form = client.get(change_url).content.decode()
    assert 'value="post_writer"' in form and "Post writer" in form

    response = client.post(
        change_url,
        {"email": user.email, "full_name": user.full_name, "is_active": "on", "roles": ["staff", "post_writer"]},
    )
    assert response.status_code == 302
    assert {g.name for g in user.groups.all()} == {"staff", "post_writer"}
    event = AuditEvent.objects.get(action="account.roles_changed", target_id=str(user.pk))
    assert event.details == {"added": ["post_writer"], "removed": []}
    assert "post_writer, staff" in client.get(reverse("admin:staff_user_changelist")).content.decode()

    client.force_login(user)
    assert "Staff or volunteer, Post writer" in client.get("/").content.decode()
