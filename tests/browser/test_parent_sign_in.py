"""Parents sign in on their phones with a code sent by email."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser import journeys

pytestmark = pytest.mark.browser


def test_it_signs_a_parent_in_by_emailed_code_on_a_phone(phone_page, mailoutbox):
    parent = factories.parent_user(email="pat@example.org", full_name="Pat Mensah")
    page = phone_page
    console = journeys.watch_console(page)

    page.goto("/")
    journeys.assert_fits_width(page)
    page.get_by_role("link", name="Email me a sign-in code").tap()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in with a code")
    journeys.assert_fits_width(page)
    page.get_by_label("Email address").fill(parent.email)
    page.get_by_role("button", name="Email me a code").tap()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    journeys.assert_fits_width(page)
    assert [message.to for message in mailoutbox] == [[parent.email]]
    code = journeys.login_code_from(mailoutbox[0])
    # As typed on a phone keyboard: lower case, no dash. The page says both are fine.
    page.get_by_label("Sign-in code").fill(code.replace("-", "").lower())
    page.get_by_role("button", name="Sign in").tap()

    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Pat Mensah")
    journeys.assert_fits_width(page)
    assert not journeys.csp_violations(console)
