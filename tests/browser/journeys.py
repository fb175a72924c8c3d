"""Steps a person takes in the browser, shared by the browser tests.

Each step does what a user would: find things by their visible label or role,
type, click, and wait for the next page.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from django.core.mail import EmailMessage
from playwright.sync_api import ConsoleMessage, Page, expect

from tests import factories

_LOGIN_CODE = re.compile(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", re.MULTILINE)


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot named `name`.png in FIG_SCREENSHOT_DIR, when that is set (to look at the pages)."""
    folder = os.environ.get("FIG_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def watch_console(page: Page) -> list[str]:
    """Collect the page's console errors and warnings (where Chromium reports CSP violations)."""
    seen: list[str] = []

    def _record(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            seen.append(message.text)

    page.on("console", _record)
    page.on("pageerror", lambda error: seen.append(f"uncaught: {error}"))
    return seen


def csp_violations(messages: Iterable[str]) -> list[str]:
    return [text for text in messages if "Content Security Policy" in text or "Content-Security-Policy" in text]


def assert_fits_width(page: Page, width: int = 390) -> None:
    """Nothing on the page makes a phone scroll sideways."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide on a {width}px screen"


def staff_password_step(page: Page, user, password: str = factories.PASSWORD) -> None:
    """From the landing page, open the staff sign-in and give email and password."""
    page.goto("/")
    page.get_by_role("link", name="Staff sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to FiG Safety")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def current_totp_code(secret: str) -> str:
    """The code the authenticator app shows now, never one about to roll over mid-request.

    allauth accepts only the current 30-second window, so a code read in the last
    moments of a window can arrive at the server already stale.
    """
    remaining = 30 - time.time() % 30
    if remaining < 3:
        time.sleep(remaining + 0.1)
    return factories.totp_code(secret)


def enter_authenticator_code(page: Page, secret: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your authenticator code")
    page.get_by_label("Authenticator code").fill(current_totp_code(secret))
    page.get_by_role("button", name="Continue").click()


def staff_sign_in(page: Page, user) -> None:
    """Password, then the code from the authenticator app."""
    staff_password_step(page, user)
    enter_authenticator_code(page, user.totp_secret)


def reauthenticate_if_asked(page: Page, password: str = factories.PASSWORD) -> None:
    """allauth asks for the password again before a second factor is added."""
    if "/accounts/reauthenticate/" in page.url:
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Confirm").click()


def request_login_code(page: Page, email: str) -> None:
    """From the landing page, ask for a sign-in code by email."""
    page.goto("/")
    page.get_by_role("link", name="Email me a sign-in code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in with a code")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")


def login_code_from(message: EmailMessage) -> str:
    match = _LOGIN_CODE.search(message.body)
    assert match, message.body
    return match.group(1)


def enter_login_code(page: Page, code: str) -> None:
    page.get_by_label("Sign-in code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def activation_secret(page: Page) -> str:
    """The authenticator secret the TOTP set-up page shows for typing in by hand."""
    return page.get_by_label("Set-up key").input_value().replace(" ", "")


def plug_in_security_key(page: Page) -> str:
    """Give the browser a security key: Chromium's virtual authenticator, which says yes to every prompt.

    Returns its id, for the DevTools WebAuthn commands. A key is bound to the site's host name; the
    live server is http://localhost:<port>, which browsers (and fido2) treat as a secure origin.
    """
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "usb",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
    }
    return cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
