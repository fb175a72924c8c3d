"""Faces in the browser: a photographer on a phone uploads a group photo of two children whose carers agreed
to online use but not to a recognisable face, and sees the faces FiG Safety found; the family's coordinator,
on a laptop, drags a box over a face it "missed", adds it, checks the blurred version and confirms it; a
member of staff then writes a post, is offered the photo as its blurred thumbnail, attaches it and sees the
draft will be published blurred.

axe-core runs on the upload status page and on the photo page (no violations of any impact on the latter),
which must not scroll sideways at 390px. Set FIG_SCREENSHOT_DIR to keep screenshots.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fig_safety.vault import vault_read
from photos.models import Photo
from social.models import Post
from staff.models import AuditEvent
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories
from tests.consents.factories import all_answers
from tests.photos import images

pytestmark = pytest.mark.browser

BATCH_PATH = re.compile(r"/photos/uploads/[0-9a-f-]{36}/$")
# Where the coordinator drags, in the photo's own pixels: below the first astronaut's face, on her suit.
DRAWN = {"x": 40, "y": 380, "w": 100, "h": 100}


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _screenshot(page: Page, name: str) -> None:
    journeys.screenshot(page, f"faces-{name}")


def _no_axe_violations(page: Page) -> None:
    """axe-core finds nothing at all on the page, of any impact."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert not violations, "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def _drag_over_the_photo(page: Page, svg, width: int, box: dict) -> None:
    """Press, drag and let go over the photo, from one corner of `box` (in the photo's pixels) to the other."""
    on_screen = svg.bounding_box()
    scale = on_screen["width"] / width
    start = (on_screen["x"] + box["x"] * scale, on_screen["y"] + box["y"] * scale)
    end = (on_screen["x"] + (box["x"] + box["w"]) * scale, on_screen["y"] + (box["y"] + box["h"]) * scale)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=4)
    page.mouse.move(*end, steps=4)
    page.mouse.up()


def _near(value: int, expected: int, slack: int = 4) -> bool:
    """Within a few of the photo's pixels: a screen pixel is about 2.4 of them at this size."""
    return abs(value - expected) <= slack


