"""How well photos.faces.find_faces finds faces, measured on real photographs that ship inside scikit-image.

    .venv/bin/python -m bench.faces_accuracy                 # the settings in photos/faces.py
    .venv/bin/python -m bench.faces_accuracy --fine 1        # with the full-size tiled pass
    .venv/bin/python -m bench.faces_accuracy --coarse 800 --threshold 0.5 --json

Not part of `make bench` (it takes a minute or more); photos/FACES.md has its results. Few face photos ship
inside packages, so most sets are made from them, and are labelled for what they are:

- originals: scikit-image's astronaut (Eileen Collins, 512 x 512) and cameraman (three-quarter view
  behind a camcorder).
- small: the astronaut's head, and the 100 faces of scikit-image's `lfw_subset` (25 x 25 grey crops of
  Labeled Faces in the Wild: 100 different adults of many ages and origins, cut tight on the face),
  scaled to a face width of 12 to 512 px and pasted into a 4000 x 3000 photo (a made landscape or
  scikit-image's rocket scaled up): each face alone (3+ face widths from the next), and the 100 LFW
  faces in rows two face widths apart (the detector scores small faces higher among other faces).
- rotated (in-plane), mirrored, turned (a perspective squeeze of the face, imitating a head turned away:
  NOT a real profile), hidden (a hand-coloured block over part of the face), darker/brighter, and a
  group of 8 astronaut heads: each in a 4000 x 3000 photo, the face 128 px wide and again 48 px wide.
- no people: scikit-image's coffee, chelsea (a cat), rocket, brick, grass, gravel, retina, Hubble deep
  field, coins, horse (silhouette), page, logo, colour wheel, moon, immunohistochemistry, clock, text,
  motorcycle, three made landscapes, and the 100 non-face patches of `lfw_subset` (some hold part of a
  face: an eye, a mouth), each at its own size and scaled up to 12 MP.

A face counts as found when a box overlaps it with intersection over union >= 0.3 (a box can count once);
any other box is a false positive. No photograph of a child ships in any package we could find, so
children's faces are not measured here.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

ROOT = Path(__file__).resolve().parent.parent
CANVAS = (4000, 3000)
ASTRONAUT_FACE = (178, 62, 92, 116)  # x, y, w, h of the face in skimage.data.astronaut()
CAMERAMAN_FACE = (195, 110, 60, 85)  # in skimage.data.camera()
HAND = (224, 172, 140)
SIZES = (12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 256, 512)


def _data():
    from skimage import data

    return data


def astronaut() -> Image.Image:
    return Image.fromarray(_data().astronaut())


def head(pad: float = 1.0) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The astronaut's head with `pad` x the face's size around it, and the face's box in that crop."""
    x, y, w, h = ASTRONAUT_FACE
    px, py = int(w * pad), int(h * pad)
    box = (max(0, x - px), max(0, y - py), min(512, x + w + px), min(512, y + h + py))
    return astronaut().crop(box), (x - box[0], y - box[1], w, h)


def lfw(faces: bool = True) -> list[Image.Image]:
    arr = _data().lfw_subset()
    part = arr[:100] if faces else arr[100:]
    return [Image.fromarray((a * 255).astype("uint8")).convert("RGB") for a in part]


