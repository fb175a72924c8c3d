"""A consent certificate as a sealed PDF: the carer's own copy of what they signed, and FiG's evidence.

It holds the exact form text shown (also attached inside the PDF as form-text.txt, byte for byte, so
its SHA-256 can be checked against the one printed), the answers, the drawn signature, the evidence
(hashes, time on London's clock, IP address, browser, how the carer was identified) and an audit page,
and is sealed by consents.certificate_seal so that any change is detectable.

Drawn with ReportLab rather than WeasyPrint from the HTML certificate: WeasyPrint needs the Pango
library from the operating system, and `make run` must work with nothing but Python and what pip
installs. The font is DejaVu Sans where opencv-python (installed for face blurring) ships it, for
names beyond Latin-1 (Łucja, Ștefan); otherwise ReportLab's own Vera.
"""

from __future__ import annotations

import importlib.util
import io
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from PIL import Image as PillowImage
from pyhanko.pdf_utils import embed
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consents.certificate_seal import SealPaths, seal_pdf
from consents.models import PURPOSES, ConsentRecord, Purpose
from consents.selectors import consent_valid_for
from fig_safety.times import LONDON
from fig_safety.vault import VaultError, vault_read
from staff.models import AuditEvent

TEXT_FILE = "form-text.txt"

_WHAT = {
    "consent.requested": "Consent form sent by email",
    "consent.request_cancelled": "Request cancelled",
    "consent.signed": "Form signed",
    "consent.recorded_offline": "Consent recorded by FiG staff",
    "consent.signature_viewed": "Drawn signature viewed",
    "consent.scan_viewed": "Scanned paper form viewed",
    "consent.certificate_downloaded": "Certificate (this PDF) downloaded",
}


def certificate_filename(record: ConsentRecord) -> str:
    return f"fig-consent-certificate-{record.pk}.pdf"


def certificate_record(record_id: int) -> ConsentRecord:
    """The record with everything the certificate shows loaded (one query)."""
    return ConsentRecord.objects.select_related("child__family", "carer", "form_version", "recorded_by", "request").get(
        pk=record_id, kind=ConsentRecord.Kind.GIVEN
    )


def certificate_pdf(record: ConsentRecord, *, now: datetime | None = None, seal: SealPaths | None = None) -> bytes:
    """The sealed certificate for a given consent (not a withdrawal: it has no form). Queries: the audit
    events; `record` needs child__family, carer, form_version, recorded_by and request loaded."""
    pdf = render_certificate(record, now=now)
    text = record.text_shown
    return seal_pdf(pdf, paths=seal, files=[_attach_text(text)] if text else [])


def email_attachment(spec: dict) -> tuple[str, bytes, str]:
    """For staff.notifications: the certificate an outbox email carries ({"kind": "consent_certificate",
    "record": id}), built when it is sent, so the outbox row holds the record's id, not personal data."""
    record = certificate_record(int(spec["record"]))
    return certificate_filename(record), certificate_pdf(record), "application/pdf"


# --- drawing ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    """The regular and bold font names, registered once per process."""
    found = importlib.util.find_spec("cv2")
    folder = Path(found.origin).parent / "qt" / "fonts" if found and found.origin else None
    if folder and (folder / "DejaVuSans.ttf").exists() and (folder / "DejaVuSans-Bold.ttf").exists():
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    else:
        reportlab = Path(importlib.util.find_spec("reportlab").origin).parent / "fonts"
        regular, bold = reportlab / "Vera.ttf", reportlab / "VeraBd.ttf"
    pdfmetrics.registerFont(TTFont("FigRegular", str(regular)))
    pdfmetrics.registerFont(TTFont("FigBold", str(bold)))
    return "FigRegular", "FigBold"


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=10, leading=13, spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=18, leading=22, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=body, fontName=bold, fontSize=13, leading=16, spaceBefore=10, spaceAfter=4),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444")),
        "label": ParagraphStyle("label", parent=body, fontName=bold, spaceAfter=0),
        "cell": ParagraphStyle("cell", parent=body, spaceAfter=0),
        "hash": ParagraphStyle("hash", parent=body, fontSize=8.5, leading=11, spaceAfter=0),
        "text": ParagraphStyle("text", parent=body, fontSize=9.5, leading=12.5, spaceAfter=0),
    }


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(escape(text), _styles()[style])


def _london(moment: datetime) -> str:
    """'3 June 2025, 14:30:05 (UK time, BST)'."""
    local = timezone.localtime(moment, LONDON)
    return f"{local.day} {local:%B %Y, %H:%M:%S} (UK time, {local:%Z})"


