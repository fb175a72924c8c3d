"""Publishing on every channel at its time, in the browser (issue 16): a post writer drafts a post with a photo
for the Facebook Page and X, scheduled two hours ahead, and the preview counts the text the way X does (a link
counts as 23); the social media administrator approves it, and it waits, scheduled; the beat sends it at its
time to both (the fake Graph API and the fake X on loopback record each call); the child's mother, on her
phone, asks for it to come down, and it is deleted from both and shown as taken down.

axe-core runs on each page. Set FIG_SCREENSHOT_DIR to keep screenshots.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from social.models import Post, PostChannel
from social.posts.services import posts_sweep
from social.x import x_length
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.photos.fixtures import ready_photo
from tests.social.fake_graph import page_graph
from tests.social.fake_x import x_api

pytestmark = pytest.mark.browser

TEXT = "Our summer picnic is on! Bring a blanket and join us: https://www.fig.org.uk/events/summer-picnic-2026"


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check(page: Page, name: str) -> None:
    assert_accessible(page)
    journeys.screenshot(page, f"publishing-{name}")


def test_a_post_goes_out_on_facebook_and_x_at_its_time_and_comes_down_from_both(
    desktop_page, phone_page, mailoutbox, settings
):
    factories.PolicyVersionFactory()
    writer = factories.staff_user("staff", "post_writer", email="sam@example.org", full_name="Sam Writer")
    reviewer = factories.staff_user("social_admin", email="rae@example.org", full_name="Rae Reviewer")
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family = consent_factories.FamilyFactory()
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Demo")
    mo = consent_factories.CarerFactory(family=family, full_name="Mo Demo", email="mo@example.org")
    consent_factories.give(ava, mo)
    mother = factories.parent_user(email=mo.email, full_name="Mo Demo")
    ready_photo(family, [ava], photographer)
    at = timezone.localtime(timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)

    with page_graph(settings, instagram=False) as graph, x_api(settings) as x:
        # --- the writer drafts it for Facebook and X, for two hours' time ----------------------------------------
        page = desktop_page
        console = journeys.watch_console(page)
        journeys.staff_sign_in(page, writer)
        page.get_by_role("link", name="Write a post").click()
        expect(_heading(page)).to_have_text("Write a post")
        page.get_by_label("What the post says").fill(TEXT)
        page.get_by_role("checkbox", name="Facebook Page").check()
        page.get_by_role("checkbox", name="X (Twitter)").check()
        page.get_by_role("checkbox", name=re.compile(rf"^Photo from family {family.reference}")).check()
        page.get_by_label("When to publish it (optional)").fill(at.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Save the draft").click()
        expect(page.get_by_text("Your draft is saved")).to_be_visible()
        page.get_by_role("button", name="Send for review").click()
        expect(page.get_by_text("Sent for review.")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()

        # --- the administrator sees what goes out on each channel, and approves it for its time ----------------
        journeys.staff_sign_in(page, reviewer)
        page.get_by_role("link", name="Awaiting your review").click()
        expect(page.locator(".review-card")).to_contain_text("No findings")
        expect(page.locator(".review-card img")).to_have_count(1)  # its thumbnail
        _check(page, "review-queue")
        page.get_by_role("link", name=re.compile("Our summer picnic is on")).click()
        preview = page.get_by_role("region", name="What goes out on each channel")
        x_card = preview.get_by_role("article", name="X (Twitter)")
        expect(x_card).to_contain_text(f"{x_length(TEXT)} of 280 characters, as X counts them (a link counts as 23)")
        assert x_length(TEXT) < len(TEXT)  # the link counted as 23, not as its own length
        expect(preview.get_by_role("article", name="Facebook Page")).to_contain_text("of 63,206 characters")
        _check(page, "review")
        approve = page.get_by_role("region", name="Approve")
        for label in (
            "Relevant to FiG's cause",
            "No religious or political content",
            "Nothing confidential",
            "No child identifiable or contactable",
        ):
            approve.get_by_role("checkbox", name=label).check()
        approve.get_by_role("button", name="Approve").click()
        expect(page.get_by_text("Approved.")).to_be_visible()
        channels = page.get_by_role("region", name="Channels")
        expect(channels.locator("#channel-facebook")).to_contain_text("Scheduled")
        expect(channels.locator("#channel-x")).to_contain_text("Scheduled")
        _check(page, "approved-scheduled")
        post = Post.objects.get()
        assert post.status == Post.Status.APPROVED and graph.requests == [] and x.requests == []

        # --- the beat, before and at its time -------------------------------------------------------------------
        posts_sweep(now=at - timedelta(minutes=1))
        assert graph.requests == [] and x.requests == []
        posts_sweep(now=at + timedelta(seconds=30))
        post.refresh_from_db()
        assert post.status == Post.Status.PUBLISHED
        assert [r.endpoint for r in graph.requests] == ["photos", "feed"] and graph.problems == []
        assert len(x.posts) == 1 and x.problems == []
        page.reload()
        expect(channels.locator("#channel-facebook")).to_contain_text("Sent")
        expect(channels.locator("#channel-x")).to_contain_text("Sent")
        _check(page, "published")
        assert not journeys.csp_violations(console), console

        # --- the mother asks for it to come down, on her phone --------------------------------------------------
        phone = phone_page
        journeys.request_login_code(phone, mother.email)
        journeys.enter_login_code(phone, journeys.login_code_from(mailoutbox[-1]))
        phone.get_by_role("link", name="Posts showing your child").first.tap()
        card = phone.locator(".parent-post")
        expect(card.get_by_role("list", name="Where it went out")).to_contain_text("Facebook Page")
        expect(card.get_by_role("list", name="Where it went out")).to_contain_text("X (Twitter)")
        card.get_by_role("button", name=re.compile("Ask FiG to remove this post")).tap()
        expect(phone.get_by_text("Thank you. FiG has been asked to remove this post")).to_be_visible()

        # Deleted through both platforms' APIs; the post is down everywhere and she is told.
        assert graph.deleted_posts == graph.post_ids and x.deleted == list(x.posts)
        post.refresh_from_db()
        assert post.status == Post.Status.TAKEN_DOWN
        assert set(post.deliveries.values_list("state", flat=True)) == {PostChannel.State.TAKEN_DOWN}
        assert any(m.to == [mother.email] and "taken down" in m.subject for m in mailoutbox)
        phone.reload()
        expect(card.get_by_role("list", name="Where it went out")).to_contain_text("taken down")
        _check(phone, "parent-taken-down")
