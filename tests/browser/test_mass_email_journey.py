"""A coordinator on a phone asks every child without an answer, in the register filtered to one family: the
confirmation says how many carers and who, and only "Send" sends (the button's form must still carry its
confirmation after the double-tap guard disables the button)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from consents.models import ConsentRequest
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents.factories import CarerFactory, family_with_child

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.mark.django_db(transaction=True)
def test_a_coordinator_confirms_a_filtered_mass_request_on_a_phone(phone_page, mailoutbox):
    page = phone_page
    coordinator = factories.staff_user("coordinator", email="coordinator@example.org")
    family, child, [mum] = family_with_child(coordinator)
    CarerFactory(family=family, full_name="Mary O'Neil", email="a.rather.long.address@example-organisation.org.uk")
    other_family, _, _ = family_with_child(coordinator)  # filtered out: not asked
    journeys.staff_sign_in(page, coordinator)
    page.goto(reverse("consents:register") + f"?family={family.reference}")
    page.get_by_role("link", name="Request consent for every child without an answer in this list").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Request consent for every child without an answer")
    expect(page.locator(".lead")).to_contain_text("This will email 2 carers about 1 child")
    expect(page.locator(".recipient-list")).to_contain_text("Mary O'Neil")
    expect(page.locator(".recipient-list")).not_to_contain_text(other_family.reference)
    journeys.assert_fits_width(page)
    assert_accessible(page)
    journeys.screenshot(page, "mass-email-confirm-phone")
    assert not ConsentRequest.objects.exists()

    page.get_by_role("button", name="Send 2 emails").tap()
    expect(page.get_by_role("status")).to_contain_text("2 consent requests sent.")
    assert page.url.endswith(reverse("consents:register") + f"?family={family.reference}")
    assert sorted(r.carer.full_name for r in ConsentRequest.objects.select_related("carer")) == sorted(
        [mum.full_name, "Mary O'Neil"]
    )
    assert len([m for m in mailoutbox if "/consents/sign/" in m.body]) == 2
