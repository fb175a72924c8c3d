"""Scanned paper consent forms are cleaned before they are kept (issue 17, point 2).

A JPEG or PNG is re-encoded from its pixels, a PDF is rewritten without its
metadata, scripts, actions and attached files, and what the vault keeps is what
is served (always as a download) and exported. A file that cannot be cleaned is
refused with a reason, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from io import StringIO
from pathlib import Path

import pikepdf
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from pikepdf import Array, Dictionary, Name, String
from PIL import ExifTags, Image

from consents.models import PURPOSES, Child, ConsentRecord, Family
from consents.scans import ScanRefused, scan_clean
from consents.services.form_versions import form_version_current
from consents.services.signing import consent_record_offline
from fig_safety.vault import vault_read, vault_save
from staff.models import AuditEvent
from tests.consents.factories import EVIDENCE, all_answers, family_with_child, request_for, sign
from tests.photos import images

pytestmark = pytest.mark.django_db

PAGE_TEXT = b"(Signed paper form) Tj"
# Whatever the scanner, phone or PDF tool put around the page, in any of the files below.
LEAKS = (
    b"FiG test camera",  # EXIF Make
    b"Ava Demo home visit",  # XMP
    b"Ava's home",  # JPEG comment, PNG text chunk
    b"app.alert",  # PDF JavaScript
    b"embedded secret",  # PDF attached file
    b"annotation secret",  # PDF file attachment annotation
    b"Sam Jones at Ava's house",  # PDF document info
    b"tracker.example",  # PDF link
)


# --- files as a coordinator might attach them --------------------------------------------


def jpeg_with_gps() -> bytes:
    """A phone photo of the paper form: EXIF with GPS, XMP, a comment, and turned on its side (orientation 6)."""
    return images.jpeg(64, 48, exif_gps=True, orientation=6, comment="Ava's home", xmp=True)


def png_with_text() -> bytes:
    """A PNG with text chunks (tEXt, iTXt XMP) and an eXIf chunk with GPS."""
    return images.png(64, 48, comment="Ava's home", exif_gps=True)


def hostile_pdf(*, user_password: str | None = None, owner_password: str | None = None) -> bytes:
    """One page with text and a photo (EXIF and GPS inside), and everything a PDF can carry besides: an
    /OpenAction script, document and page actions, an attached file, document info, XMP, a link that runs
    JavaScript, a link to a website and a file attachment annotation."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    page = pdf.pages[0]
    photo = pdf.make_stream(
        images.jpeg(64, 48, exif_gps=True, comment="Ava's home"),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=64,
        Height=48,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=Name.DCTDecode,
    )
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    page.Resources = Dictionary(Font=Dictionary(F1=font), XObject=Dictionary(Im1=photo))
    page.Contents = pdf.make_stream(b"q 64 0 0 48 10 10 cm /Im1 Do Q BT /F1 12 Tf 20 100 Td " + PAGE_TEXT + b" ET")
    pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=String("app.alert('opened')"))
    pdf.Root.AA = Dictionary(WC=Dictionary(S=Name.JavaScript, JS=String("app.alert('closing')")))
    page.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("app.alert('page shown')")))
    pdf.attachments["notes.txt"] = pikepdf.AttachedFileSpec(pdf, b"embedded secret notes", mime_type="text/plain")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:creator"] = ["Ava Demo home visit"]
    pdf.docinfo["/Author"] = "Sam Jones at Ava's house"
    script = Dictionary(S=Name.JavaScript, JS=String("app.alert('clicked')"))
    website = Dictionary(S=Name.URI, URI=String("https://tracker.example/ava"))
    spec = pikepdf.AttachedFileSpec(pdf, b"annotation secret", mime_type="text/plain").obj
    page.Annots = pdf.make_indirect(
        Array(
            [
                pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[0, 0, 90, 20], A=script)),
                Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[0, 20, 90, 40], A=website),
                Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=[0, 40, 20, 60], FS=spec),
            ]
        )
    )
    out = io.BytesIO()
    if user_password or owner_password:
        pdf.save(out, encryption=pikepdf.Encryption(owner=owner_password or "owner", user=user_password or ""))
    else:
        pdf.save(out)
    return out.getvalue()


def broken_pdf() -> bytes:
    return b"%PDF-1.7\n" + b"\x00\x13 this is not a PDF body " * 40


def pageless_pdf() -> bytes:
    out = io.BytesIO()
    pikepdf.new().save(out)
    return out.getvalue()