def landscape(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A made landscape: sky graded to the horizon, green hills, a little grain. Pillow only."""
    width, height = size
    small = (max(8, width // 8), max(8, height // 8))
    sky = Image.linear_gradient("L").resize(small)
    image = Image.merge("RGB", [sky.point(lambda v: 120 + v * 80 // 255), sky.point(lambda v: 160 + v * 60 // 255),
                                sky.point(lambda v: 230 - v * 20 // 255)])  # fmt: skip
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    a, b = rng.uniform(5, 9), rng.uniform(15, 25)
    points = [(x, small[1] * (0.45 + 0.08 * math.sin(x / small[0] * a + seed) + 0.05 * math.sin(x / small[0] * b)))
              for x in range(small[0] + 1)]  # fmt: skip
    draw.polygon([*points, (small[0], small[1]), (0, small[1])], fill=(70, 135, 55))
    image = image.resize(size, Image.Resampling.BICUBIC)
    grain = Image.effect_noise(size, 6).convert("RGB")
    return Image.blend(image, grain, 0.04)


def background(kind: str, seed: int = 0) -> Image.Image:
    if kind == "landscape":
        return landscape(CANVAS, seed)
    return Image.fromarray(getattr(_data(), kind)()).convert("RGB").resize(CANVAS, Image.Resampling.BICUBIC)


def paste(canvas: Image.Image, crop: Image.Image, face: tuple, width: float, at: tuple[int, int]) -> tuple:
    """`crop` scaled so that its face is `width` px wide, pasted with the face's top-left at `at`: the face's box."""
    scale = width / face[2]
    scaled = crop.resize(
        (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.LANCZOS
    )
    canvas.paste(scaled, (at[0] - round(face[0] * scale), at[1] - round(face[1] * scale)))
    return (at[0], at[1], face[2] * scale, face[3] * scale)


def small_faces(width: int, seed: int = 0, *, kind: str = "astronaut") -> tuple[Image.Image, list[tuple]]:
    """Faces `width` px wide spread over a 12 MP photo, each alone (3+ face widths apart): six astronaut
    heads (every other one mirrored), or ten LFW faces (tight grey crops: no hair, ears or neck)."""
    canvas = background("landscape" if seed % 2 == 0 else "rocket", seed)
    crop, face = head(1.0)
    mirrored = ImageOps.mirror(crop), (crop.width - face[0] - face[2], face[1], face[2], face[3])
    faces: list[tuple] = []
    cell = max(round(width * 3.2), 200)  # a head crop is 3 faces wide: no paste covers another face
    cols, rows = CANVAS[0] // cell, CANVAS[1] // cell
    slots = [(c, r) for r in range(rows) for c in range(cols)]
    random.Random(seed * 1000 + width).shuffle(slots)
    if kind == "astronaut":
        for i, (c, r) in enumerate(slots[:6]):
            source, box = (crop, face) if i % 2 == 0 else mirrored
            faces.append(paste(canvas, source, box, width, (c * cell + cell // 3, r * cell + cell // 3)))
    else:
        for i, (c, r) in enumerate(slots[:10]):
            at = (c * cell + cell // 3, r * cell + cell // 3)
            canvas.paste(lfw()[seed * 10 + i].resize((width, width), Image.Resampling.LANCZOS), at)
            faces.append(_lfw_box(at, width))
    return canvas, faces


def _lfw_box(at: tuple[int, int], width: float) -> tuple:
    """LFW crops are cut tight on the face; a detector's box is a little narrower than the crop."""
    return (at[0] + width * 0.1, at[1] + width * 0.05, width * 0.8, width * 0.95)


def lfw_rows(width: int) -> tuple[Image.Image, list[tuple]]:
    """The 100 LFW faces in rows, two face widths apart (a crowd, or a class in rows), in a 12 MP photo."""
    canvas = background("landscape", 7)
    faces = []
    step = width * 2
    left0, top0 = (CANVAS[0] - step * 10) // 2, (CANVAS[1] - step * 10) // 2
    for i, face in enumerate(lfw()):
        at = (left0 + (i % 10) * step, top0 + (i // 10) * step)
        canvas.paste(face.resize((width, width), Image.Resampling.LANCZOS), at)
        faces.append(_lfw_box(at, width))
    return canvas, faces


def _one_head(face_width: float, transform, seed: int) -> tuple[Image.Image, list[tuple]]:
    """One astronaut head, changed by `transform(crop, face) -> (image, face box)`, in the middle of a 12 MP photo."""
    crop, face = head(1.2)
    scale = face_width / face[2]
    crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS)
    face = tuple(v * scale for v in face)
    image, box = transform(crop, face)
    canvas = background("landscape", seed)
    left = CANVAS[0] // 2 - round(box[0] + box[2] / 2)
    top = CANVAS[1] // 2 - round(box[1] + box[3] / 2)
    canvas.paste(image, (left, top))
    return canvas, [(box[0] + left, box[1] + top, box[2], box[3])]


def rotated(degrees: float):
    def transform(crop, face):
        cx, cy = face[0] + face[2] / 2, face[1] + face[3] / 2
        out = crop.rotate(degrees, resample=Image.Resampling.BICUBIC, center=(cx, cy), fillcolor=(200, 200, 200))
        # The face's box turned with it: its upright hull, shrunk back to the face's own size.
        a = math.radians(degrees)
        hull_w = abs(face[2] * math.cos(a)) + abs(face[3] * math.sin(a))
        hull_h = abs(face[2] * math.sin(a)) + abs(face[3] * math.cos(a))
        k = max(face[2], face[3]) / max(hull_w, hull_h)
        return out, (cx - hull_w * k / 2, cy - hull_h * k / 2, hull_w * k, hull_h * k)

    return transform


def turned(squeeze: float, flip: bool = False):
    """The head squeezed across, its far side more than its near side: an imitation of a head turned away."""

    def transform(crop, face):
        width, height = crop.size
        new_w = round(width * (1 - 0.5 * squeeze))
        shrink = height * squeeze * 0.25
        out = crop.transform((new_w, height), Image.Transform.QUAD, (0, 0, 0, height, width, height, width, 0),
                             Image.Resampling.BICUBIC)  # fmt: skip
        out = out.transform((new_w, height), Image.Transform.QUAD,
                            (0, 0, 0, height, new_w, height + shrink, new_w, -shrink),
                            Image.Resampling.BICUBIC, fillcolor=(200, 200, 200))  # fmt: skip
        k = new_w / width
        box = (face[0] * k, face[1], face[2] * k, face[3])
        if flip:
            out = ImageOps.mirror(out)
            box = (new_w - box[0] - box[2], box[1], box[2], box[3])
        return out, box

    return transform


HIDDEN = {
    "lower third (mouth, chin)": (-0.1, 0.67, 1.1, 1.1),
    "lower half (nose down)": (-0.1, 0.5, 1.1, 1.1),
    "eyes (a band like sunglasses)": (-0.05, 0.3, 1.05, 0.5),
    "upper half (forehead, eyes)": (-0.1, -0.1, 1.1, 0.5),
    "left half": (-0.1, -0.1, 0.5, 1.1),
}


def hidden(part: str):
    def transform(crop, face):
        x, y, w, h = face
        a, b, c, d = HIDDEN[part]
        out = crop.copy()
        ImageDraw.Draw(out).rectangle((x + a * w, y + b * h, x + c * w, y + d * h), fill=HAND)
        return out, face

    return transform


def exposure(factor: float):
    def transform(crop, face):
        return ImageEnhance.Brightness(crop).enhance(factor), face

    return transform


def group_of_eight(face_width: int) -> tuple[Image.Image, list[tuple]]:
    crop, face = head(0.6)
    mirrored = ImageOps.mirror(crop), (crop.width - face[0] - face[2], face[1], face[2], face[3])
    canvas = background("landscape", 4)
    faces = []
    step = face_width * 2.2
    left0, top0 = CANVAS[0] / 2 - step * 2, CANVAS[1] / 2 - step
    for i in range(8):
        source, box = (crop, face) if i % 2 == 0 else mirrored
        at = (round(left0 + (i % 4) * step), round(top0 + (i // 4) * step))
        faces.append(paste(canvas, source, box, face_width, at))
    return canvas, faces


def face_sets() -> dict[str, list]:
    """name -> list of zero-argument functions, each making (image, face boxes)."""
    data = _data()
    sets: dict[str, list] = {
        "originals (astronaut, cameraman)": [
            lambda: (astronaut(), [ASTRONAUT_FACE]),
            lambda: (Image.fromarray(data.camera()).convert("RGB"), [CAMERAMAN_FACE]),
        ]
    }
    for width in SIZES:
        sets[f"astronaut head {width} px wide, alone"] = [lambda w=width, s=s: small_faces(w, s) for s in range(2)]
    for width in SIZES[:8]:
        sets[f"LFW face {width} px wide, alone"] = [
            lambda w=width, s=s: small_faces(w, s, kind="lfw") for s in range(2)
        ]
    for width in (16, 24, 32, 48, 64, 96):
        sets[f"LFW 100 faces {width} px wide, in rows"] = [lambda w=width: lfw_rows(w)]
    for face_width in (256, 128, 48):
        tag = f"({face_width} px)"
        for label, angles in (("±15°", (-15, 15)), ("±30°", (-30, 30)), ("±45°", (-45, 45)), ("±60°", (-60, 60)),
                              ("±90°, 180°", (-90, 90, 180))):  # fmt: skip
            sets[f"rotated {label} {tag}"] = [lambda a=a, fw=face_width: _one_head(fw, rotated(a), 1) for a in angles]
        sets[f"mirrored {tag}"] = [lambda fw=face_width: _one_head(fw, turned(0.0, True), 2)]
        for q in (0.3, 0.5, 0.7, 0.85):
            sets[f"turned, squeeze {q}, both ways {tag}"] = [
                lambda q=q, f=f, fw=face_width: _one_head(fw, turned(q, f), 3) for f in (False, True)
            ]
        for part in HIDDEN:
            sets[f"hidden: {part} {tag}"] = [lambda p=part, fw=face_width: _one_head(fw, hidden(p), 5)]
        for factor in (0.15, 0.25, 0.4, 0.6, 1.5, 2.0, 2.5):
            word = "darker" if factor < 1 else "brighter"
            sets[f"{word} x{factor} {tag}"] = [lambda f=factor, fw=face_width: _one_head(fw, exposure(f), 6)]
        sets[f"group of 8 {tag}"] = [lambda fw=face_width: group_of_eight(fw)]
    return sets


NO_PEOPLE = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "retina", "hubble_deep_field", "coins",
             "horse", "page", "logo", "colorwheel", "moon", "immunohistochemistry", "clock", "text")  # fmt: skip


def no_people() -> dict[str, Image.Image]:
    data = _data()
    out = {}
    for name in NO_PEOPLE:
        a = getattr(data, name)()
        if a.dtype == bool:
            a = a.astype("uint8") * 255
        out[name] = Image.fromarray(a).convert("RGB")
    out["motorcycle"] = Image.fromarray(data.stereo_motorcycle()[0]).convert("RGB")
    for seed in range(3):
        out[f"made landscape {seed}"] = landscape((1024, 768), seed)
    grid = Image.new("RGB", (568, 568), (128, 128, 128))
    for i, patch in enumerate(lfw(faces=False)):
        grid.paste(patch.resize((48, 48), Image.Resampling.LANCZOS), (8 + (i % 10) * 56, 8 + (i // 10) * 56))
    out["LFW non-face patches (100)"] = grid
    return out


def _iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union > 0 else 0.0


def score(found: list, faces: list[tuple], threshold: float = 0.3) -> tuple[int, int]:
    """(faces found, false positives)."""
    boxes = [(f.x, f.y, f.w, f.h) for f in found]
    used: set[int] = set()
    for face in faces:
        best = max(((_iou(b, face), i) for i, b in enumerate(boxes) if i not in used), default=(0.0, -1))
        if best[0] >= threshold:
            used.add(best[1])
    return len(used), len(boxes) - len(used)


def evaluate(*, quick: bool = False) -> dict:
    from photos.faces import find_faces

    result: dict = {"faces": {}, "no_people": {}, "seconds": {}}
    sets = face_sets()
    for name, makers in sets.items():
        if quick and "(48 px)" in name:
            continue
        found = total = false = 0
        for make in makers:
            image, faces = make()
            start = time.perf_counter()
            boxes = find_faces(image)
            result["seconds"].setdefault(f"{image.width}x{image.height}", []).append(time.perf_counter() - start)
            hit, extra = score(boxes, faces)
            found, total, false = found + hit, total + len(faces), false + extra
        result["faces"][name] = [found, total, false]
    for name, image in no_people().items():
        big = image.resize((4000, round(4000 * image.height / image.width)), Image.Resampling.BICUBIC)
        result["no_people"][name] = [len(find_faces(image)), len(find_faces(big))]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coarse", type=int, help="COARSE_LONG_SIDE")
    parser.add_argument("--fine", type=int, help="FINE_REDUCE (0 = off)")
    parser.add_argument("--threshold", type=float, help="SCORE_THRESHOLD")
    parser.add_argument("--tile", type=int, help="TILE")
    parser.add_argument("--overlap", type=int, help="TILE_OVERLAP")
    parser.add_argument("--quick", action="store_true", help="skip the 48 px variants")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the tables")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from photos import faces

    if args.coarse:
        faces.COARSE_LONG_SIDE = args.coarse
    if args.fine is not None:
        faces.FINE_REDUCE = args.fine or None
    if args.threshold is not None:
        faces.SCORE_THRESHOLD = args.threshold
    if args.tile:
        faces.TILE = args.tile
    if args.overlap:
        faces.TILE_OVERLAP = args.overlap
    names = ("SCORE_THRESHOLD", "COARSE_LONG_SIDE", "FINE_REDUCE", "TILE", "TILE_OVERLAP")
    settings = {k: getattr(faces, k) for k in names}
    result = evaluate(quick=args.quick)
    result["settings"] = settings
    seconds = {size: round(sorted(t)[len(t) // 2], 3) for size, t in result.pop("seconds").items()}
    result["median_seconds"] = seconds
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"settings: {settings}; median find_faces seconds by image size: {seconds}")
    found = sum(v[0] for v in result["faces"].values())
    total = sum(v[1] for v in result["faces"].values())
    print(f"{'faces':55s} found/present  false positives")
    for name, (hit, count, false) in result["faces"].items():
        print(f"{name:55s} {hit:>5d}/{count:<5d}   {false}")
    print(f"{'all':55s} {found:>5d}/{total:<5d}")
    print(f"\n{'no people':55s} boxes at own size / at 4000 px wide")
    for name, (own, big) in result["no_people"].items():
        print(f"{name:55s} {own:>3d} / {big}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
