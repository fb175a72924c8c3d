"""Subject access in one click (issue 18, point 5), in the browser. A coordinator on a laptop opens a
family's page, downloads everything FiG holds about the family as one zip, and finds in it the posts that used
the family's photos and the takedowns, and nothing of the other family in the same group photo. Ava's mother,
on her phone, sees the photos of Ava and the post that showed her, each image loaded from the vault.

axe-core runs on each page; set FIG_SCREENSHOT_DIR to keep screenshots.
"""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from staff.models import AuditEvent
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.photos.subject_access import AVA_POST_TEXT, BEN_POST_TEXT, GROUP_POST_TEXT, history

pytestmark = pytest.mark.browser


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _check_page(page: Page, name: str) -> None:
    assert_accessible(page)
    journeys.screenshot(page, f"subject-access-{name}")


def test_a_coordinator_downloads_a_familys_zip_and_finds_posts_and_takedowns_in_it(desktop_page, tmp_path):
    factories.PolicyVersionFactory()
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    world = history(coordinator)
    family = world.family_a
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    page.goto(reverse("consents:family_detail", args=[family.reference]))
    expect(_heading(page)).to_contain_text(family.reference)
    _check_page(page, "family")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download everything we hold about this family (zip)").click()
    download = download_info.value
    assert download.suggested_filename == f"family-{family.reference}-export.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        text = archive.read("manifest.json").decode()
        assert f"photos/{world.solo.public_id}.jpg" in archive.namelist()
    manifest = json.loads(text)

    posts = {p["id"]: p for p in manifest["posts"]}
    assert set(posts) == {world.ava_post.pk, world.group_post.pk}
    assert posts[world.ava_post.pk]["text"] == AVA_POST_TEXT
    assert posts[world.group_post.pk]["text"] == GROUP_POST_TEXT
    takedowns = {t["id"]: t for t in manifest["takedowns"]}
    assert takedowns[world.ava_takedown.pk]["post"] == world.ava_post.pk
    assert takedowns[world.ava_takedown.pk]["requested_by"] == world.mother.email
    assert takedowns[world.group_takedown.pk]["status"] == "removed"
    assert world.only_a.pk in takedowns and world.ben_takedown.pk not in takedowns
    assert BEN_POST_TEXT not in text and world.family_b.reference not in text
    assert not re.search(r"\bBen\b", text)
    event = AuditEvent.objects.get(action="family.exported")
    assert event.actor == coordinator and event.details["out"] == "download"
    assert not journeys.csp_violations(console), console


def test_a_parent_sees_the_photos_of_her_child_and_the_post_that_showed_her(phone_page, mailoutbox):
    factories.PolicyVersionFactory()
    world = history(factories.staff_user("coordinator", email="cam@example.org"))
    page = phone_page
    console = journeys.watch_console(page)

    journeys.request_login_code(page, world.mother.email)
    journeys.enter_login_code(page, journeys.login_code_from(mailoutbox[-1]))
    expect(_heading(page)).to_have_text(re.compile("^Hello"))
    page.goto(reverse("consents:my_child", args=[world.ava.pk]))
    expect(_heading(page)).to_have_text("Ava's photo consent")

    photos = page.get_by_role("region", name="Photos of Ava")
    image = photos.get_by_role("img", name=re.compile("^Photo of Ava Demo"))
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0  # served from the vault
    expect(photos).to_contain_text("One photo of Ava also shows children of other families.")
    posts = page.get_by_role("region", name="Posts that showed Ava")
    expect(posts.get_by_role("heading", level=3)).to_have_count(2)
    expect(posts.get_by_role("img", name=re.compile("as posted$"))).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("Ben")
    journeys.assert_fits_width(page, 390)
    _check_page(page, "parent")
    assert not journeys.csp_violations(console), console
