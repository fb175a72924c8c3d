"""A removal request that sticks, in the browser (issue 13): Ava's mother, signed in on her phone by an
emailed code, asks FiG to remove a published post; her posts page then says FiG will not use the photo online
again, and Ava's consent page lists it under "Photos you asked FiG not to use online" in plain words, with a
button to allow it again, which she taps. Ben, a child of another family in the same photo, is never named to her.

axe-core runs on each page she sees; nothing scrolls sideways on the 390px screen. Set FIG_SCREENSHOT_DIR to
keep screenshots.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from photos.models import PhotoTag
from social.models import PhotoOnlineHold, Post
from social.posts import services as posts
from social.posts.selectors import postable_photos
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.photos.fixtures import ready_photo

pytestmark = pytest.mark.browser

TEXT = "What a day at the family picnic! Thank you to all our volunteers."
PUBLISHED_URL = "https://www.facebook.com/figcharity/posts/987654321"


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str) -> None:
    assert_accessible(page)
    journeys.assert_fits_width(page, 390)
    journeys.screenshot(page, f"removal-hold-{name}")


def test_a_parent_asks_for_removal_on_her_phone_then_allows_the_photo_again(phone_page, mailoutbox):
    factories.PolicyVersionFactory()
    writer = factories.staff_user("staff", "post_writer", email="sam@example.org", full_name="Sam Writer")
    reviewer = factories.staff_user("social_admin", email="rae@example.org", full_name="Rae Reviewer")
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family = consent_factories.FamilyFactory()
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Demo")
    mo = consent_factories.CarerFactory(family=family, full_name="Mo Demo", email="mo@example.org")
    consent_factories.give(ava, mo)
    other_family = consent_factories.FamilyFactory()
    ben = consent_factories.ChildFactory(family=other_family, first_name="Ben", last_name="Other")
    consent_factories.give(ben, consent_factories.CarerFactory(family=other_family, email="dad@example.org"))
    mother = factories.parent_user(email=mo.email, full_name="Mo Demo")
    photo = ready_photo(family, [ava], photographer)
    PhotoTag.objects.create(photo=photo, child=ben, tagged_by=photographer)
    post = posts.post_save_draft(author=writer, text=TEXT, channels=["facebook"], scheduled_for=None, photos=[photo])
    posts.post_submit(post=post, by=writer)
    post = posts.post_approve(
        post=Post.objects.get(pk=post.pk), by=reviewer, checklist=dict.fromkeys(posts.CHECKLIST, True), dismissals={}
    )
    posts.post_publish(post=post, by=reviewer, adapter_name="manual", url=PUBLISHED_URL)

    page = phone_page
    console = journeys.watch_console(page)
    journeys.request_login_code(page, mother.email)
    journeys.enter_login_code(page, journeys.login_code_from(mailoutbox[-1]))
    expect(_heading(page)).to_have_text(re.compile("^Hello"))
    page.get_by_role("link", name="Posts showing your child").first.tap()
    expect(_heading(page)).to_have_text("FiG posts that show your child")
    card = page.locator(".parent-post")
    expect(card).to_contain_text("It includes 1 photo of Ava.")
    expect(page.locator("main")).not_to_contain_text("Ben")  # the other family's child is never named
    _check_page(page, "posts")

    card.get_by_role("button", name=re.compile("Ask FiG to remove this post")).tap()
    expect(page.get_by_text("Thank you. FiG has been asked to remove this post")).to_be_visible()
    expect(card).to_contain_text("FiG will not use this photo of Ava online again unless you say so on")
    assert list(PhotoOnlineHold.objects.values_list("photo", "child", "lifted_at")) == [(photo.pk, ava.pk, None)]
    assert photo not in postable_photos()
    _check_page(page, "asked")

    card.get_by_role("link", name="Ava's consent page").tap()
    expect(_heading(page)).to_have_text("Ava's photo consent")
    held = page.get_by_role("region", name="Photos you asked FiG not to use online")
    expect(held).to_contain_text("FiG will not use this photo online again unless you say so here.")
    expect(held).not_to_contain_text("Ben")
    _check_page(page, "consent-page-held")

    held.get_by_role("button", name=re.compile("Allow FiG to use this photo online again")).tap()
    expect(_heading(page)).to_have_text("Ava's photo consent")
    expect(page.get_by_role("status")).to_contain_text("Done. FiG may use this photo of Ava online again")
    expect(page.get_by_role("region", name="Photos you asked FiG not to use online")).to_have_count(0)
    hold = PhotoOnlineHold.objects.get()
    assert hold.lifted_by == mother and hold.lifted_at is not None
    assert photo in postable_photos()
    _check_page(page, "consent-page-allowed")
    assert not journeys.csp_violations(console), console
