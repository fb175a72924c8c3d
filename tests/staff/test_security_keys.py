"""Security keys (WebAuthn) as staff's second factor: adding one, signing in with it, renaming and removing it."""

from __future__ import annotations

import re

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import NoReverseMatch, reverse

from staff.backends import load_request_user
from staff.middleware import MFA_SETUP_URL_NAMES, has_second_factor
from staff.models import AuditEvent
from tests import factories
from tests.security_key import SoftSecurityKey, give_key, page_options

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    # A key belongs to the site's host name, and fido2 (like browsers) accepts plain http only on localhost.
    client.defaults["HTTP_HOST"] = "localhost"
    return client


def _reauthenticate(client) -> None:
    response = client.post(reverse("account_reauthenticate"), {"password": factories.PASSWORD})
    assert response.status_code == 302, response.content


def _password_step(client, user) -> None:
    response = client.post(reverse("account_login"), {"login": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302


def _keys(user) -> list[Authenticator]:
    return list(Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN))


def test_it_offers_security_keys_as_a_second_factor_but_not_passkey_sign_in():
    assert "webauthn" in mfa_settings.SUPPORTED_TYPES
    assert not mfa_settings.PASSKEY_LOGIN_ENABLED
    assert not mfa_settings.PASSKEY_SIGNUP_ENABLED
    with pytest.raises(NoReverseMatch):
        reverse("mfa_login_webauthn")
    assert {"mfa_add_webauthn", "mfa_list_webauthn"} <= MFA_SETUP_URL_NAMES


# A real commit: allauth sends its notification in an on-commit hook inside the request.
@pytest.mark.django_db(transaction=True)
def test_it_lets_staff_without_a_second_factor_add_a_key_and_audits_and_emails_it(client):
    user = factories.staff_user("coordinator", mfa=False)
    _password_step(client, user)
    assert client.get("/")["Location"] == reverse("mfa_activate_totp")
    _reauthenticate(client)
    assert reverse("mfa_add_webauthn") in client.get(reverse("mfa_activate_totp")).content.decode()

    page = client.get(reverse("mfa_add_webauthn"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Add a security key</h1>" in html
    assert 'value="Security key"' in html  # the suggested name
    key = SoftSecurityKey()
    mail.outbox.clear()
    response = client.post(
        reverse("mfa_add_webauthn"),
        {"name": "Blue USB key", "credential": key.register(page_options(html)["creation_options"])},
    )

    # The first second factor comes with recovery codes, shown straight away.
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    [added] = _keys(user)
    assert str(added) == "Blue USB key"
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists()
    assert AuditEvent.objects.filter(action="mfa.added", actor=user, details__type="webauthn").exists()
    [email] = [m for m in mail.outbox if "Security key added" in m.subject]
    assert email.to == [user.email]
    assert "A security key was added to your FiG Safety account" in email.body
    assert client.get("/").status_code == 200


def test_it_refuses_a_key_response_it_did_not_ask_for(client):
    user = factories.staff_user("staff", mfa=False)
    client.force_login(user)
    _reauthenticate(client)
    page = client.get(reverse("mfa_add_webauthn")).content.decode()
    options = page_options(page)["creation_options"]
    options["publicKey"]["challenge"] = "bm90LXRoZS1zZXJ2ZXJzLWNoYWxsZW5nZQ"
    response = client.post(
        reverse("mfa_add_webauthn"), {"name": "Key", "credential": SoftSecurityKey().register(options)}
    )
    assert response.status_code == 200
    assert "Your security key could not be added" in response.content.decode()
    assert _keys(user) == []
    assert client.get("/")["Location"] == reverse("mfa_activate_totp")


def test_a_key_counts_as_a_second_factor_on_every_request(client):
    user = factories.staff_user("staff", mfa=False)
    give_key(user)
    loaded = load_request_user(user.pk)
    assert has_second_factor(loaded)
    client.force_login(user)
    assert client.get("/").status_code == 200


def test_it_signs_staff_in_with_a_password_then_their_key(client):
    user = factories.staff_user("staff", mfa=False)
    key = give_key(user)
    _password_step(client, user)
    assert SESSION_KEY not in client.session

    page = client.get(reverse("mfa_authenticate"))
    html = page.content.decode()
    assert "<h1>Use your security key</h1>" in html
    assert ">Recovery code</label>" in html  # no authenticator app to ask about
    response = client.post(
        reverse("mfa_authenticate"), {"credential": key.sign_in(page_options(html)["request_options"])}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(user.pk)
    assert _keys(user)[0].last_used_at is not None
    assert client.get("/").status_code == 200


def test_it_refuses_a_signature_from_another_key(client):
    user = factories.staff_user("staff", mfa=False)
    key = give_key(user)
    impostor = SoftSecurityKey()
    impostor.credential_id = key.credential_id  # the same id, a different secret
    _password_step(client, user)
    html = client.get(reverse("mfa_authenticate")).content.decode()

    response = client.post(
        reverse("mfa_authenticate"), {"credential": impostor.sign_in(page_options(html)["request_options"])}
    )

    assert response.status_code == 200
    assert "That security key was not accepted" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_it_asks_only_staff_with_a_key_for_it(client, member_of_staff):
    _password_step(client, member_of_staff)
    html = client.get(reverse("mfa_authenticate")).content.decode()
    assert "<h1>Enter your authenticator code</h1>" in html
    assert "Use my security key" not in html
    assert "js_data" not in html

    client.logout()
    give_key(member_of_staff)
    _password_step(client, member_of_staff)
    html = client.get(reverse("mfa_authenticate")).content.decode()
    assert "Use my security key" in html
    assert ">Authenticator code</label>" in html  # the app's code still works
    response = client.post(reverse("mfa_authenticate"), {"code": factories.totp_code(member_of_staff.totp_secret)})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(member_of_staff.pk)


def test_the_two_step_page_lists_keys_and_offers_to_add_one(client, member_of_staff):
    client.force_login(member_of_staff)
    html = client.get(reverse("mfa_index")).content.decode()
    assert f'href="{reverse("mfa_add_webauthn")}">Add a security key</a>' in html

    give_key(member_of_staff, name="Work laptop")
    [key] = _keys(member_of_staff)
    html = client.get(reverse("mfa_index")).content.decode()
    assert "Work laptop" in html
    assert reverse("mfa_edit_webauthn", kwargs={"pk": key.pk}) in html
    assert reverse("mfa_remove_webauthn", kwargs={"pk": key.pk}) in html
    assert "Add a security key" in html
    assert "Work laptop" in client.get(reverse("mfa_list_webauthn")).content.decode()


def test_it_renames_a_key(client, member_of_staff):
    give_key(member_of_staff, name="Security key")
    [key] = _keys(member_of_staff)
    client.force_login(member_of_staff)
    _reauthenticate(client)
    url = reverse("mfa_edit_webauthn", kwargs={"pk": key.pk})
    assert client.get(url).status_code == 200

    response = client.post(f"{url}?next={reverse('mfa_index')}", {"name": "Blue USB key", "next": reverse("mfa_index")})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    [key] = _keys(member_of_staff)
    assert str(key) == "Blue USB key"


# A real commit: allauth sends its notification in an on-commit hook inside the request.
@pytest.mark.django_db(transaction=True)
def test_it_audits_and_emails_removing_a_key(client):
    member_of_staff = factories.staff_user("staff")
    give_key(member_of_staff)
    [key] = _keys(member_of_staff)
    client.force_login(member_of_staff)
    _reauthenticate(client)
    url = reverse("mfa_remove_webauthn", kwargs={"pk": key.pk})
    page = client.get(url)
    assert page.status_code == 200
    assert "only way" not in page.content.decode()  # the authenticator app stays
    assert _keys(member_of_staff) == [key]  # asking is not removing
    mail.outbox.clear()

    response = client.post(url)

    assert response.status_code == 302
    assert _keys(member_of_staff) == []
    assert AuditEvent.objects.filter(action="mfa.removed", actor=member_of_staff, details__type="webauthn").exists()
    [email] = [m for m in mail.outbox if "Security key removed" in m.subject]
    assert email.to == [member_of_staff.email]
    assert Authenticator.objects.filter(user=member_of_staff, type=Authenticator.Type.TOTP).exists()
    assert client.get("/").status_code == 200


def test_removing_the_last_key_sends_staff_back_to_set_up(client):
    user = factories.staff_user("staff", mfa=False)
    client.force_login(user)
    _reauthenticate(client)
    page = client.get(reverse("mfa_add_webauthn")).content.decode()
    client.post(
        reverse("mfa_add_webauthn"),
        {"name": "Key", "credential": SoftSecurityKey().register(page_options(page)["creation_options"])},
    )
    [key] = _keys(user)
    url = reverse("mfa_remove_webauthn", kwargs={"pk": key.pk})
    assert "This is your only way to complete two-step sign-in" in client.get(url).content.decode()

    response = client.post(url)

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=user).exists()  # the recovery codes went with it
    assert client.get("/")["Location"] == reverse("mfa_activate_totp")


def test_it_keeps_other_peoples_keys_out_of_reach(client, member_of_staff, coordinator):
    give_key(coordinator, name="Coordinator's key")
    [theirs] = _keys(coordinator)
    client.force_login(member_of_staff)
    _reauthenticate(client)
    for name in ("mfa_edit_webauthn", "mfa_remove_webauthn"):
        url = reverse(name, kwargs={"pk": theirs.pk})
        assert client.get(url).status_code == 404
        assert client.post(url, {"name": "Mine now"}).status_code == 404
    assert _keys(coordinator) == [theirs]
    assert str(_keys(coordinator)[0]) == "Coordinator's key"
    assert "Coordinator's key" not in client.get(reverse("mfa_list_webauthn")).content.decode()


def test_the_key_pages_carry_data_but_no_inline_script(client):
    user = factories.staff_user("staff")
    give_key(user)
    [key] = _keys(user)
    _password_step(client, user)
    pages = [client.get(reverse("mfa_authenticate")).content.decode()]
    client.force_login(user)
    _reauthenticate(client)
    for url in (
        reverse("mfa_add_webauthn"),
        reverse("mfa_reauthenticate_webauthn"),
        reverse("mfa_index"),
        reverse("mfa_list_webauthn"),
        reverse("mfa_edit_webauthn", kwargs={"pk": key.pk}),
        reverse("mfa_remove_webauthn", kwargs={"pk": key.pk}),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    for html in pages:
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert " style=" not in html
        assert "onclick=" not in html
