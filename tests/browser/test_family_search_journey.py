"""Finding a family by the name people use, on a phone: a photographer types part of the family's name on
the upload page, picks the family from the matches, and opens "who may I photograph today", which says yes
for one child and no for the other; and the same list from the photographer's home. axe-core on every page,
no sideways scrolling at 390px, no script refused by the Content Security Policy.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories

pytestmark = pytest.mark.browser


def _check_page(page: Page, name: str) -> None:
    assert_accessible(page)
    journeys.assert_fits_width(page, 390)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    journeys.screenshot(page, f"family-search-{name}")


def _families():
    """Demo family (Priya): Ava (consent to everything) and Ben (no answer); and two families not wanted."""
    family = consent_factories.FamilyFactory(display_name="Demo family (Priya)")
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Demo")
    consent_factories.ChildFactory(family=family, first_name="Ben", last_name="Demo")
    priya = consent_factories.CarerFactory(family=family, full_name="Priya Demo", email="priya@example.org")
    consent_factories.give(ava, priya)
    for name in ("Marsh family", "Lund family (Sam)"):
        other = consent_factories.FamilyFactory(display_name=name)
        consent_factories.ChildFactory(family=other, first_name="Cy", last_name=name.split()[0])
    return family


def test_a_photographer_finds_the_family_by_name_and_sees_who_may_be_photographed(phone_page):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family = _families()
    label = f"Demo family (Priya) · {family.reference}"
    page = phone_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, photographer)
    page.get_by_role("link", name="Upload photos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload photos")

    # As they type, the matches come (family_search.js), and the live region says how many.
    page.get_by_label("Find the family").press_sequentially("pri", delay=60)
    expect(page.locator("#family-match-count")).to_have_text("1 family matches.")
    expect(page.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Marsh family"))).to_have_count(0)
    _check_page(page, "upload-matches-phone")

    page.get_by_role("link", name=label, exact=True).click()
    expect(page).to_have_url(re.compile(rf"\?family={family.reference}$"))
    expect(page.get_by_role("checkbox", name="Ava Demo")).to_be_visible()
    expect(page.get_by_label("Family", exact=True)).to_have_value(family.reference)

    page.get_by_role("link", name=f"Who may I photograph today in {label}?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who may I photograph today?")
    expect(page.get_by_role("heading", name="Yes, you may photograph Ava Demo")).to_be_visible()
    expect(page.get_by_role("heading", name="No: do not photograph Ben Demo")).to_be_visible()
    expect(page.get_by_text("No answer yet. Keep Ben out of your photos.")).to_be_visible()
    expect(page.get_by_text("Photos may go online.")).to_be_visible()
    _check_page(page, "today-phone")

    # The same list from the photographer's home, by a child's name this time.
    page.goto("/")
    page.get_by_role("link", name="Who may I photograph today?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who may I photograph today?")
    page.get_by_label("Find the family").press_sequentially("ben de", delay=60)
    expect(page.locator("#family-match-count")).to_have_text("1 family matches.")
    _check_page(page, "today-find-phone")
    page.get_by_role("link", name=label, exact=True).click()
    expect(page.get_by_role("heading", name="Yes, you may photograph Ava Demo")).to_be_visible()

    assert not journeys.csp_violations(console), console


def test_a_coordinator_finds_a_family_as_they_type_in_the_list_and_the_gallery(desktop_page):
    factories.PolicyVersionFactory()
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    family = _families()
    consent_factories.assign(coordinator, family)
    other = consent_factories.FamilyFactory(display_name="Okafor family")
    consent_factories.assign(coordinator, other)
    label = f"Demo family (Priya) · {family.reference}"
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    page.goto("/consents/families/")
    rows = page.locator("#family-results tbody tr")
    expect(rows).to_have_count(2)
    # A carer's name finds the family; the other family's row goes, and the count is said.
    page.get_by_label("Find a family").press_sequentially("priya d", delay=60)
    expect(page.locator("#family-count")).to_have_text("1 family matches.")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("link", name=label, exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Find a family").fill("")
    page.get_by_label("Find a family").press_sequentially("zzz", delay=30)
    expect(page.locator("#family-count")).to_have_text("No family matches.")
    # Without waiting for the script, the form submits: the same answer from the server.
    page.get_by_label("Find a family").fill("ava")
    page.get_by_label("Find a family").press("Enter")
    expect(page).to_have_url(re.compile(r"\?q=ava"))
    expect(rows).to_have_count(1)

    page.goto("/photos/")
    page.get_by_label("Family", exact=True).press_sequentially("okafor", delay=60)
    expect(page.locator("#gallery-family-count")).to_have_text("1 family matches.")
    expect(page.get_by_role("link", name=f"Okafor family · {other.reference}", exact=True)).to_be_visible()
    assert_accessible(page)

    assert not journeys.csp_violations(console), console
