"""A coordinator is asked to erase a family's data: they download everything FiG holds about the family
first (the subject access export), record who asked and when, and see on the family page when the
erasure is due. axe-core on each page, the form's error state included. Set FIG_SCREENSHOT_DIR to keep
screenshots of the pages."""

from __future__ import annotations

import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from consents.models import ErasureRequest
from consents.services import erasure
from fig_safety.times import LONDON
from staff.models import AuditEvent
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.photos.fixtures import ready_photo

pytestmark = pytest.mark.browser


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str) -> None:
    """axe-core, and a screenshot when asked for."""
    assert_accessible(page)
    journeys.screenshot(page, f"erasure-{name}")


def _world():
    """The Mensah family: Ava, consented, with one photo in the vault; her mother Pat; their coordinator Cam."""
    factories.PolicyVersionFactory()
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family = consent_factories.FamilyFactory()
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Mensah")
    pat = consent_factories.CarerFactory(family=family, full_name="Pat Mensah", email="pat@example.org")
    consent_factories.assign(coordinator, family)
    consent_factories.give(ava, pat)
    return coordinator, family, ready_photo(family, [ava], photographer)


def test_a_coordinator_downloads_the_export_then_records_an_erasure_request(desktop_page, settings, tmp_path):
    settings.FIG_ERASURE_REVIEW_DAYS = 30
    coordinator, family, photo = _world()
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    page.goto(reverse("consents:family_detail", args=[family.reference]))
    expect(_heading(page)).to_have_text(f"Family {family.reference}")
    status = page.get_by_role("region", name="Status")
    expect(status).to_contain_text("FiG works with this family.")
    _check_page(page, "family-open")

    status.get_by_role("link", name="Record an erasure request").click()
    expect(_heading(page)).to_have_text(f"Record an erasure request for family {family.reference}")
    _check_page(page, "form")

    # First, the copy of everything FiG holds: after the erasure there is nothing left to send.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download everything we hold about this family (zip)").click()
    download = download_info.value
    assert download.suggested_filename == f"family-{family.reference}-export.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["family"]["reference"] == family.reference
        [exported] = manifest["photos"]
        assert exported["id"] == str(photo.public_id)
        assert archive.read(exported["file"]).startswith(b"\xff\xd8")  # the JPEG itself
    assert AuditEvent.objects.filter(action="family.exported", actor=coordinator).count() == 1

    # Sent without saying who asked: the form says so, and records nothing.
    page.get_by_role("button", name="Record the erasure request").click()
    problems = page.get_by_role("alert")  # the error summary, focused, each problem a link to its box
    expect(problems).to_be_focused()
    problems.get_by_role("link", name="Who asked: Say who asked (for example: the mother, by phone).").click()
    expect(page.get_by_label("Who asked")).to_be_focused()
    assert not ErasureRequest.objects.exists()
    _check_page(page, "form-error")

    # When they asked is filled in already with now, on London's clock.
    expect(page.get_by_label("The day they asked")).to_have_value(
        f"{timezone.localtime(timezone.now(), LONDON):%Y-%m-%d}"
    )
    page.get_by_label("Who asked").fill("Pat Mensah (mother), by phone")
    page.get_by_role("button", name="Record the erasure request").click()

    expect(_heading(page)).to_have_text(f"Family {family.reference}")
    expect(page.get_by_role("status")).to_contain_text("The erasure request is recorded")
    recorded = ErasureRequest.objects.get(family=family)
    due = timezone.localtime(recorded.due_at, LONDON)
    due_text = f"{due.day} {due:%B %Y}"
    expect(page.get_by_text(f"Its personal data will be erased on {due_text}.")).to_be_visible()
    status = page.get_by_role("region", name="Status")
    expect(status).to_contain_text(f"Erasure due on {due_text}.")
    expect(status).to_contain_text("Pat Mensah (mother), by phone asked on")
    expect(status.get_by_role("link", name="Download everything we hold about this family (zip)")).to_be_visible()
    expect(status.get_by_role("link", name="Cancel the erasure")).to_be_visible()
    expect(page.get_by_role("link", name="Add a child")).to_have_count(0)
    _check_page(page, "family-erasure-due")
    assert not journeys.csp_violations(console), console


def test_a_coordinator_cancels_the_erasure_opens_the_family_again_and_closes_it(desktop_page):
    coordinator, family, _ = _world()
    erasure.erasure_request_record(
        family=family, asked_by="Pat Mensah, by phone", asked_at=timezone.now(), by=coordinator
    )
    page = desktop_page
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, coordinator)
    page.goto(reverse("consents:family_detail", args=[family.reference]))
    status = page.get_by_role("region", name="Status")

    status.get_by_role("link", name="Cancel the erasure").click()
    expect(_heading(page)).to_have_text(f"Cancel the erasure of family {family.reference}")
    _check_page(page, "cancel")
    page.get_by_label("Why will the erasure not go ahead?").fill("Pat rang back: she changed her mind.")
    page.get_by_role("button", name="Cancel the erasure").click()
    expect(page.get_by_role("status")).to_contain_text("The erasure is cancelled.")
    expect(status).not_to_contain_text("Erasure due")
    _check_page(page, "family-closed")

    status.get_by_role("button", name="Open this family again").click()
    expect(page.get_by_role("status")).to_contain_text(f"Family {family.reference} is open again")
    expect(status).to_contain_text("FiG works with this family.")

    status.get_by_role("link", name="Close this family").click()
    expect(_heading(page)).to_have_text(f"Close family {family.reference}")
    _check_page(page, "close")
    page.get_by_label("Why is FiG closing this family?").fill("The family moved away.")
    page.get_by_role("button", name="Close this family").click()
    expect(page.get_by_role("status")).to_contain_text(f"Family {family.reference} is closed")
    expect(status).to_contain_text("The family moved away.")
    family.refresh_from_db()
    assert family.closed_at is not None and family.closed_by == coordinator
    assert not journeys.csp_violations(console), console
