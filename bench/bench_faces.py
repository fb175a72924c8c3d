"""Face detection and blurring benchmark: photos.faces on the 12-megapixel benchmark photo, against bare Pillow.

The photo is bench_photos.make_photo_jpeg() (4000 x 3000 JPEG, orientation 6: 3000 x 4000 upright), decoded
and turned upright once, as processing hands it to find_faces. Measured in one run:

- faces_detection: find_faces on the upright photo (the settings in photos/faces.py), and blur_faces on the
  boxes it found, or on 8 face-sized boxes when it found none (the benchmark photo has no faces), blurred in
  place as processing does once the original is encoded, medians of N runs, interleaved with the floor:
  bench_photos.bare_pillow (Pillow's decode + JPEG encode of the same file). Target: detection plus blurring
  adds no more than 0.5x the floor.
- faces_check_again: the search processing makes of the blurred version, of the whole photo and (as
  processing does) only of the tiles that blurring changed, around the same boxes.
- faces_detection_coarse_only / faces_detection_full_size: find_faces with the second (tiled) pass off, and
  with it at full size, to show what each setting costs (photos/FACES.md has what each finds).
- faces_memory: peak memory of decode + upright + find_faces + blur_faces + JPEG encode in a fresh
  subprocess, as in bench_photos: growth of the resident-set high-water mark (VmHWM after clear_refs) over
  the RSS after imports and reading the file, with tracemalloc's peak alongside (it does not see Pillow's
  pixel buffers). Target: under 250 MB.

Targets are reported as met or missed; nothing here fails.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
RATIO_TARGET = 0.5
MEMORY_TARGET_MB = 250
STAND_IN_BOXES = 8  # a group photo's worth of faces, when the benchmark photo has none


def _setup() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import bench_photos

    bench_photos._setup_django()


def upright(data: bytes):
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")


def stand_in_boxes(width: int, height: int) -> list:
    """Eight face-sized boxes in two rows across the middle of the photo."""
    from photos.faces import FaceBox

    w, h = width // 16, height // 10
    return [
        FaceBox(x=width // 10 + (i % 4) * width // 5, y=height // 3 + (i // 4) * height // 4, w=w, h=h, score=1.0)
        for i in range(STAND_IN_BOXES)
    ]


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def _p95_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000, 1)


_CHILD = r"""
import io, json, os, resource, sys, tracemalloc
sys.path.insert(0, {root!r})
from bench import bench_faces as b
b._setup()
from PIL import Image, ImageOps
from photos import faces, processing
data = open({path!r}, "rb").read()
faces._load()  # the detector's library is loaded before the baseline, as imports are
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = status("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
found = 0
if {which!r} == "pipeline":
    image = b.upright(data)
    boxes = faces.find_faces(image)
    found = len(boxes)
    blurred = faces.blur_faces(image, boxes or b.stand_in_boxes(*image.size), in_place=True)
    out = io.BytesIO()
    blurred.save(out, format="JPEG", quality=processing.JPEG_QUALITY)
else:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=processing.JPEG_QUALITY)
_, traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
after = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"baseline_kb": before, "peak_kb": after, "tracemalloc_peak_bytes": traced, "found": found,
                  "source": "VmHWM after clear_refs" if reset else "ru_maxrss"}}))
