"""The social media inbox in the browser: a social media administrator signs in (password and
authenticator code), assigns a message to herself and passes another on to a member of staff with
a note; the member of staff signs in on his own laptop, opens the message passed to him and records
the response; the administrator's dashboard counts it as answered within the week. axe-core on the
inbox, message, takedowns, add-message and dashboard pages.

Set FIG_SCREENSHOT_DIR to keep screenshots of the pages.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from social.models import Conversation, Platform, Takedown
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents.factories import FamilyFactory

pytestmark = pytest.mark.browser


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str) -> None:
    assert_accessible(page)
    folder = os.environ.get("FIG_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"inbox-{name}.png"), full_page=True)


def _message(text: str, sender: str, received_ago: timedelta, **fields) -> Conversation:
    """A conversation holding one comment (or message), already checked for names."""
    received_at = timezone.now() - received_ago
    fields.setdefault("platform", Platform.FACEBOOK)
    fields.setdefault("kind", Conversation.Kind.COMMENT)
    return factories.make_conversation(
        text, sender_name=sender, received_at=received_at, flagged_at=received_at, **fields
    )


def test_an_administrator_assigns_and_passes_on_and_the_staff_member_answers(
    desktop_page, browser_instance, live_server
):
    factories.PolicyVersionFactory()
    admin = factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")
    helper = factories.staff_user("staff", email="hal@example.org", full_name="Hal Helper")
    picnic = _message("When is the next family picnic? We loved the last one.", "Jo Public", timedelta(days=2))
    art_club = _message(
        "Could someone call me about the art club on Saturdays?",
        "Sam Parent",
        timedelta(days=1, hours=3),
        platform=Platform.MESSENGER,
        kind=Conversation.Kind.MESSAGE,
    )
    flagged = _message(
        "So lovely to see Ava Demo at the picnic!",
        "A Neighbour",
        timedelta(hours=5),
        urgent=True,
        flagged_names=["Ava Demo"],
        platform_id="123_456",
    )
    flagged.flagged_families.set([FamilyFactory()])
    _message("Thanks for the coffee morning", "Kim", timedelta(days=6, hours=20))  # almost due
    _message("Are you open at Christmas?", "Lee", timedelta(days=9))  # overdue
    Takedown.objects.create(
        message=flagged,
        item=flagged.messages.get(),
        reason="Names Ava, whose family did not agree to be identifiable.",
        due_at=timezone.now() + timedelta(hours=19),
    )
    page = desktop_page
    console = journeys.watch_console(page)

    # The administrator opens the inbox: the flagged comment first, with its badge.
    journeys.staff_sign_in(page, admin)
    expect(_heading(page)).to_have_text("Hello, Sol")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Social inbox").click()
    expect(_heading(page)).to_have_text("Social media inbox")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("May identify a family")
    expect(rows.first).to_contain_text("Ava Demo")
    expect(page.get_by_text("2 days overdue")).to_be_visible()
    _check_page(page, "inbox")

    # She assigns the picnic question to herself.
    page.get_by_role("link", name=re.compile("When is the next family picnic")).click()
    expect(_heading(page)).to_have_text("Public comment from Jo Public")
    _check_page(page, "message")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_role("status")).to_contain_text("The message is assigned to you.")
    expect(page.get_by_text("It is assigned to you.")).to_be_visible()
    picnic.refresh_from_db()
    assert picnic.assignee == admin

    # She passes the art club question on to Hal with a note.
    page.get_by_role("navigation", name="Social media").get_by_role("link", name="Inbox").click()
    page.get_by_role("link", name=re.compile("Could someone call me about the art club")).click()
    expect(_heading(page)).to_have_text("Private message from Sam Parent")
    page.get_by_label("Member of staff").select_option(label="Hal Helper")
    page.get_by_label("Note for them").fill("You run the art club: could you ring Sam back and reply?")
    page.get_by_role("button", name="Pass it on").click()
    expect(page.get_by_role("status")).to_contain_text("Passed on to Hal Helper")
    expect(page.get_by_text("Passed on to Hal Helper").last).to_be_visible()
    art_club.refresh_from_db()
    assert art_club.passed_to == helper and art_club.status == Conversation.Status.OPEN

    # The pages she has not opened yet: takedowns and adding a message that came by phone.
    page.get_by_role("navigation", name="Social media").get_by_role("link", name="Takedowns").click()
    expect(_heading(page)).to_have_text("Takedowns")
    expect(page.get_by_text("Names Ava, whose family did not agree")).to_be_visible()
    _check_page(page, "takedowns")
    page.get_by_role("navigation", name="Social media").get_by_role("link", name="Add a message").click()
    expect(_heading(page)).to_have_text("Add a message received another way")
    _check_page(page, "add-message")
    page.get_by_label("Phone", exact=True).check()
    page.get_by_label("Who sent it").fill("A grandparent")
    page.get_by_label("What they said").fill("Rang to ask about the summer trip.")
    received = timezone.localtime(timezone.now() - timedelta(hours=2))
    page.get_by_label("When it was received").fill(received.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Add to the inbox").click()
    expect(page.get_by_role("status")).to_contain_text("Added. A reply is due by")
    added = Conversation.objects.get(platform=Platform.PHONE)
    assert added.received_at == received.replace(second=0, microsecond=0)

    # Hal, on his own laptop, finds the message passed to him and records the response.
    context = browser_instance.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    try:
        staff_page = context.new_page()
        staff_page.set_default_timeout(15_000)
        journeys.staff_sign_in(staff_page, helper)
        expect(_heading(staff_page)).to_have_text("Hello, Hal")
        staff_page.get_by_role("link", name="Messages for you").click()
        expect(_heading(staff_page)).to_have_text("Messages for you")
        expect(staff_page.locator("tbody tr")).to_have_count(1)
        staff_page.get_by_role("link", name=re.compile("Could someone call me about the art club")).click()
        expect(staff_page.get_by_text("You run the art club: could you ring Sam back and reply?")).to_be_visible()
        expect(staff_page.get_by_role("button", name="Pass it on")).to_have_count(0)
        assert_accessible(staff_page)
        staff_page.get_by_label("What FiG replied").fill("Hal rang Sam on Tuesday and booked two places.")
        staff_page.get_by_role("button", name="Record the response").click()
        expect(staff_page.get_by_role("status")).to_contain_text("The response is recorded.")
        expect(staff_page.get_by_text("Answered on time").first).to_be_visible()
        assert staff_page.goto(f"/social/inbox/{picnic.pk}/").status == 404
    finally:
        context.close()
    art_club.refresh_from_db()
    assert (art_club.status, art_club.responded_by) == (Conversation.Status.ANSWERED, helper)

    # Back with the administrator: the dashboard counts it as answered within the week.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Social inbox").click()
    page.get_by_role("link", name=re.compile(r"^Done")).click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Answered on time")
    page.get_by_role("navigation", name="Social media").get_by_role("link", name="Response dashboard").click()
    expect(_heading(page)).to_have_text("Response dashboard")
    expect(page.get_by_role("img", name=re.compile("Messages received each week"))).to_be_visible()
    week = page.locator(".dashboard-table tbody tr").filter(has_text="1 of 1 (100%)")
    expect(week).to_have_count(1)
    # Over the twelve weeks: Sam's message answered in time, and Lee's still overdue.
    expect(page.locator(".stat").filter(has_text="answered within 7 days")).to_contain_text(
        "50% answered within 7 days (1 of 2)"
    )
    expect(page.locator(".stat").filter(has_text="overdue message")).to_contain_text("1")
    _check_page(page, "dashboard")
    assert not journeys.csp_violations(console), console
