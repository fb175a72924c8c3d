"""The photo vault in the browser: a photographer on a phone uploads three photos with a progress
bar and confirms they are deleted from the device; the family's coordinator finds them in the
gallery and opens one (an access-log row for the view); a coordinator of another family gets 404;
axe-core on every vault page, and no sideways scrolling on the photographer's pages at 390px.

Processing runs in Celery eagerly here (CELERY_TASK_ALWAYS_EAGER), so a batch is ready by the
time its status page opens. Set FIG_SCREENSHOT_DIR to keep screenshots of the pages.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from consents.models import Purpose
from photos import services as photo_services
from photos.models import Photo, PhotoAccess, UploadBatch
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories

pytestmark = pytest.mark.browser

BATCH_PATH = re.compile(r"/photos/uploads/[0-9a-f-]{36}/$")
COLOURS = [(231, 111, 81), (42, 157, 143), (233, 196, 106)]

# Records what the progress bar showed, from the page, through a binding that outlives the page
# (the upload page navigates away as soon as it is done, taking its own variables with it).
WATCH_PROGRESS = """() => {
  const bar = document.querySelector("progress");
  const box = bar.closest("[data-upload-progress]");
  const report = () => window.recordProgress({
    visible: !box.hidden && bar.getClientRects().length > 0, value: bar.value, max: bar.max,
  });
  new MutationObserver(report).observe(box, { attributes: true, subtree: true, attributeFilter: ["hidden", "value"] });
  report();
}"""


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _screenshot(page: Page, name: str) -> None:
    journeys.screenshot(page, f"vault-{name}")


def _check_page(page: Page, name: str, width: int | None = None) -> None:
    """axe-core, no sideways scrolling on a phone, and a screenshot when asked for."""
    assert_accessible(page)
    if width:
        journeys.assert_fits_width(page, width)
    _screenshot(page, name)


def _jpeg(index: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A small, real and distinct JPEG (the vault refuses a duplicate)."""
    image = Image.new("RGB", size, COLOURS[index % len(COLOURS)])
    draw = ImageDraw.Draw(image)
    draw.ellipse((200 + index * 30, 120, 420 + index * 30, 340), fill=(255, 255, 255))
    draw.rectangle((0, 400, size[0], size[1]), fill=(38, 70, 83))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _jpeg_files(folder: Path, count: int = 3) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"IMG_{4000 + index}.jpg"
        path.write_bytes(_jpeg(index))
        paths.append(path)
    return paths


def _family(coordinator=None):
    """Family with Ava (consent to everything) and Ben (no consent at all), and their mother."""
    family = consent_factories.FamilyFactory()
    ava = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Demo")
    consent_factories.ChildFactory(family=family, first_name="Ben", last_name="Demo")
    mother = consent_factories.CarerFactory(family=family, full_name="Mo Demo", email="mo@example.org")
    consent_factories.give(ava, mother)
    if coordinator is not None:
        consent_factories.assign(coordinator, family)
    return family, ava, mother


def _uploaded(family, child, photographer, count: int = 3) -> UploadBatch:
    """Photos put in the vault through the same service as the web upload (processed at once)."""
    batch = photo_services.photo_upload(
        family=family,
        children=[child],
        files=[_jpeg(i) for i in range(count)],
        no_child_identifiable=False,
        by=photographer,
    )
    assert set(batch.photos.values_list("status", flat=True)) == {Photo.Status.READY}
    return batch


def _images_loaded(page: Page, selector: str) -> list[int]:
    """The natural width of every image the selector finds, once each has finished loading."""
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(img => img.complete)",
        arg=selector,
    )
    return page.eval_on_selector_all(selector, "images => images.map(img => img.naturalWidth)")


# --- 1 and 2: the photographer uploads on a phone; the family's coordinator opens the photos ---------