# --- reading what was kept ---------------------------------------------------------------------


def post_scan(client, coordinator, data: bytes, name: str, content_type: str):
    """A coordinator records a paper consent with `data` as its scan, through the form."""
    family, child, [mum] = family_with_child(coordinator)
    client.force_login(coordinator)
    form = {
        "carer": mum.pk,
        "method": "paper",
        "taken_by": "Sam Jones",
        "note": "",
        **{f"purpose_{p}": "yes" for p in PURPOSES},
        "scan": SimpleUploadedFile(name, data, content_type),
    }
    response = client.post(reverse("consents:record_offline", args=[family.reference, child.pk]), form)
    return response, family, child


def kept(record: ConsentRecord) -> bytes:
    return vault_read(name=record.scan_blob, key_id=record.scan_key_id)


def served(client, record: ConsentRecord):
    response = client.get(reverse("consents:record_file", args=[record.pk, "scan"]))
    assert response.status_code == 200
    return response


def exported(family: Family, record: ConsentRecord, out: Path) -> bytes:
    call_command("vault_export", "--family", family.reference, "--out", str(out), stdout=StringIO())
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = [r for r in manifest["consent_records"] if r["id"] == record.pk]
    return (out / entry["scan"]["path"]).read_bytes()


def scan_files() -> set[Path]:
    folder = Path(settings.FIG_VAULT_DIR) / "consent-scans"
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def png_chunks(data: bytes) -> list[bytes]:
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        chunks.append(kind)
        at += 12 + length
    return chunks


def pdf_bytes_everywhere(pdf: pikepdf.Pdf) -> bytes:
    """Every stream of the PDF decoded, and every object written out: where a leak would show."""
    parts = []
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            parts.append(obj.read_bytes() if obj.get("/Filter") != Name.DCTDecode else obj.read_raw_bytes())
        parts.append(obj.unparse(resolved=True))
    return b"".join(parts)


def assert_no_leaks(data: bytes) -> None:
    for leak in LEAKS:
        assert leak not in data, leak


