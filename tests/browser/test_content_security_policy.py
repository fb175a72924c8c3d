"""The Content-Security-Policy allows the site's own static scripts and nothing inline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser import journeys

pytestmark = pytest.mark.browser


def test_the_menu_button_opens_the_menu_under_the_policy(phone_page):
    factories.PolicyVersionFactory()
    user = factories.staff_user("staff", email="sam@example.org", full_name="Sam Okafor")
    page = phone_page
    console = journeys.watch_console(page)

    response = page.goto("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy

    journeys.staff_sign_in(page, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Sam")
    menu = page.get_by_role("button", name="Menu")
    breaches = page.get_by_role("link", name="Breach reports")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(breaches).to_be_hidden()

    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(breaches).to_be_visible()
    breaches.tap()
    expect(page).to_have_url(re.compile(r"/staff/breaches/$"))

    assert not journeys.csp_violations(console), console
    assert not [text for text in console if text.startswith("uncaught")], console


def test_an_inline_script_would_show_up_as_a_violation(desktop_page):
    """The console check above is worth something only if Chromium reports what the policy blocks."""
    page = desktop_page
    console = journeys.watch_console(page)
    page.goto("/")
    with page.expect_console_message(lambda message: message.type == "error"):
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = true';"
            " document.body.append(s); }"
        )
    assert page.evaluate("() => window.inlineRan") is None
    assert journeys.csp_violations(console)