def test_a_photographer_uploads_three_photos_and_the_coordinator_opens_them(phone_page, desktop_page, tmp_path):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    family, ava, _ = _family(coordinator)
    page = phone_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, photographer)
    expect(_heading(page)).to_have_text("Hello, Pip")
    page.get_by_role("link", name="Upload photos").click()
    expect(_heading(page)).to_have_text("Upload photos")
    _check_page(page, "upload-choose-family-phone", width=390)

    # Choosing the family shows its children (upload.js submits the family form on change).
    page.get_by_label("Family", exact=True).select_option(family.reference)
    expect(page).to_have_url(re.compile(rf"\?family={family.reference}$"))
    expect(page.get_by_role("checkbox", name="Ava Demo")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Ben Demo")).to_have_count(0)
    expect(page.get_by_text("Ben Demo: no consent to be photographed or kept in the vault")).to_be_visible()
    camera = page.get_by_label("Take a photo")
    expect(camera).to_have_attribute("capture", "environment")
    expect(camera).to_have_attribute("accept", "image/*")
    expect(page.get_by_label("Choose photos")).to_have_attribute("multiple", "")
    _check_page(page, "upload-phone", width=390)

    page.get_by_role("checkbox", name="Ava Demo").check()
    page.get_by_label("Choose photos").set_input_files(_jpeg_files(tmp_path))
    seen: list[dict] = []

    def record_progress(state: dict) -> None:
        seen.append(state)

    page.expose_function("recordProgress", record_progress)
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Upload to the vault").click()

    # The status page: every file checked and ready.
    expect(page).to_have_url(BATCH_PATH)
    expect(_heading(page)).to_have_text("Your upload")
    assert any(s["visible"] for s in seen), f"the progress bar never showed: {seen}"
    assert any(s["visible"] and s["value"] == s["max"] for s in seen), f"the progress bar never filled: {seen}"
    expect(page.locator("[data-status]")).to_have_text(["Ready", "Ready", "Ready"])
    expect(page.get_by_role("status").filter(has_text="Every photo has been checked")).to_be_visible()
    assert _images_loaded(page, ".file-thumb img") and all(w > 0 for w in _images_loaded(page, ".file-thumb img"))
    photos = list(Photo.objects.filter(family=family).order_by("id"))
    assert len(photos) == 3
    assert all(p.status == Photo.Status.READY and list(p.children.all()) == [ava] for p in photos)
    assert all(p.device_deleted_at is None for p in photos)
    _check_page(page, "batch-phone", width=390)
    batch_url = page.url

    # Her uploads list them until she confirms.
    page.get_by_role("navigation", name="Photo vault").get_by_role("link", name="Your uploads").click()
    expect(_heading(page)).to_have_text("Your uploads")
    expect(page.get_by_role("checkbox")).to_have_count(3)
    _check_page(page, "my-uploads-phone", width=390)

    # She can open a photo she just uploaded, to check it and fix its tags.
    page.goto(batch_url)
    page.get_by_role("link", name="Photo 1").click()
    expect(_heading(page)).to_contain_text("Photo of Ava Demo")
    expect(page.get_by_role("button", name="Save the tags")).to_be_visible()
    assert _images_loaded(page, ".photo-figure img")[0] == 640
    _check_page(page, "photo-phone", width=390)

    page.goto(batch_url)
    page.get_by_role("button", name="Confirm deleted from your device").click()
    expect(page.get_by_role("status").first).to_contain_text("3 photos marked as deleted from your device")
    expect(page.get_by_text("You confirmed these photos are deleted from your device")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm deleted from your device")).to_have_count(0)
    assert all(p.device_deleted_at is not None for p in Photo.objects.filter(family=family))
    _check_page(page, "batch-confirmed-phone", width=390)
    assert not journeys.csp_violations(console), console

    # The family's coordinator, on a laptop: the gallery, then one photo.
    page = desktop_page
    console = journeys.watch_console(page)
    journeys.staff_sign_in(page, coordinator)
    expect(_heading(page)).to_have_text("Hello, Cam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Photos").click()
    expect(_heading(page)).to_have_text("Photo gallery")
    thumbnails = page.locator(".photo-grid img")
    expect(thumbnails).to_have_count(3)
    expect(thumbnails.first).to_have_attribute("alt", re.compile(r"^Photo of Ava Demo, \d{1,2} \w+ \d{4}$"))
    widths = _images_loaded(page, ".photo-grid img")
    assert len(widths) == 3 and all(w > 0 for w in widths), widths
    expect(page.locator(".photo-card").first.get_by_text("Online", exact=True)).to_be_visible()
    _check_page(page, "gallery-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    _check_page(page, "gallery-390", width=390)
    page.set_viewport_size({"width": 1280, "height": 900})

    views_before = PhotoAccess.objects.filter(user=coordinator, action=PhotoAccess.Action.VIEW).count()
    page.locator(".photo-card-image").first.click()
    expect(_heading(page)).to_contain_text("Photo of Ava Demo")
    photo_image = page.locator(".photo-figure img")
    expect(photo_image).to_be_visible()
    assert _images_loaded(page, ".photo-figure img")[0] == 640
    uses = page.get_by_role("region", name="What it may be used for")
    expect(uses.get_by_role("listitem")).to_have_count(len(Purpose.choices))
    expect(uses.get_by_role("listitem").filter(has_text=Purpose.ONLINE.label)).to_contain_text("Allowed")
    expect(page.get_by_role("link", name="Download")).to_be_visible()
    shown = Photo.objects.get(public_id=page.url.rstrip("/").rsplit("/", 1)[-1])
    assert (
        PhotoAccess.objects.filter(user=coordinator, photo=shown, action=PhotoAccess.Action.VIEW).count()
        == views_before + 1
    )
    _check_page(page, "photo-desktop")

    page.get_by_role("link", name="Who has seen this photo").click()
    expect(_heading(page)).to_have_text("Who has seen this photo")
    expect(page.get_by_role("row").filter(has_text="Viewed").filter(has_text="Cam Reid")).to_have_count(1)
    _check_page(page, "access-log-desktop")
    assert not journeys.csp_violations(console), console


# --- 3: a coordinator of another family --------------------------------------------------------


def test_a_coordinator_of_another_family_gets_404_for_the_photo_and_its_bytes(desktop_page):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org")
    ours = factories.staff_user("coordinator", email="cam@example.org")
    other = factories.staff_user("coordinator", email="other@example.org", full_name="Oli Other")
    family, ava, _ = _family(ours)
    consent_factories.assign(other, consent_factories.FamilyFactory())
    photo = _uploaded(family, ava, photographer).photos.first()
    page = desktop_page

    journeys.staff_sign_in(page, other)
    expect(_heading(page)).to_have_text("Hello, Oli")
    page.goto("/photos/")
    expect(page.locator(".photo-grid img")).to_have_count(0)
    expect(page.get_by_text("No photos yet.")).to_be_visible()

    response = page.goto(f"/photos/{photo.public_id}/")
    assert response.status == 404
    for size in ("thumbnail", "full", "download"):
        answer = page.request.get(f"/photos/{photo.public_id}/image/{size}/")
        assert answer.status == 404, size
        assert b"\xff\xd8\xff" not in answer.body()
    assert page.request.get(f"/photos/{photo.public_id}/access-log/").status == 404
    assert not PhotoAccess.objects.filter(user=other).exists()


# --- 3b: the coordinator browses the gallery by child --------------------------------------------


def test_the_coordinator_browses_the_gallery_by_child(desktop_page):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org")
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    family, ava, mother = _family(coordinator)
    cy = consent_factories.ChildFactory(family=family, first_name="Cy", last_name="Demo")
    consent_factories.give(cy, mother)
    _uploaded(family, ava, photographer)  # three of Ava
    photo_services.photo_upload(
        family=family, children=[cy], files=[_jpeg(5)], no_child_identifiable=False, by=photographer
    )
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    page.goto("/photos/")
    thumbnails = page.locator(".photo-grid img")
    expect(thumbnails).to_have_count(4)

    # The child list, grouped by family: Cy's photos alone. The address carries Cy's id, not her name.
    child_list = page.get_by_label("Child", exact=True)
    expect(child_list.locator("optgroup")).to_have_attribute("label", f"Family {family.reference}")
    child_list.select_option(label="Cy Demo")
    page.get_by_role("button", name="Show photos").click()
    expect(page).to_have_url(re.compile(rf"[?&]child={cy.pk}(&|$)"))
    assert "Cy" not in page.url and "Demo" not in page.url
    expect(thumbnails).to_have_count(1)
    expect(thumbnails.first).to_have_attribute("alt", re.compile(r"^Photo of Cy Demo, "))
    expect(child_list).to_have_value(str(cy.pk))
    _check_page(page, "gallery-by-child-desktop")

    # A child's name on a card leads to all their photos.
    page.get_by_role("link", name="Clear the filters").click()
    expect(thumbnails).to_have_count(4)
    page.get_by_role("link", name="All photos of Ava Demo").first.click()
    expect(thumbnails).to_have_count(3)
    expect(page.get_by_label("Child", exact=True)).to_have_value(str(ava.pk))

    # So does a name on a photo's page.
    page.locator(".photo-card-image").first.click()
    expect(_heading(page)).to_contain_text("Photo of Ava Demo")
    page.get_by_role("link", name="All photos of Ava Demo").click()
    expect(_heading(page)).to_have_text("Photo gallery")
    expect(thumbnails).to_have_count(3)
    assert not journeys.csp_violations(console), console


# --- 4: axe-core on the rest of the vault's pages ------------------------------------------------


def test_the_vault_pages_are_accessible_for_a_coordinator(desktop_page):
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    coordinator = factories.staff_user("coordinator", email="cam@example.org", full_name="Cam Reid")
    family, ava, mother = _family(coordinator)
    _uploaded(family, ava, photographer)
    # Mo withdraws Ava's consent to photos being kept: her photos go to the deletion queue.
    consent_factories.withdraw(ava, mother, [Purpose.STORED])
    queued = Photo.objects.filter(family=family, deletion_due_at__isnull=False)
    assert queued.count() == 3
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    nav = page.get_by_role("navigation", name="Photo vault")
    page.goto("/photos/upload/")
    expect(_heading(page)).to_have_text("Upload photos")
    _check_page(page, "upload-empty-desktop")
    page.get_by_label("Family", exact=True).select_option(family.reference)
    # Ava may still be photographed; what she lacks now is consent to be kept.
    expect(page.get_by_text("Ava Demo: no consent to be kept in the vault")).to_be_visible()
    _check_page(page, "upload-desktop")
    # Sent without a photo: an error summary, without leaving the page.
    page.get_by_role("checkbox", name="No child can be identified in these photos").check()
    page.get_by_role("button", name="Upload to the vault").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one photo.")
    _check_page(page, "upload-error-desktop")

    nav.get_by_role("link", name="Not yet deleted from devices").click()
    expect(_heading(page)).to_have_text("Not yet deleted from devices")
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator("tbody tr").first).to_contain_text("Pip Snap")
    _check_page(page, "unconfirmed-desktop")

    nav.get_by_role("link", name="Deletion queue").click()
    expect(_heading(page)).to_have_text("Deletion queue")
    expect(page.locator("tbody tr")).to_have_count(3)
    _check_page(page, "deletion-queue-desktop")

    page.locator("tbody tr").first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("This photo will be deleted on"))).to_be_visible()
    expect(page.get_by_label("Lawful reason to keep this photo")).to_be_visible()
    uses = page.get_by_role("region", name="What it may be used for")
    expect(uses.get_by_role("listitem").filter(has_text=Purpose.STORED.label)).to_contain_text("Not allowed")
    _check_page(page, "photo-queued-desktop")

    nav.get_by_role("link", name="Gallery").click()
    expect(page.locator(".photo-grid img")).to_have_count(3)
    page.get_by_label("May be used for").select_option(Purpose.STORED.value)
    page.get_by_role("button", name="Show photos").click()
    expect(page.get_by_text("No photos match these filters.")).to_be_visible()
    _check_page(page, "gallery-filtered-desktop")
    assert not journeys.csp_violations(console), console


