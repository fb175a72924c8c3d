"""The post queue in the browser: a member of staff drafts a post with a photo and sees the
contact-details warning appear beside the text as they type, saves and submits it; a social media
administrator opens "awaiting your review", approves with the checklist (dismissing the check with a
written reason), publishes it by hand on each of its channels (nothing is configured to send it) and records
each link; the pictured child's mother, signed in on her phone by an emailed code, sees the post on each
channel and asks for it to come down in one tap.

axe-core runs on the post form, the post page, the review queue and the parent's page. Set
FIG_SCREENSHOT_DIR to keep screenshots.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from photos.models import PhotoAccess
from social.models import CheckDismissal, Post, PostChannel, Takedown
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.photos.fixtures import ready_photo

pytestmark = pytest.mark.browser

TEXT = "What a day at the family picnic! To help at the next one, ring Jo on 07700 900123."
PUBLISHED_URL = "https://www.facebook.com/figcharity/posts/987654321"
INSTAGRAM_URL = "https://www.instagram.com/p/FiGpicnic1/"
REASON = "07700 900123 is FiG's own volunteer line, not a family's number."


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str, width: int | None = None) -> None:
    assert_accessible(page)
    if width:
        journeys.assert_fits_width(page, width)
    folder = os.environ.get("FIG_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"posts-{name}.png"), full_page=True)


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_a_post_goes_from_draft_to_published_and_the_parent_asks_for_its_removal(desktop_page, phone_page, mailoutbox):
    factories.PolicyVersionFactory()
    writer = factories.staff_user("staff", "post_writer", email="sam@example.org", full_name="Sam Writer")
    reviewer = factories.staff_user("social_admin", email="rae@example.org", full_name="Rae Reviewer")
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family = consent_factories.FamilyFactory()
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Demo")
    mo = consent_factories.CarerFactory(family=family, full_name="Mo Demo", email="mo@example.org")
    consent_factories.give(ava, mo)
    mother = factories.parent_user(email=mo.email, full_name="Mo Demo")
    photo = ready_photo(family, [ava], photographer)

    # --- the writer, on a laptop ---------------------------------------------------------------
    page = desktop_page
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, writer)
    expect(_heading(page)).to_have_text("Hello, Sam")
    page.get_by_role("link", name="Write a post").click()
    expect(_heading(page)).to_have_text("Write a post")
    checks = page.get_by_role("complementary", name="Policy checks")
    expect(checks).to_contain_text("The checks appear here as you write.")
    _check_page(page, "form-empty")
    page.get_by_role("button", name="Save the draft").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Write the post.")
    expect(summary).to_contain_text("Choose at least one place for the post.")
    expect(summary).to_be_focused()
    _check_page(page, "form-errors")
    summary.get_by_role("link", name="Choose at least one place for the post.").click()
    expect(page.get_by_role("checkbox", name="Facebook Page")).to_be_focused()
    page.get_by_role("checkbox", name="Facebook Page").check()

    page.get_by_label("What the post says").press_sequentially(TEXT[:40])
    expect(checks).to_contain_text("No problems found.")
    page.get_by_label("What the post says").press_sequentially(TEXT[40:])
    # The warning shows beside the text while typing, before anything is saved.
    expect(checks.get_by_role("heading", name="Contact details")).to_be_visible()
    expect(checks.locator("mark")).to_have_text(["07700 900123"])
    expect(checks).to_contain_text("could make a child or family contactable")
    assert not Post.objects.exists()

    choice = page.get_by_role("checkbox", name=re.compile(rf"^Photo from family {family.reference}"))
    expect(choice).to_have_count(1)
    choice.check()
    page.get_by_role("checkbox", name="Instagram").check()
    assert PhotoAccess.objects.filter(photo=photo, user=writer, action=PhotoAccess.Action.THUMBNAIL).exists()
    _check_page(page, "form-with-warning")

    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Your draft is saved")).to_be_visible()
    post = Post.objects.get()
    assert (post.author, post.status, list(post.photos.all())) == (writer, Post.Status.DRAFT, [photo])
    expect(page.get_by_role("region", name="Policy checks, as of now")).to_contain_text("Contact details")
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_text("Sent for review.")).to_be_visible()
    expect(page.locator(".post-status")).to_contain_text("Awaiting review")
    post.refresh_from_db()
    assert post.status == Post.Status.SUBMITTED
    assert not journeys.csp_violations(console), console
    _sign_out(page)

    # --- the reviewer, on the same laptop --------------------------------------------------------
    journeys.staff_sign_in(page, reviewer)
    expect(_heading(page)).to_have_text("Hello, Rae")
    page.get_by_role("link", name="Awaiting your review").click()
    expect(_heading(page)).to_have_text("Awaiting your review")
    expect(page.get_by_text("1 post waiting")).to_be_visible()
    expect(page.locator(".review-card")).to_contain_text(re.compile(r"Just sent|Waiting 1 minute"))
    _check_page(page, "review-queue")
    page.get_by_role("link", name=re.compile("What a day at the family picnic")).click()

    expect(page.locator(".eyebrow")).to_contain_text("by Sam Writer")
    approve = page.get_by_role("region", name="Approve")
    _check_page(page, "post-to-review")
    for label in (
        "Relevant to FiG's cause",
        "No religious or political content",
        "Nothing confidential",
        "No child identifiable or contactable",
    ):
        approve.get_by_role("checkbox", name=label).check()
    approve.get_by_label("Why “Contact details” can be dismissed").fill(REASON)
    approve.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved. The author has been told")).to_be_visible()

    # Nothing is configured to send it here: each channel is published by hand, and its link recorded.
    expect(page.get_by_role("region", name="Send now")).to_have_count(0)
    facebook = page.get_by_role("region", name="Publish on Facebook Page by hand")
    expect(facebook.get_by_label("The approved text, to paste on Facebook Page")).to_have_value(TEXT)
    expect(facebook.get_by_role("link", name="Download the approved photo for Facebook Page")).to_be_visible()
    _check_page(page, "post-to-publish")
    facebook.get_by_label("Link to the post on the platform").fill(PUBLISHED_URL)
    facebook.get_by_role("button", name="Record Facebook Page").click()
    expect(page.get_by_text("Recorded on Facebook Page.")).to_be_visible()
    expect(page.get_by_role("heading", name="Partly published")).to_be_visible()
    expect(page.get_by_role("region", name="Publish on Facebook Page by hand")).to_have_count(0)
    instagram = page.get_by_role("region", name="Publish on Instagram by hand")
    instagram.get_by_label("Link to the post on the platform").fill(INSTAGRAM_URL)
    instagram.get_by_role("button", name="Record Instagram").click()
    expect(page.get_by_role("heading", name=re.compile("^Published "))).to_be_visible()
    channels = page.get_by_role("region", name="Channels")
    expect(channels.get_by_role("link", name="See it on Facebook Page")).to_have_attribute("href", PUBLISHED_URL)
    expect(channels.get_by_role("link", name="See it on Instagram")).to_have_attribute("href", INSTAGRAM_URL)
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text(REASON)
    expect(history).to_contain_text("Rae Reviewer: Approved it")
    _check_page(page, "post-published")
    page.get_by_role("navigation", name="Social media posts").get_by_role("link", name="All posts").click()
    expect(page.get_by_role("row").filter(has_text="What a day at the family picnic")).to_contain_text("Published")
    _check_page(page, "post-list")

    post.refresh_from_db()
    assert (post.status, post.reviewed_by, post.published_url) == (Post.Status.PUBLISHED, reviewer, PUBLISHED_URL)
    assert [(d.channel, d.state, d.url) for d in post.deliveries.all()] == [
        ("facebook", PostChannel.State.RECORDED, PUBLISHED_URL),
        ("instagram", PostChannel.State.RECORDED, INSTAGRAM_URL),
    ]
    dismissal = CheckDismissal.objects.get(post=post)
    assert (dismissal.check_name, dismissal.reason, dismissal.dismissed_by) == ("contact", REASON, reviewer)
    assert not journeys.csp_violations(console), console

    # --- the mother, on her phone ------------------------------------------------------------------
    page = phone_page
    console = journeys.watch_console(page)
    journeys.request_login_code(page, mother.email)
    journeys.enter_login_code(page, journeys.login_code_from(mailoutbox[-1]))
    expect(_heading(page)).to_have_text(re.compile("^Hello"))
    page.get_by_role("link", name="Posts showing your child").first.click()
    expect(_heading(page)).to_have_text("FiG posts that show your child")
    card = page.locator(".parent-post")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(TEXT)
    expect(card).to_contain_text("It includes 1 photo of Ava.")
    expect(card.get_by_role("link", name="See it on Facebook Page")).to_have_attribute("href", PUBLISHED_URL)
    expect(card.get_by_role("link", name="See it on Instagram")).to_have_attribute("href", INSTAGRAM_URL)
    expect(page.locator("main img")).to_have_count(0)  # the photo is described, never sent to the phone
    _check_page(page, "parent-posts", width=390)

    card.get_by_role("button", name=re.compile("Ask FiG to remove this post")).tap()
    expect(page.get_by_text("Thank you. FiG has been asked to remove this post")).to_be_visible()
    expect(page.locator(".parent-post")).to_contain_text("You asked FiG to remove this post.")
    expect(page.get_by_role("button", name=re.compile("Ask FiG to remove this post"))).to_have_count(0)
    takedown = Takedown.objects.get(post=post)
    assert takedown.requested_by == mother and takedown.status == Takedown.Status.OPEN
    _check_page(page, "parent-asked", width=390)
    assert not journeys.csp_violations(console), console


def test_without_javascript_the_checks_show_after_saving(browser_instance, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    factories.PolicyVersionFactory()
    # A member of staff who is not a post writer: they write text-only posts and are offered no photos.
    writer = factories.staff_user("staff", email="sam@example.org", full_name="Sam Writer")
    context = browser_instance.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False, base_url=live_server.url
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        journeys.staff_sign_in(page, writer)
        page.goto("/social/posts/new/")
        expect(
            page.get_by_text("Only the staff who write FiG's posts and the social media administrators")
        ).to_be_visible()
        page.get_by_label("What the post says").fill(TEXT)
        page.get_by_role("checkbox", name="FiG website").check()
        page.get_by_role("button", name="Save the draft").click()
        expect(page.get_by_text("Your draft is saved")).to_be_visible()
        expect(page.get_by_role("region", name="Policy checks, as of now")).to_contain_text("07700 900123")
        page.get_by_role("link", name="Change the draft").click()
        expect(page.get_by_role("complementary", name="Policy checks")).to_contain_text("07700 900123")
    finally:
        context.close()
