"""Test images made in memory: real photos in every accepted format, and the files the vault must refuse.

Stable API (other test modules import it):

- `jpeg(width=64, height=48, exif_gps=False, orientation=None, comment=None, *, taken_at=None, xmp=False,
  colour=GREY, marker=True, noise=False)` -> bytes
- `png(width=64, height=48, *, transparent=False, exif_gps=False, comment=None, colour=GREY, marker=True)`
- `webp(width=64, height=48, *, exif_gps=False, transparent=False, colour=GREY, marker=True)`
- `heic(width=64, height=48, *, colour=GREY, marker=True)` (pillow-heif)
- `picture(width, height, mode="RGB", colour=GREY, marker=True, noise=False)` -> a PIL image to save yourself
- `other_format("GIF" | "BMP" | "TIFF", ...)`: a real image in a format the vault does not take
- `bomb_png(20000, 20000, complete=False)`: tiny on disk, huge declared dimensions
- `truncated_jpeg()`, `with_trailer(data, payload)`, `HTML_PAYLOAD`, `zip_payload()`
- `svg()`, `pdf()`, `fits()`, `gd()`: other kinds of file, to be renamed `.jpg` by the test
- `upload(data, name="photo.jpg", content_type="image/jpeg")` -> SimpleUploadedFile for view tests
- `GPS`, `MARKER`, `MARKER_SIZE`, `GREY`, `TAKEN_AT`
- `astronaut()`, `group()`, `landscape()` -> JPEG bytes of real photographs shipped in scikit-image: a
  portrait with one face, three people side by side, and a coffee cup with nobody in it

Every image has a red square (`MARKER`) in its top-left corner as stored, so a
test can tell which way up it ended.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, PngImagePlugin

try:
    import pillow_heif
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    pillow_heif = None

GREY = (128, 128, 128)
MARKER = (255, 0, 0)
MARKER_SIZE = 16
TAKEN_AT = "2024:05:17 10:30:00"
# Somewhere in Bristol, in the rational degrees/minutes/seconds EXIF wants.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (51.0, 27.0, 3.0),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (2.0, 35.0, 1.0),
}
XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Ava Demo home visit</dc:creator>'
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
HTML_PAYLOAD = b"<html><body><script>alert('stored xss payload')</script></body></html>"


def picture(
    width: int, height: int, *, mode: str = "RGB", colour=GREY, marker: bool = True, noise: bool = False
) -> Image.Image:
    if noise:  # incompressible pixels, so a cut-off file is cut mid-scan
        rng = random.Random(width * 7919 + height)
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        if mode != "RGB":
            image = image.convert(mode)
    else:
        fill = colour if mode == "RGB" else (*colour, 255) if mode == "RGBA" else colour
        image = Image.new(mode, (width, height), fill)
    if marker:
        red = MARKER if mode == "RGB" else (*MARKER, 255)
        image.paste(red, (0, 0, min(MARKER_SIZE, width), min(MARKER_SIZE, height)))
    return image


def _exif(*, gps: bool = False, orientation: int | None = None, taken_at: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FiG test camera"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    if taken_at is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken_at
    return exif


def an_hour_ago() -> tuple[datetime, str]:
    """A moment an hour ago, to the second, and the same as a camera writes it (EXIF, on London's clock): a
    photo taken after a consent given in the test, which a photo taken before it would not be."""
    moment = datetime.now(ZoneInfo("Europe/London")).replace(microsecond=0) - timedelta(hours=1)
    return moment, moment.strftime("%Y:%m:%d %H:%M:%S")


def jpeg(
    width: int = 64,
    height: int = 48,
    exif_gps: bool = False,
    orientation: int | None = None,
    comment: bytes | str | None = None,
    *,
    taken_at: str | None = None,
    xmp: bool = False,
    colour=GREY,
    marker: bool = True,
    noise: bool = False,
    quality: int = 90,
) -> bytes:
    """A real JPEG, with whatever metadata the test asks for (EXIF with GPS, orientation, a comment, XMP)."""
    image = picture(width, height, colour=colour, marker=marker, noise=noise)
    params: dict = {"quality": quality}
    if exif_gps or orientation is not None or taken_at is not None:
        params["exif"] = _exif(gps=exif_gps, orientation=orientation, taken_at=taken_at).tobytes()
    if comment is not None:
        params["comment"] = comment.encode() if isinstance(comment, str) else comment
    if xmp:
        params["xmp"] = XMP_PACKET
    out = io.BytesIO()
    image.save(out, format="JPEG", **params)
    return out.getvalue()


def png(
    width: int = 64,
    height: int = 48,
    *,
    transparent: bool = False,
    exif_gps: bool = False,
    comment: str | None = None,
    colour=GREY,
    marker: bool = True,
) -> bytes:
    """A real PNG; `transparent` gives it an alpha channel with a see-through right half."""
    image = picture(width, height, mode="RGBA" if transparent else "RGB", colour=colour, marker=marker)
    if transparent:
        image.paste((0, 0, 0, 0), (width // 2, 0, width, height))
    params: dict = {}
    if comment is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", comment)
        info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())
        params["pnginfo"] = info
    if exif_gps:
        params["exif"] = _exif(gps=True).tobytes()
    out = io.BytesIO()
    image.save(out, format="PNG", **params)
    return out.getvalue()


def webp(
    width: int = 64,
    height: int = 48,
    *,
    exif_gps: bool = False,
    transparent: bool = False,
    colour=GREY,
    marker: bool = True,
) -> bytes:
    image = picture(width, height, mode="RGBA" if transparent else "RGB", colour=colour, marker=marker)
    params: dict = {"quality": 90}
    if exif_gps:
        params["exif"] = _exif(gps=True).tobytes()
        params["xmp"] = XMP_PACKET
    out = io.BytesIO()
    image.save(out, format="WEBP", **params)
    return out.getvalue()


def heic(width: int = 64, height: int = 48, *, colour=GREY, marker: bool = True) -> bytes:
    """A real HEIC, as an iPhone sends it (encoded by libheif through pillow-heif)."""
    if pillow_heif is None:  # pragma: no cover
        raise RuntimeError("pillow-heif is not installed")
    image = picture(width, height, colour=colour, marker=marker)
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=90)
    return out.getvalue()


def other_format(fmt: str, width: int = 64, height: int = 48) -> bytes:
    """A real image in a format the vault does not accept (GIF, BMP, TIFF, ...)."""
    out = io.BytesIO()
    picture(width, height).save(out, format=fmt)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(width: int = 20000, height: int = 20000, *, complete: bool = False) -> bytes:
    """A decompression bomb: a PNG of a few kB that declares `width` × `height` pixels.

    One-bit greyscale, all black. By default the image data holds only the first
    rows (a decoder still allocates the whole image before it finds out);
    `complete=True` compresses every row, a valid PNG of about 50 kB at 20,000².
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey, deflate, no filter, no interlace
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed pixels
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * min(height, 64 if not complete else height))]
    parts.append(compressor.flush() if complete else compressor.flush(zlib.Z_SYNC_FLUSH))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def truncated_jpeg(width: int = 256, height: int = 192) -> bytes:
    """A real JPEG cut off half-way through its image data (a failed transfer)."""
    whole = jpeg(width, height, noise=True)
    return whole[: len(whole) // 2]


def with_trailer(data: bytes, payload: bytes = HTML_PAYLOAD) -> bytes:
    """`data` with something appended after the image ends (a polyglot: HTML, a ZIP, ...)."""
    return data + payload


def zip_payload() -> bytes:
    """A ZIP archive, to append to a JPEG (the classic 'GIFAR'-style polyglot)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("secret/payload.txt", "zip payload hidden after the image " * 4)
    return out.getvalue()


def svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
        b'<rect width="64" height="48" fill="red"/><script>alert(1)</script></svg>\n'
    )


def pdf() -> bytes:
    """A real one-page PDF (written by Pillow)."""
    out = io.BytesIO()
    picture(64, 48).save(out, format="PDF")
    return out.getvalue()


def fits() -> bytes:
    """A real FITS astronomy image (Pillow can read these, so only the content check stops it)."""
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        "NAXIS1  =                   64",
        "NAXIS2  =                   48",
        "END",
    ]
    header = b"".join(card.ljust(80).encode("ascii") for card in cards)
    header = header.ljust(2880, b" ")
    data = bytes(range(64)) * 48
    return header + data.ljust(2880 * ((len(data) + 2879) // 2880), b"\x00")


def gd(width: int = 64, height: int = 48) -> bytes:
    """A real libgd 2.x palette image (.gd): signature, size, not true colour, 256 colours, no transparency."""
    header = struct.pack(">HHHBHi", 0xFFFF, width, height, 0, 256, -1)
    palette = b"".join(bytes((0, value, value, value)) for value in range(256))
    pixels = bytes((x + y) % 256 for y in range(height) for x in range(width))
    return header + palette + pixels


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    """A file as a browser would send it: the name and declared type are whatever the client says."""
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- real photographs, for the face detector -------------------------------------------------------------


def _photo_jpeg(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def astronaut() -> bytes:
    """A real portrait with one face: scikit-image's astronaut (Eileen Collins), 512 × 512."""
    from PIL import Image
    from skimage import data

    return _photo_jpeg(Image.fromarray(data.astronaut()))


def group() -> bytes:
    """Three people side by side (the astronaut, mirrored, and darker), like a FiG group session."""
    from PIL import Image
    from skimage import data

    one = Image.fromarray(data.astronaut())
    canvas = Image.new("RGB", (one.width * 3, one.height), "white")
    canvas.paste(one, (0, 0))
    canvas.paste(one.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (one.width, 0))
    canvas.paste(one.point(lambda v: int(v * 0.8)), (2 * one.width, 0))
    return _photo_jpeg(canvas)


def landscape() -> bytes:
    """A real photograph with nobody in it: scikit-image's coffee cup."""
    from PIL import Image
    from skimage import data

    return _photo_jpeg(Image.fromarray(data.coffee()))
