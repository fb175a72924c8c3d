"""Staff sign in with a password and an authenticator code; new staff set the app up first."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from staff.models import PolicyAcknowledgement
from tests import factories
from tests.browser import journeys

pytestmark = pytest.mark.browser

HOME = re.compile(r"^http://[^/]+/$")
AUTHENTICATE = re.compile(r"/accounts/2fa/authenticate/$")
ACTIVATE = re.compile(r"/accounts/2fa/totp/activate/$")


def test_it_signs_staff_in_with_a_password_and_an_authenticator_code(desktop_page):
    factories.PolicyVersionFactory()
    user = factories.staff_user("staff", email="sam@example.org", full_name="Sam Okafor")
    page = desktop_page
    console = journeys.watch_console(page)

    page.goto("/")
    page.get_by_role("link", name="Staff sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to FiG Safety")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(AUTHENTICATE)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your authenticator code")
    page.get_by_label("Authenticator code").fill(journeys.current_totp_code(user.totp_secret))
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(HOME)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Sam")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert not journeys.csp_violations(console)


def test_it_sends_staff_to_the_policy_until_they_acknowledge_it(desktop_page):
    version = factories.PolicyVersionFactory()
    user = factories.staff_user("staff", acknowledged=False, email="ola@example.org", full_name="Ola Berg")
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, user)

    expect(page).to_have_url(re.compile(r"/staff/policy/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("eSafety policy")
    page.get_by_label(f"I have read version {version.number} of the eSafety policy").check()
    page.get_by_role("button", name="Acknowledge").click()

    expect(page).to_have_url(HOME)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ola")
    expect(page.get_by_text(f"You acknowledged version {version.number} of the policy")).to_be_visible()
    assert PolicyAcknowledgement.objects.filter(user=user, version=version).exists()
    assert not journeys.csp_violations(console)


def test_it_makes_new_staff_set_up_an_authenticator_app_before_anything_else(desktop_page):
    factories.PolicyVersionFactory()
    user = factories.staff_user("coordinator", mfa=False, email="nia@example.org", full_name="Nia Evans")
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_password_step(page, user)
    # allauth asks for the password again before any second factor is added,
    # even straight after signing in.
    journeys.reauthenticate_if_asked(page)
    expect(page).to_have_url(ACTIVATE)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")

    for path in ["/", "/staff/breaches/"]:
        page.goto(path)
        expect(page).to_have_url(ACTIVATE)
    expect(page.get_by_text("Staff accounts need two-step sign-in").first).to_be_visible()

    # The set-up page makes a new secret each time it is shown: read it from the page last shown.
    secret = journeys.activation_secret(page)
    page.get_by_label("Authenticator code").fill(journeys.current_totp_code(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()

    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    codes = page.get_by_role("list", name="Unused codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    expect(codes.first).to_have_text(re.compile(r"^\d{8}$"))

    page.get_by_role("link", name="I have saved my codes: continue").click()
    expect(page).to_have_url(HOME)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Nia")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert not journeys.csp_violations(console)