# --- without JavaScript, the upload still works ---------------------------------------------------


def test_without_javascript_the_family_button_and_a_plain_upload_work(
    browser_instance, live_server, settings, tmp_path
):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family, ava, _ = _family()
    context = browser_instance.new_context(
        viewport={"width": 390, "height": 844},
        java_script_enabled=False,
        base_url=live_server.url,
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        journeys.staff_sign_in(page, photographer)
        page.goto("/photos/upload/")
        page.get_by_label("Family", exact=True).select_option(family.reference)
        page.get_by_role("button", name="Show children").click()
        page.get_by_role("checkbox", name="Ava Demo").check()
        page.get_by_label("Choose photos").set_input_files(_jpeg_files(tmp_path, 2))
        page.get_by_role("button", name="Upload to the vault").click()

        expect(page).to_have_url(BATCH_PATH)
        expect(page.locator("[data-status]")).to_have_text(["Ready", "Ready"])
        journeys.assert_fits_width(page, 390)
        page.get_by_role("button", name="Confirm deleted from your device").click()
        expect(page.get_by_text("2 photos marked as deleted from your device")).to_be_visible()
        assert Photo.objects.filter(family=family, device_deleted_at__isnull=False).count() == 2
    finally:
        context.close()


# --- the status page follows processing by itself ---------------------------------------------------


def test_the_status_page_updates_itself_while_the_photos_are_processed(phone_page):
    from unittest import mock

    from photos.tasks import process_photo

    factories.PolicyVersionFactory()
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    family, ava, _ = _family()
    with mock.patch.object(process_photo, "delay"):  # the worker has not got to them yet
        batch = photo_services.photo_upload(
            family=family,
            children=[ava],
            files=[_jpeg(0), b"%PDF-1.7 not a photo"],
            no_child_identifiable=False,
            by=photographer,
        )
    page = phone_page
    journeys.staff_sign_in(page, photographer)
    page.goto(f"/photos/uploads/{batch.public_id}/")
    expect(page.locator("[data-status]")).to_have_text(["Processing", "Processing"])
    expect(page.get_by_role("button", name="Confirm deleted from your device")).to_be_hidden()
    _check_page(page, "batch-processing-phone", width=390)

    for photo in batch.photos.order_by("id"):
        photo_services.photo_process(photo_id=photo.pk)

    expect(page.locator("[data-status]")).to_have_text(["Ready", "Refused"])
    expect(page.get_by_text("This is not a JPEG, PNG, WebP or HEIC photo.")).to_be_visible()
    expect(page.get_by_text("A refused photo is not in the vault")).to_be_visible()
    expect(
        page.get_by_role("status").filter(has_text="Every photo has been checked: 1 ready, 1 refused.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Photo 1")).to_be_visible()
    assert _images_loaded(page, ".file-thumb img") == [480]
    expect(page.get_by_role("button", name="Confirm deleted from your device")).to_be_visible()
    _check_page(page, "batch-refused-phone", width=390)