def assert_clean_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    exif = image.getexif()
    assert not exif and not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert set(image.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density"}  # no exif, xmp, icc, comment
    assert [marker for marker, _ in image.applist] == ["APP0"]
    assert_no_leaks(data)
    return image


# --- images ------------------------------------------------------------------------------------


def test_it_keeps_a_jpeg_scan_without_its_exif_gps_or_comments_and_upright(client, coordinator, tmp_path):
    upload = jpeg_with_gps()
    original = Image.open(io.BytesIO(upload))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the control: the file did carry GPS

    response, family, _ = post_scan(client, coordinator, upload, "form.jpg", "image/jpeg")

    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    assert record.scan_content_type == "image/jpeg"
    data = kept(record)
    image = assert_clean_jpeg(data)
    assert image.size == (48, 64)  # turned upright by its EXIF orientation, which then went
    assert served(client, record).content == data
    assert exported(family, record, tmp_path / "sar") == data


def test_it_keeps_a_png_scan_without_its_text_chunks(client, coordinator, tmp_path):
    upload = png_with_text()
    assert {b"tEXt", b"iTXt", b"eXIf"} <= set(png_chunks(upload))  # the control

    response, family, _ = post_scan(client, coordinator, upload, "form.png", "image/png")

    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    data = kept(record)
    assert record.scan_content_type == "image/png"
    assert png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"]
    image = Image.open(io.BytesIO(data))
    assert image.size == (64, 48) and image.getpixel((0, 0)) == images.MARKER  # the same picture, losslessly
    assert_no_leaks(data)
    assert served(client, record).content == data
    assert exported(family, record, tmp_path / "sar") == data


# --- PDFs --------------------------------------------------------------------------------------


def test_it_keeps_a_pdf_scan_with_its_page_and_nothing_else(client, coordinator, tmp_path):
    upload = hostile_pdf()
    with pikepdf.open(io.BytesIO(upload)) as before:  # the control: all of it is there to remove
        assert {"/OpenAction", "/AA", "/Metadata", "/Names"} <= set(before.Root.keys())
        assert "/Info" in before.trailer and before.attachments
        assert any(leak in pdf_bytes_everywhere(before) for leak in LEAKS)

    response, family, _ = post_scan(client, coordinator, upload, "form.pdf", "application/pdf")

    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    data = kept(record)
    assert record.scan_content_type == "application/pdf"
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/Info" not in pdf.trailer and not pdf.is_encrypted
        assert not {"/OpenAction", "/AA", "/Metadata", "/Names", "/AcroForm"} & set(pdf.Root.keys())
        assert not pdf.attachments
        [page] = pdf.pages
        assert "/AA" not in page.obj
        assert PAGE_TEXT in page.Contents.read_bytes()  # the page is what it was
        annotations = list(page.Annots)
        assert [str(a.Subtype) for a in annotations] == ["/Link", "/Link"]  # the file attachment went
        assert all("/A" not in a for a in annotations)  # the links do nothing any more
        photo = pikepdf.PdfImage(page.Resources.XObject.Im1).as_pil_image()
        assert photo.size == (64, 48) and not photo.getexif()  # the photo on the page is kept, its EXIF is not
        assert_no_leaks(pdf_bytes_everywhere(pdf))
    assert_no_leaks(data)
    assert served(client, record).content == data
    assert exported(family, record, tmp_path / "sar") == data


def test_a_pdf_locked_only_against_changes_is_kept_unlocked(client, coordinator):
    response, _, _ = post_scan(client, coordinator, hostile_pdf(owner_password="o"), "form.pdf", "application/pdf")
    assert response.status_code == 302
    with pikepdf.open(io.BytesIO(kept(ConsentRecord.objects.get()))) as pdf:
        assert not pdf.is_encrypted and len(pdf.pages) == 1 and "/OpenAction" not in pdf.Root


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "content_type", "message"),
    [
        (images.truncated_jpeg(), "form.jpg", "image/jpeg", "The file is damaged or incomplete, so it cannot be read"),
        (images.png(64, 48)[:60], "form.png", "image/png", "The file is damaged or incomplete, so it cannot be read"),
        (broken_pdf(), "form.pdf", "application/pdf", "The PDF is damaged, so it cannot be read."),
        (hostile_pdf(user_password="secret"), "form.pdf", "application/pdf", "The PDF is protected by a password"),
        (pageless_pdf(), "form.pdf", "application/pdf", "The PDF has no pages."),
        (images.bomb_png(), "form.png", "image/png", "too many pixels"),
    ],
    ids=["truncated jpeg", "truncated png", "broken pdf", "encrypted pdf", "pdf without pages", "bomb"],
)
def test_it_refuses_a_scan_it_cannot_clean_and_stores_nothing(client, coordinator, data, name, content_type, message):
    before = scan_files()
    response, _, _ = post_scan(client, coordinator, data, name, content_type)
    assert response.status_code == 200
    [error] = response.context["form"].errors["scan"]  # shown beside the file, for the coordinator to act on
    assert message in error
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not ConsentRecord.objects.exists()
    assert not AuditEvent.objects.filter(action="consent.recorded_offline").exists()
    assert scan_files() == before


# --- every way in, the evidence, and how it is served ------------------------------------------


def test_the_service_cleans_a_scan_however_it_is_called(coordinator):
    _, child, [mum] = family_with_child(coordinator)
    upload = jpeg_with_gps()
    record = consent_record_offline(
        child=child,
        carer=mum,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="Sam Jones",
        by=coordinator,
        scan=(upload, "image/jpeg"),
        evidence=EVIDENCE,
    )
    data = kept(record)
    assert_clean_jpeg(data)
    # What was attached and what was kept are both on the audit trail (the evidence hash covers both too).
    event = AuditEvent.objects.get(action="consent.recorded_offline", target_id=str(record.pk))
    assert event.details["scan_received_sha256"] == hashlib.sha256(upload).hexdigest()
    assert event.details["scan_sha256"] == hashlib.sha256(data).hexdigest()
    with pytest.raises(ScanRefused, match="damaged"):
        consent_record_offline(
            child=child,
            carer=mum,
            answers=all_answers(),
            method=ConsentRecord.Method.PAPER,
            taken_by="Sam Jones",
            by=coordinator,
            scan=(broken_pdf(), "application/pdf"),
            evidence=EVIDENCE,
        )
    assert ConsentRecord.objects.count() == 1


def test_a_scan_is_checked_against_the_type_it_was_given_as():
    with pytest.raises(ScanRefused, match="The file is a JPEG, not the application/pdf"):
        scan_clean(data=jpeg_with_gps(), content_type="application/pdf")
    with pytest.raises(ScanRefused, match="Attach a PDF, JPEG or PNG file."):
        scan_clean(data=images.other_format("GIF"), content_type="image/gif")


