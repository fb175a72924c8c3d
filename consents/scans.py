"""Clean a scanned paper consent form before it is sealed into the vault.

A JPEG or PNG is re-encoded from its pixels by the photo pipeline (no EXIF, GPS,
XMP, ICC profile, comment or text chunk survives). A PDF is rewritten with
pikepdf, keeping its pages and dropping its metadata, scripts, actions,
embedded files and anything appended after it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import pikepdf
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from consents.errors import ConsentError
from photos.processing import PhotoRefused, encode_jpeg, sniff, upright_pixels

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
_KINDS = {"PDF": PDF, "JPEG": JPEG, "PNG": PNG}
_CONTAINERS = (pikepdf.Array, pikepdf.Dictionary, pikepdf.Stream)

# Annotations that play, run or carry something other than a mark on the page.
_ACTIVE_ANNOTATIONS = {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
# Keys that hold metadata, scripts, actions run on events, or embedded files, wherever they appear.
_DROPPED_KEYS = {
    "/AA",
    "/OpenAction",
    "/JS",
    "/JavaScript",
    "/EmbeddedFiles",
    "/EF",
    "/AF",
    "/Metadata",
    "/PieceInfo",
    "/XFA",
    "/URI",
    "/SpiderInfo",
    "/Collection",
    "/Perms",
}
# JPEG markers an image inside a PDF keeps: what decoding needs (APP0 JFIF, APP14 Adobe's colour
# transform) and the frame itself. APP1 (EXIF, XMP), the other APPn and comments go.
_JPEG_KEPT_APPS = {0xE0, 0xEE}


class ScanRefused(ConsentError):
    """The scan cannot be kept; the message says why, for the coordinator attaching it."""


@dataclass(frozen=True)
class CleanScan:
    data: bytes
    content_type: str
    received_sha256: str  # of the file as it was attached, for the evidence

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def scan_clean(*, data: bytes, content_type: str) -> CleanScan:
    """The scan as it is kept, of the type `content_type` says (the form sets it from the file's first
    bytes, and so does this). Raises ScanRefused with a reason a person can act on."""
    limit = settings.FIG_SCAN_MAX_BYTES
    if len(data) > limit:
        raise ScanRefused(f"The file is too large (the limit is {filesizeformat(limit)}).")
    if not data:
        raise ScanRefused("The file is empty.")
    kind = "PDF" if data.startswith(b"%PDF") else sniff(data)
    if kind not in _KINDS:
        raise ScanRefused("Attach a PDF, JPEG or PNG file.")
    if _KINDS[kind] != content_type:
        raise ScanRefused(f"The file is a {kind}, not the {content_type or 'file'} it was given as.")
    received = hashlib.sha256(data).hexdigest()
    if kind == "PDF":
        return CleanScan(_clean_pdf(data), PDF, received)
    try:
        pixels, _ = upright_pixels(data, kind=kind, what="scan")
    except PhotoRefused as exc:
        raise ScanRefused(str(exc)) from exc
    if kind == "JPEG":
        return CleanScan(encode_jpeg(pixels), JPEG, received)
    out = io.BytesIO()
    pixels.save(out, format="PNG")  # lossless, so the writing on the form stays as sharp as it was scanned
    return CleanScan(out.getvalue(), PNG, received)


def _clean_pdf(data: bytes) -> bytes:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if not len(pdf.pages):
                raise ScanRefused("The PDF has no pages.")
            _strip(pdf)
            out = io.BytesIO()
            # Only what is reachable from the trailer is written: what was cut off is gone, and so are
            # earlier revisions, unused objects and any bytes after the end of the file.
            pdf.save(
                out,
                encryption=False,
                preserve_pdfa=False,
                fix_metadata_version=False,
                deterministic_id=True,
            )
            return out.getvalue()
    except ScanRefused:
        raise
    except pikepdf.PasswordError as exc:
        raise ScanRefused(
            "The PDF is protected by a password, so it cannot be checked. Scan or save it again without one."
        ) from exc
    except Exception as exc:  # a hostile file can make a parser raise almost anything
        raise ScanRefused("The PDF is damaged, so it cannot be read. Scan or save it again.") from exc


def _strip(pdf: pikepdf.Pdf) -> None:
    """Walk everything reachable from the document and cut what is not the page content."""
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):  # named destinations stay; scripts, files and the rest go
        for key in list(names):
            if key != "/Dests":
                del names[key]
        if not len(names):
            del pdf.Root["/Names"]
    seen: set[tuple[int, int]] = set()
    stack: list[pikepdf.Object] = [pdf.Root]
    while stack:
        obj = stack.pop()
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Array):
            stack.extend(item for item in obj if isinstance(item, _CONTAINERS))
            continue
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        _strip_dictionary(obj)
        if isinstance(obj, pikepdf.Stream):
            _strip_embedded_jpeg(obj)
        for key in obj:
            value = obj[key]
            if isinstance(value, _CONTAINERS):
                stack.append(value)


def _strip_dictionary(obj: pikepdf.Dictionary | pikepdf.Stream) -> None:
    for key in list(obj):
        if key in _DROPPED_KEYS:
            del obj[key]
    action = obj.get("/A")
    # An action does something when clicked; only a jump to another page of the same document stays.
    # (A structure element's /A holds attributes, with no /S, and is left alone.)
    if isinstance(action, pikepdf.Dictionary) and "/S" in action:
        if str(action.S) != "/GoTo":
            del obj["/A"]
        elif "/Next" in action:
            del action["/Next"]
    annotations = obj.get("/Annots")
    if isinstance(annotations, pikepdf.Array):
        kept = [
            a
            for a in annotations
            if not (isinstance(a, pikepdf.Dictionary) and str(a.get("/Subtype", "")) in _ACTIVE_ANNOTATIONS)
        ]
        if len(kept) != len(annotations):
            obj["/Annots"] = pikepdf.Array(kept)


def _strip_embedded_jpeg(stream: pikepdf.Stream) -> None:
    """A photo placed in a PDF is a whole JPEG file, EXIF and GPS included: keep its picture only."""
    if stream.get("/Subtype") != pikepdf.Name.Image:
        return
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        if len(filters) != 1:
            return  # a JPEG wrapped in another filter: too rare to unpack; its pixels are still its own
        filters = filters[0]
    if filters != pikepdf.Name.DCTDecode:
        return
    raw = stream.read_raw_bytes()
    kept = _jpeg_without_metadata(raw)
    if kept != raw:
        stream.write(kept, filter=pikepdf.Name.DCTDecode, decode_parms=stream.get("/DecodeParms"))


def _jpeg_without_metadata(data: bytes) -> bytes:
    """The JPEG's segments up to its image data, less APP1-APP13, APP15 and comments; then the image
    data up to the end marker. Unchanged if it cannot be followed (the viewer will decide)."""
    if not data.startswith(b"\xff\xd8"):
        return data
    out = bytearray(b"\xff\xd8")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return data
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        segment = data[at : at + 2 + length]
        if len(segment) != 2 + length or length < 2:
            return data
        if marker == 0xDA:  # start of scan: the rest is image data, to the end marker
            end = data.rfind(b"\xff\xd9")
            return bytes(out) + data[at : end + 2] if end > at else data
        if not (0xE0 <= marker <= 0xEF and marker not in _JPEG_KEPT_APPS) and marker != 0xFE:
            out += segment
        at += 2 + length
    return data
