"""A breach report the CEO acts on, in the browser (issue 18.8): a member of staff reports a suspected breach;
the CEO opens it, assesses it (severity high, a child's data involved, not yet decided whether the ICO must be
told), sees the ICO's 72-hour deadline, records that the ICO was told, and reads it all on the timeline. Then
the CEO reminds the one person who has not read the policy.

axe-core runs on each page, which must also have no duplicate ids and fit a phone; set FIG_SCREENSHOT_DIR to
keep screenshots.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from staff.models import AuditEvent, BreachReport
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible

pytestmark = pytest.mark.browser


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str, width: int) -> None:
    assert_accessible(page)
    duplicates = page.evaluate(
        "() => { const seen = {}; for (const el of document.querySelectorAll('[id]')) seen[el.id] = (seen[el.id] || 0) + 1;"
        " return Object.keys(seen).filter((id) => seen[id] > 1); }"
    )
    assert duplicates == [], f"duplicate ids on {page.url}: {duplicates}"
    if width <= 390:
        journeys.assert_fits_width(page, width)
    journeys.screenshot(page, f"breach-{name}-{width}")


def test_the_ceo_acts_on_a_breach_report(viewport_page, mailoutbox):
    page = viewport_page
    width = page.viewport_size["width"]
    factories.PolicyVersionFactory()
    reporter = factories.staff_user("staff", email="sam@example.org", full_name="Sam Okafor")
    ceo = factories.staff_user("ceo", email="ceo@example.org", full_name="Chris Ceo")
    factories.staff_user("staff", acknowledged=False, email="ola@example.org", full_name="Ola Berg")
    console = journeys.watch_console(page)

    # A member of staff reports it.
    journeys.staff_sign_in(page, reporter)
    page.goto("/staff/breaches/new/")
    page.get_by_label("When it happened").fill(timezone.localdate().isoformat())
    page.get_by_label("Where it happened").fill("A private Facebook group")
    page.get_by_label("What happened").fill("A volunteer posted a photo of a child outside their house.")
    page.get_by_role("button", name="Send to the CEO").click()
    expect(_heading(page)).to_contain_text("Breach report #")
    report = BreachReport.objects.get()
    page.context.clear_cookies()

    # The CEO opens it from the list.
    journeys.staff_sign_in(page, ceo)
    page.goto("/staff/breaches/")
    expect(page.get_by_role("cell", name=re.compile(r"\(7[12] hours left\)"))).to_be_visible()
    _check_page(page, "list", width)
    page.get_by_role("link", name=f"#{report.pk}").click()
    expect(_heading(page)).to_contain_text(f"Breach report #{report.pk}")
    clock = page.get_by_role("heading", name=re.compile(r"^ICO deadline: "))
    deadline = timezone.localtime(report.ico_deadline)
    expect(clock).to_contain_text(f"ICO deadline: {deadline:%a} {deadline.day} {deadline:%b %H:%M} (7")
    _check_page(page, "new", width)

    # A reason is needed for a decision: the page says so.
    page.get_by_label("High: a real risk").check()
    page.get_by_role("group", name="Is personal data of a child involved?").get_by_label("Yes").check()
    page.get_by_role("group", name="Must the ICO be told?").get_by_label("Yes").check()
    page.get_by_role("button", name="Save the assessment").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_contain_text("Write why the ICO must, or need not, be told.")
    _check_page(page, "assessment-problem", width)

    # Not decided yet, then: the clock still runs.
    page.get_by_role("group", name="Must the ICO be told?").get_by_label("Not decided yet").check()
    page.get_by_role("button", name="Save the assessment").click()
    expect(page.get_by_role("status").first).to_contain_text("The assessment is saved.")
    expect(clock).to_contain_text("hours left)")
    timeline = page.locator("#timeline ol")
    expect(timeline).to_contain_text("Severity: high.")
    expect(timeline).to_contain_text("Personal data of a child is involved: yes.")
    _check_page(page, "assessed", width)

    # The ICO is told.
    page.get_by_label("The ICO's reference").fill("IC-123456-A1B2")
    page.get_by_role("button", name="Record that the ICO was told").click()
    expect(page.get_by_role("status").first).to_contain_text("Recorded that the ICO was told.")
    expect(page.get_by_role("heading", name=re.compile(r"^ICO deadline: "))).to_have_count(0)
    expect(timeline).to_contain_text("The ICO must be told.")
    expect(timeline).to_contain_text(re.compile(r"The ICO was told on .*, in time \(reference IC-123456-A1B2\)\."))
    expect(timeline.locator("li").last).to_contain_text("Chris Ceo")
    _check_page(page, "ico-told", width)

    # And who else must be told.
    page.get_by_role("checkbox", name="The family affected").check()
    page.get_by_role("button", name="Save who must be told").click()
    expect(timeline).to_contain_text("The family affected: must be told.")

    report.refresh_from_db()
    assert (report.severity, report.child_data_involved, report.ico_reference) == ("high", True, "IC-123456-A1B2")
    assert report.ico_reported_at is not None
    assert AuditEvent.objects.filter(action__in=["breach.assessed", "breach.ico_reported"], actor=ceo).count() == 2

    # The policy: remind the one person who has not read it.
    page.goto("/staff/policy/register/")
    page.get_by_role("link", name="Remind the people who have not acknowledged it").click()
    expect(_heading(page)).to_have_text("Remind staff to read the policy")
    expect(page.get_by_role("heading", name="Remind 1 person now")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("Ola Berg")
    _check_page(page, "remind", width)
    mailoutbox.clear()
    page.get_by_role("button", name="Remind them now").click()
    expect(page.get_by_role("status").first).to_contain_text("Reminded 1 person: Ola Berg.")
    expect(page.get_by_text("Everyone listed has been reminded today.")).to_be_visible()
    assert [message.to for message in mailoutbox] == [["ola@example.org"]]
    assert not journeys.csp_violations(console), console