"""


def _memory(path: str, which: str) -> dict:
    code = _CHILD.format(root=str(ROOT), path=path, which=which)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(ROOT), env=os.environ.copy()
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory subprocess failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def run() -> list[dict]:
    _setup()
    from bench.bench_photos import bare_pillow, make_photo_jpeg
    from photos import faces

    data = make_photo_jpeg()
    image = upright(data)
    boxes = faces.find_faces(image)  # warm-up: loads the detector
    blur_boxes = boxes or stand_in_boxes(*image.size)
    target = image.copy()  # blurred in place, run after run, as processing blurs its own decoded photo
    faces.blur_faces(target, blur_boxes, in_place=True)
    bare_pillow(data)

    floor, detect, blur = [], [], []
    for _ in range(RUNS):  # interleaved, so drift on a busy machine hits all alike
        floor.append(_timed(bare_pillow, data))
        detect.append(_timed(faces.find_faces, image))
        blur.append(_timed(lambda: faces.blur_faces(target, blur_boxes, in_place=True)))
    floor_ms, detect_ms, blur_ms = _median_ms(floor), _median_ms(detect), _median_ms(blur)
    ratio = round((detect_ms + blur_ms) / floor_ms, 2)
    settings = {k: getattr(faces, k) for k in ("SCORE_THRESHOLD", "COARSE_LONG_SIDE", "FINE_REDUCE")}
    rows = [
        {
            "benchmark": "faces_detection",
            "name": "find_faces + blur_faces",
            "median_ms": round(detect_ms + blur_ms, 1),
            "ratio": ratio,
            "n": RUNS,
            "detect_median_ms": detect_ms,
            "detect_p95_ms": _p95_ms(detect),
            "blur_median_ms": blur_ms,
            "blur_boxes": len(blur_boxes),
            "boxes_are": "found" if boxes else f"{STAND_IN_BOXES} stand-in boxes (no face in the benchmark photo)",
            "floor": "bench_photos.bare_pillow: Pillow decode + JPEG encode of the same file",
            "floor_median_ms": floor_ms,
            "input": f"{image.width}x{image.height} upright, from the 4000x3000 benchmark JPEG",
            "settings": settings,
            "target": f"detection + blurring <= {RATIO_TARGET}x bare Pillow",
            "met": ratio <= RATIO_TARGET,
        }
    ]

    saved = faces.FINE_REDUCE
    try:
        for name, fine, runs in (("faces_detection_coarse_only", None, RUNS), ("faces_detection_full_size", 1, 2)):
            faces.FINE_REDUCE = fine
            times = [_timed(faces.find_faces, image) for _ in range(runs)]
            rows.append(
                {
                    "benchmark": name,
                    "name": f"find_faces, FINE_REDUCE={fine}",
                    "median_ms": _median_ms(times),
                    "ratio": round(statistics.median(times) * 1000 / floor_ms, 2),
                    "n": runs,
                    "floor_median_ms": floor_ms,
                }
            )
    finally:
        faces.FINE_REDUCE = saved

    changed = [faces.grown(box, target.size) for box in blur_boxes]
    whole = [_timed(faces.find_faces, target) for _ in range(RUNS)]
    near = [_timed(lambda: faces.find_faces(target, only_near=changed)) for _ in range(RUNS)]
    rows.append(
        {
            "benchmark": "faces_check_again",
            "name": "find_faces on the blurred version: only the tiles blurring changed (whole photo alongside)",
            "median_ms": _median_ms(near),
            "whole_median_ms": _median_ms(whole),
            "n": RUNS,
            "boxes": len(blur_boxes),
        }
    )

    with tempfile.NamedTemporaryFile(suffix=".jpg", delete=False) as handle:
        handle.write(data)
        path = handle.name
    try:
        mem = _memory(path, "pipeline")
        bare = _memory(path, "bare")
    finally:
        os.unlink(path)
    peak = round((mem["peak_kb"] - mem["baseline_kb"]) / 1024, 1)
    rows.append(
        {
            "benchmark": "faces_memory",
            "name": "decode + upright + find_faces + blur_faces + encode",
            "method": f"resident-set high-water growth in a fresh subprocess ({mem['source']}; baseline after "
            "imports, loading the detector and reading the file); tracemalloc misses Pillow's pixel buffers",
            "peak_mb": peak,
            "process_peak_rss_mb": round(mem["peak_kb"] / 1024, 1),
            "tracemalloc_peak_mb": round(mem["tracemalloc_peak_bytes"] / 1e6, 1),
            "floor_peak_mb": round((bare["peak_kb"] - bare["baseline_kb"]) / 1024, 1),
            "target": f"under {MEMORY_TARGET_MB} MB",
            "met": peak < MEMORY_TARGET_MB,
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
