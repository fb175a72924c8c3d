"""A group photo in the browser (issue 13, point 1): a photographer on a phone tags two children of different
families in one photo; each family's coordinator, on a laptop, finds it in their gallery, seeing their own
family's child by name and the other only counted. axe-core runs on the upload page and on each gallery."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from photos.models import Photo
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.photos import images

pytestmark = pytest.mark.browser

BATCH_PATH = re.compile(r"/photos/uploads/[0-9a-f-]{36}/$")


def _family_with(first_name: str, coordinator):
    family = consent_factories.FamilyFactory()
    carer = consent_factories.CarerFactory(family=family, email=f"{first_name.lower()}-parent@example.org")
    child = consent_factories.ChildFactory(family=family, first_name=first_name, last_name="Group")
    consent_factories.give(child, carer)
    consent_factories.assign(coordinator, family)
    return family, child


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_a_photographer_tags_children_of_two_families_and_both_coordinators_find_it(phone_page, desktop_page, tmp_path):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    coord_a = factories.staff_user("coordinator", email="ann@example.org", full_name="Ann Coord")
    coord_b = factories.staff_user("coordinator", email="bob@example.org", full_name="Bob Coord")
    family_a, ava = _family_with("Ava", coord_a)
    family_b, cara = _family_with("Cara", coord_b)
    path = tmp_path / "IMG_7001.jpg"
    path.write_bytes(images.jpeg(colour=(30, 120, 200)))

    # --- the photographer, on a phone -----------------------------------------------------------------
    page = phone_page
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, photographer)
    page.get_by_role("link", name="Upload photos").click()
    page.wait_for_load_state("load")
    page.get_by_label("Family", exact=True).select_option(family_a.reference)
    expect(page.get_by_role("checkbox", name="Ava Group")).to_be_visible()
    page.get_by_label("Add children from another family").select_option(family_b.reference)
    page.get_by_role("button", name="Add family").click()
    expect(page.get_by_text(f"Also showing children of {family_b.reference}.")).to_be_visible()
    expect(page.get_by_text(f"Family {family_b.reference}", exact=True)).to_be_visible()
    page.get_by_role("checkbox", name="Ava Group").check()
    page.get_by_role("checkbox", name="Cara Group").check()
    assert_accessible(page)
    journeys.assert_fits_width(page, 390)
    journeys.screenshot(page, "group-upload-phone")
    page.get_by_label("Choose photos").set_input_files(path)
    page.get_by_role("button", name="Upload to the vault").click()
    expect(page).to_have_url(BATCH_PATH)
    expect(page.locator("[data-status]")).to_have_text(["Ready"])
    photo = Photo.objects.get()
    assert set(photo.tags.values_list("child_id", flat=True)) == {ava.pk, cara.pk}
    assert not journeys.csp_violations(console), console

    # --- each coordinator, on a laptop ------------------------------------------------------------------
    page = desktop_page
    for coordinator, own, other in ((coord_a, "Ava Group", "Cara"), (coord_b, "Cara Group", "Ava")):
        journeys.staff_sign_in(page, coordinator)
        page.goto("/photos/")
        cards = page.locator(".photo-card")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text(own)
        expect(cards.first).to_contain_text("a child from another family")
        expect(cards.first).not_to_contain_text(other)
        expect(cards.first).to_contain_text(family_a.reference)
        expect(cards.first).to_contain_text(family_b.reference)
        assert_accessible(page)
        journeys.screenshot(page, f"group-gallery-{coordinator.email.split('@')[0]}")
        cards.first.get_by_role("link").first.click()
        expect(
            page.get_by_text("A group photo: the coordinators of each of these families can see it.")
        ).to_be_visible()
        _sign_out(page)
