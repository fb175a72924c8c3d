"""The screen-size preview a photographer sees of their own upload while fixing its tags: a smaller copy
made from the vault's image when it is asked for, so that they never receive the full-size original."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

# Long enough to tell children apart on a laptop screen; the photo page shows it at most 75% of the screen's
# height anyway. Never more than this, so never the full-size original of a photo from a phone's camera.
PREVIEW_SIZE = 1280
PREVIEW_QUALITY = 82


class PreviewError(Exception):
    """The vault's image could not be read to make a preview."""


def screen_preview(data: bytes, *, longest: int = PREVIEW_SIZE) -> bytes:
    """A JPEG of `data` (a vault image: upright, no metadata) whose longer side is at most `longest` pixels.

    An image already that small is returned re-encoded at the same size: there is nothing larger to hide.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            # draft() lets the JPEG decoder skip most of the pixels (a 1/2, 1/4 or 1/8 scale decode), so a
            # 12 MP photo costs a fraction of a full decode; the exact size comes from the resize below.
            image.draft("RGB", (longest, longest))
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PreviewError(str(exc)) from exc
    scale = min(longest / rgb.width, longest / rgb.height, 1.0)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    if size != rgb.size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    rgb.info = {}  # pixels only, as the vault keeps them
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=PREVIEW_QUALITY)
    return out.getvalue()