def _short(moment: datetime) -> str:
    """'3 Jun 2025, 14:30:05 BST', for the audit table."""
    local = timezone.localtime(moment, LONDON)
    return f"{local.day} {local:%b %Y, %H:%M:%S %Z}"


def _day(moment: datetime) -> str:
    local = timezone.localtime(moment, LONDON)
    return f"{local.day} {local:%B %Y}"


def _rows(pairs: list[tuple[str, str, str]]) -> Table:
    """A two-column table of label and value; the third item is the value's style."""
    table = Table(
        [[_p(label, "label"), _p(value or "—", style)] for label, value, style in pairs],
        colWidths=[4.2 * cm, 12.8 * cm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _what_this_is(record: ConsentRecord) -> str:
    if record.method == ConsentRecord.Method.PAPER:
        return "This is FiG's record of a photo consent form signed on paper (the scan is kept by FiG)"
    if record.method == ConsentRecord.Method.PHONE:
        return "This is FiG's record of a photo consent given by phone"
    return "This is a copy of the photo consent form as it was signed"


def _how(record: ConsentRecord) -> str:
    how = record.get_method_display()
    if record.taken_by:
        how += f"; taken by {record.taken_by}"
    if record.recorded_by:
        how += f"; recorded by {record.recorded_by}"
    return how


def _signature(record: ConsentRecord, produced: datetime) -> list:
    if not record.signature_blob:
        # consents.retention deletes signatures once their keeping time is over, and an erasure at once.
        kept_until = record.signed_at + consent_valid_for() + timedelta(days=settings.FIG_SIGNATURE_KEEP_DAYS)
        if record.child.family.erased_at or kept_until <= produced:
            return [_p("Any drawn signature has been deleted, as FiG does once its keeping time is over.")]
        if record.method == ConsentRecord.Method.ONLINE:
            return [_p("No drawn signature: the carer typed their name (above) and did not draw one.")]
        return [_p(f"No drawn signature: this consent was given {record.get_method_display().lower()}.")]
    try:
        png = vault_read(name=record.signature_blob, key_id=record.signature_key_id)
        with PillowImage.open(io.BytesIO(png)) as drawn:
            # Flattened on white: the drawing is ink on a transparent canvas.
            flat = PillowImage.new("RGB", drawn.size, "white")
            flat.paste(drawn.convert("RGBA"), mask=drawn.convert("RGBA").getchannel("A"))
    except (VaultError, OSError):
        return [_p("The drawn signature could not be opened from FiG's store.")]
    out = io.BytesIO()
    flat.save(out, format="PNG")
    width, height = flat.size
    scale = min(8 * cm / width, 3.5 * cm / height, 1.0 * cm / 28)  # never larger than about 28 px per cm
    image = Image(io.BytesIO(out.getvalue()), width=width * scale, height=height * scale, hAlign="LEFT")
    return [image, _p(f"Drawn by {record.carer.full_name} on the form.", "small")]


def _form_text(record: ConsentRecord) -> list:
    if not record.text_shown:
        erased = record.child.family.erased_at
        if erased:
            return [
                _p(
                    f"Erased on {_day(erased)}: only the evidence that consent existed is kept. The text's"
                    " SHA-256 above is the checksum of what was shown."
                )
            ]
        return [_p("Not kept.")]
    flowables: list = []
    for line in record.text_shown.splitlines():
        if not line.strip():
            flowables.append(Spacer(1, 6))
            continue
        indent = len(line) - len(line.lstrip(" "))
        # An indented line (each purpose's text) stays indented where it wraps.
        style = _styles()["text"]
        if indent:
            style = ParagraphStyle(f"text{indent}", parent=style, leftIndent=indent * style.fontSize / 2)
        flowables.append(Paragraph(escape(line.lstrip(" ")), style))
    return flowables


def _audit_rows(record: ConsentRecord) -> list[list]:
    """The record's audit events, and its request's, oldest first."""
    targets = Q(target_type="consents.consentrecord", target_id=str(record.pk))
    if record.request_id:
        targets |= Q(target_type="consents.consentrequest", target_id=str(record.request_id))
    rows = []
    for event in AuditEvent.objects.filter(targets).order_by("occurred_at", "id"):
        if event.actor_email:
            who = event.actor_email
        elif event.action == "consent.signed":
            who = f"{record.carer.full_name} (the carer)"
        else:
            who = "FiG Safety (automatic)"
        rows.append(
            [_p(_short(event.occurred_at), "cell"), _p(_WHAT.get(event.action, event.action), "cell"), _p(who, "cell")]
        )
    return rows


def _audit(record: ConsentRecord, produced: datetime) -> list:
    rows = _audit_rows(record)
    styles = _styles()
    header = [Paragraph("When", styles["label"]), Paragraph("What", styles["label"]), Paragraph("Who", styles["label"])]
    table = Table([header, *rows], colWidths=[4.8 * cm, 6.4 * cm, 5.8 * cm], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [
        PageBreak(),
        Paragraph("Audit trail", styles["title"]),
        _p(
            f"Everything FiG Safety's audit trail records about this consent record and the request it answers,"
            f" up to {_london(produced)}, when this certificate was produced."
        ),
        table if rows else _p("No events are recorded."),
    ]


def render_certificate(record: ConsentRecord, *, now: datetime | None = None) -> bytes:
    """The certificate as an unsealed PDF."""
    produced = now or timezone.now()
    styles = _styles()
    child, carer = record.child, record.carer
    answers = Table(
        [
            [_p(Purpose(p).label, "cell"), Paragraph("Yes" if record.answers[p] else "No", styles["label"])]
            for p in PURPOSES
            if p in (record.answers or {})
        ],
        colWidths=[14 * cm, 3 * cm],
        hAlign="LEFT",
    )
    answers.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    carer_line = f"{carer.full_name} ({carer.relationship})" if carer.relationship else carer.full_name
    if record.confirmed_parental_responsibility:
        carer_line += ", confirmed parental responsibility"
    story = [
        Paragraph("Photo consent certificate", styles["title"]),
        _p(
            f"FiG Safety, consent record #{record.pk}. {_what_this_is(record)}, with the evidence FiG keeps. It is"
            " sealed with FiG Safety's digital signature: any change to this file breaks the seal, and FiG can"
            " check a copy with its verify_certificate command."
        ),
        Paragraph("The consent", styles["h2"]),
        _rows(
            [
                ("Child", f"{child.first_name} {child.last_name}, family {child.family.reference}", "cell"),
                ("Carer", carer_line, "cell"),
                ("Form", f"Version {record.form_version.number}" if record.form_version else "", "cell"),
                ("Signed", _london(record.signed_at), "cell"),
                ("Typed name", record.typed_name, "cell"),
            ]
            + (
                [("Answers request", f"#{record.request_id}, sent {_day(record.request.created_at)}", "cell")]
                if record.request_id
                else []
            )
        ),
        Paragraph("The answers", styles["h2"]),
        answers,
        KeepTogether([Paragraph("Drawn signature", styles["h2"]), *_signature(record, produced)]),
        Paragraph("Evidence", styles["h2"]),
        _rows(
            [
                ("Signed at", f"{_london(record.signed_at)}; recorded as {record.signed_at.isoformat()}", "cell"),
                ("How", _how(record), "cell"),
                ("Identified by", record.get_identified_by_display(), "cell"),
                ("IP address", record.ip_address or "", "cell"),
                ("Browser", record.user_agent, "hash"),
                ("Text SHA-256", record.text_sha256, "hash"),
                ("Evidence SHA-256", record.evidence_sha256, "hash"),
            ]
        ),
        _p(
            f"The text's SHA-256 is the checksum of the exact text shown, attached to this PDF as {TEXT_FILE}."
            " The evidence SHA-256 is FiG's checksum over the facts above, the answers and the signature.",
            "small",
        ),
        PageBreak(),
        Paragraph("The text shown", styles["title"]),
        *_form_text(record),
        *_audit(record, produced),
    ]
    out = io.BytesIO()

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(_fonts()[0], 8)
        canvas.drawString(
            2 * cm, 1.2 * cm, f"FiG Safety photo consent certificate, record #{record.pk}. Page {doc.page}."
        )
        canvas.restoreState()

    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=f"Photo consent certificate #{record.pk}",
        author="FiG Safety",
        subject=f"Photo consent for {child.first_name} {child.last_name}",
        creator="FiG Safety",
        lang="en-GB",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _attach_text(text: str):
    def add(writer) -> None:
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string=TEXT_FILE,
                embedded_data=embed.EmbeddedFileObject.from_file_data(
                    writer, data=text.encode("utf-8"), mime_type="text/plain"
                ),
                description="The exact text shown to the carer (UTF-8)",
            ),
        )

    return add
