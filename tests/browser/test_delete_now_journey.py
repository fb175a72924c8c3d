"""Delete this photo now, in the browser (issue 19): the family's coordinator opens a photo that a published post
used, presses "Delete this photo now", reads that it cannot be undone and that a takedown will be opened for the
post, first forgets the reason (the page says so), then gives one. The gallery says the photo is deleted and no
longer shows it; its blobs are gone from the vault and the post has an open takedown.

axe-core runs on each page; set FIG_SCREENSHOT_DIR to keep screenshots.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import storages
from playwright.sync_api import Page, expect

from photos.models import Photo
from social.models import Post, Takedown
from social.posts import services as posts
from staff.models import AuditEvent
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.photos.fixtures import ready_photo

pytestmark = pytest.mark.browser

REASON = "Mo asked on the phone for this photo to be deleted straight away."


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str) -> None:
    assert_accessible(page)
    journeys.screenshot(page, f"delete-now-{name}")


def _published(photo: Photo) -> Post:
    writer = factories.staff_user("staff", "post_writer", email="sam@example.org", full_name="Sam Writer")
    reviewer = factories.staff_user("social_admin", email="rae@example.org", full_name="Rae Reviewer")
    post = posts.post_save_draft(
        author=writer, text="A sunny day out.", channels=["facebook"], scheduled_for=None, photos=[photo]
    )
    posts.post_submit(post=post, by=writer)
    posts.post_approve(post=post, by=reviewer, checklist=dict.fromkeys(posts.CHECKLIST, True), dismissals={})
    return posts.post_publish(
        post=post, by=reviewer, adapter_name="manual", url="https://www.facebook.com/figcharity/posts/1"
    )


def test_a_coordinator_deletes_a_photo_now_and_its_post_gets_a_takedown(desktop_page):
    factories.PolicyVersionFactory()
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    photographer = factories.staff_user("photographer", email="pip@example.org")
    family = consent_factories.FamilyFactory()
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Demo")
    consent_factories.give(ava, consent_factories.CarerFactory(family=family, full_name="Mo Demo"))
    consent_factories.assign(coordinator, family)
    kept = ready_photo(family, [ava], photographer)
    photo = ready_photo(family, [ava], photographer)
    blobs = [photo.original_blob, photo.thumbnail_blob]
    post = _published(photo)
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    page.goto(f"/photos/{photo.public_id}/")
    expect(_heading(page)).to_contain_text("Photo of Ava Demo")
    page.get_by_role("link", name="Delete this photo now").click()

    expect(_heading(page)).to_have_text("Delete this photo now")
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    effects = page.locator(".delete-effects")
    expect(effects.locator("dt")).to_have_text([f"Post #{post.pk} (published, for Facebook Page)"])
    expect(effects.locator("dd")).to_have_text(["A takedown will be opened to bring it down."])
    _check_page(page, "confirm")

    page.get_by_role("button", name="Delete this photo now").click()  # no reason yet
    expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_contain_text(
        "Say why this photo is being deleted."
    )
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.READY
    _check_page(page, "no-reason")

    page.get_by_label("Why is this photo being deleted?").fill(REASON)
    page.get_by_role("button", name="Delete this photo now").click()

    expect(page).to_have_url(re.compile(r"/photos/$"))
    expect(page.get_by_role("status").first).to_contain_text("The photo is deleted, with every stored copy of it.")
    expect(page.get_by_role("status").first).to_contain_text(f"Post #{post.pk}")
    expect(page.locator(".photo-grid img")).to_have_count(1)
    expect(page.locator(f'a[href="/photos/{kept.public_id}/"]').first).to_be_visible()
    expect(page.locator(f'a[href="/photos/{photo.public_id}/"]')).to_have_count(0)
    _check_page(page, "gallery")
    assert not journeys.csp_violations(console), console

    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.DELETED
    assert [storages["vault"].exists(name) for name in blobs] == [False, False]
    assert Takedown.objects.get(post=post).status == Takedown.Status.OPEN
    event = AuditEvent.objects.get(action="photo.deleted_now")
    assert (event.actor, event.details["reason"]) == (coordinator, REASON)