def test_a_cleaned_scan_is_the_same_when_cleaned_again():
    for data, content_type in ((hostile_pdf(), "application/pdf"), (png_with_text(), "image/png")):
        once = scan_clean(data=data, content_type=content_type)
        assert scan_clean(data=once.data, content_type=content_type).data == once.data


def test_the_scan_and_the_signature_are_always_downloads(client, coordinator):
    _, _, child = post_scan(client, coordinator, hostile_pdf(), "form.pdf", "application/pdf")
    record = ConsentRecord.objects.get()
    scan = served(client, record)
    assert scan["Content-Disposition"] == f'attachment; filename="consent-{record.pk}-scan.pdf"'
    assert scan["Content-Type"] == "application/pdf"
    assert scan["X-Content-Type-Options"] == "nosniff"
    assert scan["Cache-Control"] == "private, no-store"

    signed = sign(request_for(child, child.family.carers.get()))
    signature = client.get(reverse("consents:record_file", args=[signed.pk, "signature"]))
    assert signature["Content-Disposition"] == f'attachment; filename="consent-{signed.pk}-signature.png"'
    assert signature["X-Content-Type-Options"] == "nosniff"


# --- scans stored before they were cleaned -----------------------------------------------------


def stored_as_before(child: Child, data: bytes, content_type: str) -> ConsentRecord:
    """A paper consent as the app stored it before scans were cleaned: the file byte for byte."""
    blob = vault_save(data, folder="consent-scans")
    return ConsentRecord.objects.create(
        child=child,
        carer=child.family.carers.get(),
        kind=ConsentRecord.Kind.GIVEN,
        method=ConsentRecord.Method.PAPER,
        identified_by=ConsentRecord.IdentifiedBy.STAFF,
        form_version=form_version_current(),
        answers=all_answers(),
        confirmed_parental_responsibility=True,
        scan_blob=blob.name,
        scan_key_id=blob.key_id,
        scan_content_type=content_type,
        evidence_sha256="0" * 64,
    )


def clean_consent_scans() -> str:
    out = StringIO()
    call_command("clean_consent_scans", stdout=out)
    return out.getvalue().strip()


def test_the_command_cleans_the_scans_stored_before_once(coordinator):
    _, child, _ = family_with_child(coordinator)
    upload = jpeg_with_gps()
    old_jpeg = stored_as_before(child, upload, "image/jpeg")
    old_pdf = stored_as_before(child, hostile_pdf(), "application/pdf")
    post_upload = consent_record_offline(
        child=child,
        carer=child.family.carers.get(),
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="Sam Jones",
        by=coordinator,
        scan=(jpeg_with_gps(), "image/jpeg"),
        evidence=EVIDENCE,
    )
    cleaned_on_upload = kept(post_upload)
    assert kept(old_jpeg) == upload  # the control: kept byte for byte, GPS and all

    assert clean_consent_scans() == "Cleaned 2 scan(s); 1 already clean."

    assert_clean_jpeg(kept(old_jpeg))
    with pikepdf.open(io.BytesIO(kept(old_pdf))) as pdf:
        assert "/OpenAction" not in pdf.Root and not pdf.attachments and len(pdf.pages) == 1
        assert_no_leaks(pdf_bytes_everywhere(pdf))
    assert kept(post_upload) == cleaned_on_upload  # not re-encoded a second time
    event = AuditEvent.objects.get(action="consent.scan_cleaned", target_id=str(old_jpeg.pk))
    assert event.details["was_sha256"] == hashlib.sha256(upload).hexdigest()
    assert event.details["sha256"] == hashlib.sha256(kept(old_jpeg)).hexdigest()

    again = kept(old_jpeg)
    assert clean_consent_scans() == "Cleaned 0 scan(s); 3 already clean."
    assert kept(old_jpeg) == again
    assert AuditEvent.objects.filter(action="consent.scan_cleaned").count() == 2


def test_the_command_leaves_a_scan_it_cannot_clean_as_it_was_and_says_so(coordinator):
    _, child, _ = family_with_child(coordinator)
    broken = stored_as_before(child, broken_pdf(), "application/pdf")
    with pytest.raises(CommandError, match="1 scan\\(s\\) could not be cleaned"):
        clean_consent_scans()
    assert kept(broken) == broken_pdf()
    assert not AuditEvent.objects.filter(action="consent.scan_cleaned").exists()
