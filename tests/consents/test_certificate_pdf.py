"""The sealed consent certificate (PDF): what it holds, `verify_certificate` accepting it and rejecting
any change, the copy emailed to the carer who signed, and the download for them and their coordinators."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader, PdfWriter

from consents.certificate_pdf import certificate_pdf, certificate_record, render_certificate
from consents.certificate_seal import SealPaths, seal_paths, seal_pdf, verify_pdf, write_key_pair
from consents.links import request_link_token
from consents.models import PURPOSES, Carer, ConsentRecord, Purpose
from consents.retention import remove_signatures
from fig_safety.times import LONDON
from fig_safety.vault import vault_read
from staff.models import AuditEvent, OutboxEmail
from staff.notifications import deliver_outbox, notify
from tests import factories
from tests.consents.factories import (
    all_answers,
    family_with_child,
    give,
    png_data_url,
    request_for,
    sign,
    withdraw,
)

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def record(db, parent, coordinator) -> ConsentRecord:
    """Maya O'Neil signed the emailed form for Łucja with a drawn signature, saying no to a recognisable face."""
    _, child, [carer] = family_with_child(coordinator=coordinator)
    child.first_name, child.last_name = "Łucja", "O'Neil"
    child.save()
    Carer.objects.filter(pk=carer.pk).update(full_name="Maya O'Neil", email=parent.email)
    carer.refresh_from_db()
    signed = sign(request_for(child, carer), answers=all_answers(face_online=False), signature=png_data_url(90, 30))
    return certificate_record(signed.pk)


