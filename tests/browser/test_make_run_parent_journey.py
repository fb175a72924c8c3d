"""Issue 18: a parent signs from the link `make run` emailed, with the demo served on a port other than
8000, gets their signed PDF by email, and `verify_certificate` accepts that PDF and refuses it once one
byte of it is changed.

All of it through what a newcomer runs: scripts/run_local.sh (SQLite, the embedded broker, the worker
sending the outbox, emails printed on the console) and Chromium on a phone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from consents.models import PURPOSES, Purpose
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.make_run import (
    ROOT,
    make_run_environment,
    start_make_run,
    stop_make_run,
    wait_for_email,
    wait_for_output,
)
from tests.processes import free_port

pytestmark = pytest.mark.browser

# Alex Carer answers for Dan (seed_demo's DEMO-3, the family with a request waiting): yes to most, not all.
ANSWERS = {purpose: purpose not in {Purpose.PRINT, Purpose.FACE_ONLINE} for purpose in PURPOSES}
SIGN_LINK = r"^http://\S+/consents/sign/\S+/$"
CONFIRMATION = "Your photo consent for Dan is saved"
# A first start migrates a new SQLite database and starts a worker: about half a minute, more on a busy machine.
START_SECONDS = 180


@pytest.fixture
def phone(browser_instance):
    """A 390px touch phone, as tests/conftest.py's phone_page, on no live server: the pages come from make run."""
    context = browser_instance.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _draw_signature(page: Page) -> None:
    canvas = page.locator("canvas.signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box, "the signature pad is not visible"
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.6)
    page.mouse.down()
    for step in range(1, 13):
        x = box["x"] + box["width"] * (0.1 + 0.06 * step)
        y = box["y"] + box["height"] * (0.6 - 0.25 * (step % 2))
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def _sign(page: Page) -> None:
    """Answer every question, confirm, type a name, draw, send: as a parent does on a phone."""
    for purpose in PURPOSES:
        question = page.get_by_role("group", name=Purpose(purpose).label)
        question.get_by_role("radio", name="Yes" if ANSWERS[purpose] else "No").tap()
    page.get_by_label("I have parental responsibility for Dan").tap()
    page.get_by_label("Type your full name").fill("Alex Carer")
    _draw_signature(page)
    expect(page.locator("input[name=signature]")).to_have_value(re.compile(r"^data:image/png;base64,"))
    page.get_by_role("button", name="Send my answers").tap()


def _verify(pdf: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python manage.py verify_certificate FILE` in the same venv and environment as make run's processes."""
    return subprocess.run(
        [sys.executable, "manage.py", "verify_certificate", str(pdf)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_byte_changed(pdf: bytes) -> bytes:
    """The PDF with one byte flipped in the middle of its first page's content stream (the form text and
    answers as drawn): inside the original document the seal covers, not the trailer or the seal itself."""
    page = re.search(rb"/Contents (\d+) 0 R", pdf)
    assert page, "no page content in the PDF"
    content = re.search(rb"(?<![0-9])" + page.group(1) + rb" 0 obj", pdf)
    opened = re.compile(rb"stream\r?\n").search(pdf, content.end())
    closed = pdf.index(b"endstream", opened.end())
    middle = (opened.end() + closed) // 2
    assert closed - opened.end() > 100 and middle < pdf.index(b"/ByteRange"), "not a content stream before the seal"
    changed = bytearray(pdf)
    changed[middle] ^= 0x01
    return bytes(changed)


def test_a_parent_signs_from_the_link_make_run_emailed_on_another_port_and_the_pdf_verifies(phone, tmp_path):
    port = free_port()
    assert port != 8000
    env = make_run_environment(tmp_path, port)
    log_path = tmp_path / "run.log"
    log = log_path.open("w")
    run = start_make_run(env, log)
    try:
        wait_for_output(run, log_path, rf"^FiG Safety is running at http://127\.0\.0\.1:{port}/ ", START_SECONDS)
        # seed_demo asked DEMO-3's carer for consent; the worker sent the email, printed on the console.
        request = wait_for_email(run, log_path, "FiG photo consent form for Dan", 60)
        assert request["To"] == "carer3@example.org"
        [link] = re.findall(SIGN_LINK, request.get_content(), re.M)

        page = phone
        page.goto(link)
        assert urlsplit(page.url).netloc == f"127.0.0.1:{port}"  # the link works as emailed
        expect(page.get_by_role("heading", level=1)).to_have_text("Photo consent for Dan Demo")
        assert_accessible(page)  # axe-core, and no id used twice
        journeys.assert_fits_width(page)
        _sign(page)
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your answers for Dan are saved")
        assert urlsplit(page.url).netloc == f"127.0.0.1:{port}"
        assert_accessible(page)

        # The worker sends the confirmation from the outbox, with the sealed certificate attached.
        confirmation = wait_for_email(run, log_path, CONFIRMATION, 60)
        assert confirmation["To"] == "carer3@example.org"
        [attachment] = confirmation.iter_attachments()
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename().endswith(".pdf")
        pdf = attachment.get_content()
        assert pdf.startswith(b"%PDF-")
    finally:
        try:
            stopped_cleanly = not stop_make_run(run)
        finally:
            log.close()
    assert stopped_cleanly, "a process of make run outlived Ctrl-C"

    # The certificate make run generated under its own var folder, found again by the same settings.
    assert (tmp_path / "var" / "certificate-signing" / "cert.pem").is_file()
    # run_local.sh runs everything with DJANGO_DEBUG=1 unless told otherwise, and so must the check.
    env = {"DJANGO_DEBUG": "1", **env}
    signed = tmp_path / "certificate.pdf"
    signed.write_bytes(pdf)
    checked = _verify(signed, env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "This is a FiG Safety consent certificate, unchanged since it was sealed on " in checked.stdout

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(_one_byte_changed(pdf))
    checked = _verify(tampered, env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "This PDF has been changed after it was sealed."