def test_a_group_photo_is_checked_for_faces_blurred_confirmed_and_posted_blurred(phone_page, desktop_page, tmp_path):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    writer = factories.staff_user("staff", "post_writer", email="sam@example.org", full_name="Sam Writer")
    family = consent_factories.FamilyFactory()
    mother = consent_factories.CarerFactory(family=family, full_name="Mo Demo", email="mo@example.org")
    for name in ("Ava", "Ben"):
        child = consent_factories.ChildFactory(family=family, first_name=name, last_name="Demo")
        consent_factories.give(child, mother, all_answers(face_online=False))
    consent_factories.assign(coordinator, family)
    group = tmp_path / "IMG_5001.jpg"
    group.write_bytes(images.group())  # three people side by side, 1536 × 512

    # --- the photographer, on a phone: upload, and see the faces found -----------------------------------
    page = phone_page
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, photographer)
    page.get_by_role("link", name="Upload photos").click()
    expect(_heading(page)).to_have_text("Upload photos")
    page.wait_for_load_state("load")  # upload.js listens for the family choice once the page has loaded
    page.get_by_label("Family", exact=True).select_option(family.reference)
    expect(page).to_have_url(re.compile(rf"\?family={family.reference}$"))
    page.get_by_role("checkbox", name="Ava Demo").check()
    page.get_by_role("checkbox", name="Ben Demo").check()
    # "Keep only a blurred version" goes with "no child can be identified", so it is not offered yet.
    expect(page.get_by_role("checkbox", name="Keep only a version with every face blurred")).to_be_hidden()
    page.get_by_label("Choose photos").set_input_files(group)
    page.get_by_role("button", name="Upload to the vault").click()

    expect(page).to_have_url(BATCH_PATH)
    expect(page.locator("[data-status]")).to_have_text(["Ready"])
    expect(page.locator("[data-faces]")).to_contain_text("3 faces found, 2 children tagged.")
    expect(page.get_by_role("link", name="Check the faces")).to_be_visible()
    photo = Photo.objects.get(family=family)
    assert (photo.status, len(photo.faces), photo.children.count()) == (Photo.Status.READY, 3, 2)
    assert photo.unidentifiable_blob and not photo.marked_unidentifiable
    assert_accessible(page)
    journeys.assert_fits_width(page, 390)
    _screenshot(page, "batch-phone")
    assert not journeys.csp_violations(console), console

    # --- the coordinator, on a laptop: draw the face it missed, check the blurred version, confirm -------
    page = desktop_page
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, coordinator)
    page.goto(f"/photos/{photo.public_id}/")
    faces = page.get_by_role("region", name="Faces")
    expect(faces.get_by_text("3 faces found, 2 children tagged.")).to_be_visible()
    overlay = page.locator("svg.face-boxes")
    expect(overlay.get_by_role("img", name=re.compile(r"^Face \d found by FiG Safety$"))).to_have_count(3)
    expect(faces.get_by_text("Not confirmed")).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('main img')].every(img => img.complete)")
    _no_axe_violations(page)
    _screenshot(page, "photo-desktop")

    draw = page.get_by_role("button", name="Draw on the photo")
    draw.click()
    expect(draw).to_have_attribute("aria-pressed", "true")
    _drag_over_the_photo(page, overlay, photo.width, DRAWN)
    expect(faces.get_by_role("status")).to_contain_text("Box drawn")
    typed = {
        key: int(page.get_by_label(label).input_value())
        for key, label in (
            ("x", "From the left (pixels)"),
            ("y", "From the top (pixels)"),
            ("w", "Width (pixels)"),
            ("h", "Height (pixels)"),
        )
    }
    assert all(_near(typed[key], DRAWN[key]) for key in DRAWN), typed
    expect(overlay.locator("[data-new-box]")).to_be_visible()
    page.get_by_role("button", name="Add the face and blur it").click()

    expect(page).to_have_url(re.compile(r"#unidentifiable$"))
    # The message comes back beside the photo, where the coordinator is looking.
    expect(page.locator("#unidentifiable .messages")).to_contain_text("The face is added and blurred.")
    expect(faces.get_by_text("4 faces found (1 of them drawn by a coordinator), 2 children tagged.")).to_be_visible()
    expect(overlay.get_by_role("img", name="Face 4, drawn by a coordinator")).to_have_count(1)
    photo.refresh_from_db()
    [drawn] = photo.drawn_faces
    assert all(_near(drawn[key], DRAWN[key]) for key in DRAWN), drawn
    assert AuditEvent.objects.filter(action="photo.face_drawn", actor=coordinator).exists()

    blurred = faces.get_by_role("img", name="The same photo with every face blurred")
    expect(blurred).to_be_visible()
    expect(faces.get_by_text("Every face in it is blurred")).to_be_visible()
    page.get_by_role("checkbox", name="I checked: no child can be recognised in the blurred version").check()
    page.get_by_role("button", name="Confirm the blurred version").click()
    expect(faces.get_by_text("Confirmed", exact=True)).to_be_visible()
    expect(faces).to_contain_text("by Cam Reid on")
    expect(page.get_by_role("button", name="Take back the confirmation")).to_be_visible()
    photo.refresh_from_db()
    assert photo.marked_unidentifiable and photo.marked_unidentifiable_by == coordinator
    page.wait_for_function("() => [...document.querySelectorAll('main img')].every(img => img.complete)")
    _no_axe_violations(page)
    _screenshot(page, "photo-confirmed-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    journeys.assert_fits_width(page, 390)
    _screenshot(page, "photo-confirmed-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not journeys.csp_violations(console), console
    _sign_out(page)

    # --- a member of staff: the photo is offered blurred, and the draft says it will go out blurred -------
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, writer)
    page.get_by_role("link", name="Write a post").click()
    expect(_heading(page)).to_have_text("Write a post")
    choice = page.get_by_role("checkbox", name=re.compile(rf"^Photo from family {family.reference}"))
    expect(choice).to_have_count(1)
    thumbnail = page.locator(f"label[for='photo-{photo.public_id}'] img")
    offered = page.request.get(thumbnail.get_attribute("src"))
    assert offered.ok
    assert offered.body() == vault_read(
        name=photo.unidentifiable_thumbnail_blob, key_id=photo.unidentifiable_thumbnail_key_id
    )
    page.get_by_label("What the post says").fill("Thank you to everyone who came to the family picnic!")
    page.get_by_role("checkbox", name="Facebook Page").check()
    choice.check()
    page.get_by_role("button", name="Save the draft").click()

    expect(page.get_by_text("Your draft is saved")).to_be_visible()
    expect(page.get_by_text("Published blurred")).to_be_visible()
    post = Post.objects.get()
    assert list(post.photos.all()) == [photo]
    assert post.photo_versions == {str(photo.pk): "unidentifiable"}
    assert not journeys.csp_violations(console), console