def _text(pdf: bytes) -> str:
    """The PDF's text with runs of whitespace made single spaces (lines wrap differently on the page)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def _flat(text: str) -> str:
    return " ".join(text.split())


def _verify(tmp_path, pdf: bytes, *args: str) -> tuple[int, str]:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    out = io.StringIO()
    try:
        call_command("verify_certificate", str(path), *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


# --- what it holds ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_holds_the_exact_form_text_the_answers_and_the_evidence(record):
    pdf = certificate_pdf(record)
    text = _text(pdf)
    assert "Łucja O'Neil" in text and "Maya O'Neil (mother), confirmed parental responsibility" in text
    for line in record.text_shown.splitlines():
        assert _flat(line) in text, line
    for purpose in PURPOSES:
        said = "No" if purpose == Purpose.FACE_ONLINE else "Yes"
        assert f"{_flat(Purpose(purpose).label)} {said}" in text
    for evidence in (record.evidence_sha256, record.text_sha256, record.ip_address, record.user_agent):
        assert evidence in text
    assert "Link sent to their email" in text and "Version 1" in text
    signed = record.signed_at.astimezone(LONDON)
    assert f"{signed.day} {signed:%B %Y, %H:%M:%S} (UK time, {signed:%Z})" in text

    # The exact text, byte for byte, is attached inside the PDF; its checksum is the one on the record.
    attached = PdfReader(io.BytesIO(pdf)).attachments["form-text.txt"][0]
    assert attached.decode("utf-8") == record.text_shown
    assert hashlib.sha256(attached).hexdigest() == record.text_sha256


@pytest.mark.django_db
def test_it_holds_the_drawn_signature(record):
    reader = PdfReader(io.BytesIO(certificate_pdf(record)))
    [image] = [image for page in reader.pages for image in page.images]
    with Image.open(io.BytesIO(vault_read(name=record.signature_blob, key_id=record.signature_key_id))) as drawn:
        expected = Image.new("RGB", drawn.size, "white")
        expected.paste(drawn.convert("RGBA"), mask=drawn.convert("RGBA").getchannel("A"))
    assert image.image.size == (90, 30)
    assert image.image.convert("RGB").tobytes() == expected.tobytes()


@pytest.mark.django_db
def test_its_last_page_is_the_audit_trail_of_the_record_and_its_request(record, coordinator, client):
    client.force_login(coordinator)
    client.get(reverse("consents:record_file", args=[record.pk, "signature"]))  # audited: signature viewed
    reader = PdfReader(io.BytesIO(certificate_pdf(record)))
    last = _flat(reader.pages[-1].extract_text())
    assert "Audit trail" in last
    sent, signed, viewed = (
        last.index("Consent form sent by email"),
        last.index("Form signed"),
        last.index("Drawn signature viewed"),
    )
    assert sent < signed < viewed  # oldest first
    assert coordinator.email in last
    assert "Audit trail" not in _flat(reader.pages[0].extract_text())


@pytest.mark.django_db
def test_a_paper_consent_says_it_was_given_on_paper_and_has_no_drawn_signature(parent):
    _, child, [carer] = family_with_child()
    record = certificate_record(give(child, carer).pk)  # by phone
    text = _text(certificate_pdf(record))
    assert "FiG's record of a photo consent given by phone" in text
    assert "No drawn signature: this consent was given by phone." in text
    assert "taken by Test Coordinator" in text


@pytest.mark.django_db
def test_a_signature_deleted_after_its_keeping_time_is_said_to_be_deleted(record, django_capture_on_commit_callbacks):
    later = record.signed_at + timedelta(days=365 * 8)
    with django_capture_on_commit_callbacks(execute=True):
        assert remove_signatures(later) == 1
    record = certificate_record(record.pk)
    text = _text(certificate_pdf(record, now=later))
    assert "Any drawn signature has been deleted, as FiG does once its keeping time is over." in text
    assert record.evidence_sha256 in text


@pytest.mark.django_db
def test_it_is_quick_to_build(record):
    certificate_pdf(record)  # fonts and the key are loaded once per process
    started = time.perf_counter()
    certificate_pdf(record)
    assert time.perf_counter() - started < 0.5


# --- verify_certificate -------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_certificate_accepts_an_unchanged_certificate(record, tmp_path):
    code, out = _verify(tmp_path, certificate_pdf(record))
    assert code == 0
    assert re.fullmatch(
        r"This is a FiG Safety consent certificate, unchanged since it was sealed on \d+ \w+ \d{4} at [\d:]{8}"
        r" \(UK time\)\.\n",
        out,
    )


@pytest.mark.django_db
def test_verify_certificate_rejects_it_after_one_byte_of_its_content_is_changed(record, tmp_path):
    pdf = bytearray(certificate_pdf(record))
    first_page = pdf.index(b"stream", pdf.index(b"/Contents")) + len(b"stream\n") + 10
    pdf[first_page] ^= 0x01
    code, out = _verify(tmp_path, bytes(pdf))
    assert (code, out) == (1, "This PDF has been changed after it was sealed.\n")


@pytest.mark.django_db
def test_verify_certificate_rejects_it_after_an_incremental_update_that_adds_a_page(record, tmp_path):
    pdf = certificate_pdf(record)
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    writer.add_blank_page()
    out = io.BytesIO()
    writer.write(out)
    changed = out.getvalue()
    assert changed.startswith(pdf)  # the sealed bytes are all still there, untouched
    assert len(PdfReader(io.BytesIO(changed)).pages) == len(PdfReader(io.BytesIO(pdf)).pages) + 1
    code, out = _verify(tmp_path, changed, "--why")
    assert code == 1
    assert out.startswith("This PDF has been changed after it was sealed.\n")


@pytest.mark.django_db
def test_verify_certificate_rejects_a_pdf_sealed_with_another_key(record, tmp_path):
    other = write_key_pair(tmp_path / "not-fig")
    code, out = _verify(tmp_path, certificate_pdf(record, seal=other))
    assert (code, out) == (1, "This is not a FiG Safety certificate.\n")
    # ... which verifies against that other certificate when asked to (after a key change, say).
    code, out = _verify(tmp_path, certificate_pdf(record, seal=other), "--cert", str(other.cert))
    assert code == 0 and "unchanged since" in out


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["unsealed", "not a pdf"])
def test_verify_certificate_rejects_what_is_not_a_certificate(record, tmp_path, kind):
    data = render_certificate(record) if kind == "unsealed" else b"Hello, I am a certificate."
    assert _verify(tmp_path, data) == (1, "This is not a FiG Safety certificate.\n")


@pytest.mark.django_db
def test_it_seals_and_verifies_inside_a_running_event_loop(record):
    # pyHanko's plain functions start an event loop of their own: under ASGI, or beside Playwright, one runs.
    pdf = render_certificate(record)

    async def inside() -> bool:
        return verify_pdf(seal_pdf(pdf)).ok

    assert asyncio.run(inside())


@pytest.mark.django_db
def test_the_key_pair_is_made_once_and_kept(record):
    paths = seal_paths()
    key = paths.key.read_bytes()
    assert paths.key.stat().st_mode & 0o077 == 0  # the key is its owner's alone
    assert seal_paths() == paths and paths.key.read_bytes() == key


def test_production_needs_the_key_configured(settings):
    settings.FIG_CERTIFICATE_SIGNING_KEY = settings.FIG_CERTIFICATE_SIGNING_CERT = ""
    settings.FIG_CERTIFICATE_SIGNING_GENERATE = False
    with pytest.raises(ImproperlyConfigured, match="FIG_CERTIFICATE_SIGNING_KEY"):
        seal_paths()


def test_a_configured_key_is_used(settings, tmp_path):
    made = write_key_pair(tmp_path / "fig")
    settings.FIG_CERTIFICATE_SIGNING_KEY, settings.FIG_CERTIFICATE_SIGNING_CERT = str(made.key), str(made.cert)
    settings.FIG_CERTIFICATE_SIGNING_GENERATE = False
    assert seal_paths() == SealPaths(made.key, made.cert)


# --- the emailed copy --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_carer_who_signs_gets_the_sealed_pdf_by_email(client, parent, tmp_path, django_capture_on_commit_callbacks):
    _, child, [carer] = family_with_child()
    consent_request = request_for(child, carer)
    mail.outbox.clear()
    url = reverse("consents:sign", args=[request_link_token(consent_request)])
    data = {
        **{f"purpose_{p}": "yes" for p in PURPOSES},
        "confirm_parental_responsibility": "on",
        "typed_name": "Maya Jones",
        "signature": png_data_url(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data, HTTP_USER_AGENT=PHONE).status_code == 302
    record = ConsentRecord.objects.get()
    [email] = mail.outbox
    assert email.to == [carer.email] and "attached" in email.body
    [(filename, content, mimetype)] = email.attachments
    assert (filename, mimetype) == (f"fig-consent-certificate-{record.pk}.pdf", "application/pdf")
    assert PHONE in _text(content)
    assert _verify(tmp_path, content)[0] == 0
    # The outbox kept which record, never the file.
    assert OutboxEmail.objects.get(to=[carer.email], subject__contains="is saved").attachments == [
        {"kind": "consent_certificate", "record": record.pk}
    ]


@pytest.mark.django_db
def test_a_certificate_that_cannot_be_built_leaves_the_email_for_the_next_sweep(django_capture_on_commit_callbacks):
    _, child, [carer] = family_with_child()
    consent_request = request_for(child, carer)
    deliver_outbox()  # the request's own email
    mail.outbox.clear()
    with (
        mock.patch("consents.certificate_pdf.seal_pdf", side_effect=RuntimeError("no key today")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sign(consent_request)
    row = OutboxEmail.objects.get(subject__contains="is saved")
    assert mail.outbox == [] and row.sent_at is None and "no key today" in row.last_error
    assert deliver_outbox() == 1  # the sweep, once it can
    assert deliver_outbox() == 0  # and never twice
    [email] = mail.outbox
    assert len(email.attachments) == 1


@pytest.mark.django_db
def test_an_attachment_of_no_known_kind_is_refused_when_queued():
    with pytest.raises(ValueError, match="No builder"):
        notify(
            to=["a@example.org"],
            subject="Hello",
            template="consents/email/confirmation.txt",
            context={},
            attachments=[{"kind": "anything", "record": 1}],
        )
    assert not OutboxEmail.objects.exists()


# --- downloading it ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["parent", "coordinator"])
def test_the_parent_and_the_familys_coordinator_download_it(client, record, who, request, tmp_path):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.get(reverse("consents:certificate_pdf", args=[record.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="fig-consent-certificate-{record.pk}.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert _verify(tmp_path, response.content)[0] == 0
    event = AuditEvent.objects.get(action="consent.certificate_downloaded")
    assert (event.actor, event.target_id) == (user, str(record.pk))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["another parent", "another coordinator", "photographer", "ceo", "stranger"])
def test_nobody_else_may_download_it(client, record, who, stranger):
    user = {
        "another parent": factories.parent_user(email="other-parent@example.org"),
        "another coordinator": factories.staff_user("coordinator", email="other-coordinator@example.org"),
        "photographer": factories.staff_user("photographer", email="photographer@example.org"),
        "ceo": factories.staff_user("ceo", email="ceo@example.org"),
        "stranger": stranger,
    }[who]
    if who == "another parent":  # a carer in another family
        _, child, [carer] = family_with_child()
        Carer.objects.filter(pk=carer.pk).update(email=user.email)
        give(child, carer)
    client.force_login(user)
    assert client.get(reverse("consents:certificate_pdf", args=[record.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="consent.certificate_downloaded").exists()


@pytest.mark.django_db
def test_anonymous_people_are_sent_to_sign_in(client, record):
    url = reverse("consents:certificate_pdf", args=[record.pk])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"{reverse('account_login')}?next={url}"
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_a_withdrawal_has_no_certificate(client, record, parent):
    withdrawal = withdraw(record.child, record.carer, PURPOSES)
    client.force_login(parent)
    assert client.get(reverse("consents:certificate_pdf", args=[withdrawal.pk])).status_code == 404


@pytest.mark.django_db
def test_the_parents_page_offers_their_signed_copies(client, record, parent):
    client.force_login(parent)
    body = client.get(reverse("consents:my_child", args=[record.child_id])).content.decode()
    assert "Your signed copies" in body
    assert f'href="{reverse("consents:certificate_pdf", args=[record.pk])}"' in body
    assert "Download your signed copy of" in body


@pytest.mark.django_db
def test_the_coordinators_certificate_page_links_the_pdf_for_the_familys_coordinators_only(client, record, coordinator):
    url = reverse("consents:certificate", args=[record.pk])
    pdf = reverse("consents:certificate_pdf", args=[record.pk])
    client.force_login(coordinator)
    assert pdf in client.get(url).content.decode()
    client.force_login(factories.staff_user("ceo", email="ceo@example.org"))
    page = client.get(url)
    assert page.status_code == 200 and pdf not in page.content.decode()
