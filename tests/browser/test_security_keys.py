"""Security keys in the browser, through Chromium's virtual authenticator: a new member of staff adds a key
instead of an authenticator app and is let in; renames it; signs out and back in with password and key;
sees a plain message when the same key is added twice; removes it. axe-core on every key page.
"""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from staff.models import AuditEvent
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible

pytestmark = pytest.mark.browser

HOME = re.compile(r"^http://localhost:\d+/$")
ACTIVATE = re.compile(r"/accounts/2fa/totp/activate/$")
AUTHENTICATE = re.compile(r"/accounts/2fa/authenticate/$")
TWO_STEP = re.compile(r"/accounts/2fa/$")


def test_staff_set_up_sign_in_with_and_remove_a_security_key(desktop_page, mailoutbox):
    factories.PolicyVersionFactory()
    user = factories.staff_user("coordinator", mfa=False, email="nia@example.org", full_name="Nia Evans")
    page = desktop_page
    console = journeys.watch_console(page)
    journeys.plug_in_security_key(page)
    heading = page.get_by_role("heading", level=1)

    # No second factor yet: sent to set one up, and offered a key instead of the app.
    journeys.staff_password_step(page, user)
    journeys.reauthenticate_if_asked(page)
    expect(page).to_have_url(ACTIVATE)
    assert page.url.startswith("http://localhost:")  # a key needs a secure origin: localhost, not 127.0.0.1
    page.get_by_role("link", name="Add a security key instead").click()
    expect(heading).to_have_text("Add a security key")
    assert_accessible(page)
    page.get_by_label("Name this key").fill("Blue USB key")
    page.get_by_role("button", name="Add a security key").click()

    expect(heading).to_have_text("Your recovery codes")
    expect(page.get_by_text("Security key added.")).to_be_visible()
    page.get_by_role("link", name="I have saved my codes: continue").click()
    expect(page).to_have_url(HOME)
    expect(heading).to_have_text("Hello, Nia")
    [key] = Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN)
    assert str(key) == "Blue USB key"
    assert AuditEvent.objects.filter(action="mfa.added", actor=user, details__type="webauthn").exists()
    assert any(message.to == [user.email] and "Security key added" in message.subject for message in mailoutbox)

    # The two-step page lists the key; rename it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
    expect(page).to_have_url(TWO_STEP)
    expect(page.locator(".key-name")).to_have_text(["Blue USB key"])
    assert_accessible(page)
    page.get_by_role("link", name="Rename Blue USB key").click()
    expect(heading).to_have_text("Rename security key")
    assert_accessible(page)
    page.get_by_label("Name of this key").fill("Desk key")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(TWO_STEP)
    expect(page.locator(".key-name")).to_have_text(["Desk key"])

    # Sign out, and back in with the password and the key.
    page.get_by_role("button", name="Sign out").click()
    journeys.staff_password_step(page, user)
    expect(page).to_have_url(AUTHENTICATE)
    expect(heading).to_have_text("Use your security key")
    expect(page.get_by_label("Recovery code")).to_be_visible()  # the other way in, with no app set up
    assert_accessible(page)
    page.get_by_role("button", name="Use my security key").click()
    expect(page).to_have_url(HOME)
    expect(heading).to_have_text("Hello, Nia")

    # The same key cannot be added twice, and the page says so in words.
    page.goto("/accounts/2fa/")
    page.get_by_role("link", name="Add a security key").click()
    journeys.reauthenticate_if_asked(page)
    expect(heading).to_have_text("Add a security key")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.get_by_role("alert")).to_contain_text("That key is already on your account")
    assert_accessible(page)  # with the message showing
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).count() == 1

    # Remove it: with no second factor left, set-up comes first again.
    page.goto("/accounts/2fa/")
    page.get_by_role("link", name="Remove Desk key").click()
    journeys.reauthenticate_if_asked(page)
    expect(heading).to_have_text("Remove security key")
    expect(page.get_by_text("This is your only way to complete two-step sign-in")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Remove the key").click()
    expect(page).to_have_url(TWO_STEP)
    expect(page.get_by_text("Security key removed.")).to_be_visible()
    assert not Authenticator.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="mfa.removed", actor=user, details__type="webauthn").exists()
    assert any(message.to == [user.email] and "Security key removed" in message.subject for message in mailoutbox)
    page.goto("/")
    expect(page).to_have_url(ACTIVATE)

    assert not journeys.csp_violations(console), console
    assert not [text for text in console if text.startswith("uncaught")], console
