"""Photo processing benchmark: the whole upload pipeline against Pillow's bare decode + encode.

Measured in one run, on one made-in-memory 12-megapixel JPEG (4000 × 3000, EXIF with
GPS, orientation 6 and a capture date, textured noise so it compresses like a photo):

- photo_pipeline: `processing.process_upload` (content checks, EXIF orientation,
  re-encode, thumbnail) + `vault_save` of the original and the thumbnail (AES-GCM,
  written to a temporary local vault folder), median of N runs, as a ratio to the
  floor: `Image.open` + `load()` + JPEG `save` at the same quality, same image,
  same run, median of N runs. Target: within 1.5× the floor.
- photo_pipeline_memory: peak memory of one pipeline run, measured in a fresh
  subprocess as the growth of the resident-set high-water mark (Linux VmHWM, reset
  through /proc/self/clear_refs just before the run; it sees Pillow's C pixel
  buffers) over the RSS after imports and reading the file. ru_maxrss is the
  fallback elsewhere; it is not used on Linux because a child inherits its parent's
  maxrss across fork/exec. tracemalloc's peak (Python-level allocations only: it does NOT
  see Pillow's pixel buffers) is reported alongside for comparison. The same
  measurement for the bare Pillow floor is reported too. Target: under 250 MB.
- photo_bomb_refusal: a 20,000 × 20,000 PNG of a few kB through process_upload,
  median of ≥20 runs. Target: refused in under 50 ms.

Targets are reported as met or missed; nothing here fails.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 4000, 3000
PIPELINE_RUNS = 7
BOMB_RUNS = 30
PIPELINE_RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 250
BOMB_TARGET_S = 0.050


def _setup_django() -> None:
    """Django configured with bench.common's environment when it exists; otherwise a self-contained one.

    Photo processing needs no database, so only the environment is taken from
    bench.common (no database creation or migration here).
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.apps import apps

    if apps.ready:
        return
    try:
        from bench import common
    except ImportError:
        common = None
    if common is not None and hasattr(common, "configure_env"):
        common.configure_env()
    else:
        _fallback_env()
    django.setup()


def _fallback_env() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fig_safety.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + base64.urlsafe_b64encode(os.urandom(32)).decode())
    os.environ.setdefault("EMAIL_URL", "consolemail://")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("FIG_VAULT_KEYS", "bench:" + base64.urlsafe_b64encode(os.urandom(32)).decode())


# --- test images ---------------------------------------------------------------------------


def make_photo_jpeg(width: int = WIDTH, height: int = HEIGHT, *, seed: int = 12) -> bytes:
    """A photo-like JPEG: smooth colour (upscaled random blocks) plus fine grain, EXIF GPS + orientation 6."""
    from PIL import ExifTags, Image, ImageChops

    rng = random.Random(seed)
    coarse = Image.frombytes("RGB", (width // 16, height // 16), rng.randbytes((width // 16) * (height // 16) * 3))
    base = coarse.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((width, height), 10).convert("RGB")  # Gaussian grain around 128
    image = ImageChops.add(base, grain, scale=1.0, offset=-128)
    image.paste((255, 0, 0), (0, 0, 64, 64))  # a marker, as the test images have

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FiG bench camera"
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (51.0, 27.0, 3.0),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (2.0, 35.0, 1.0),
        }
    )
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:05:17 10:30:00"
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def make_bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A few-kB PNG that declares width × height 1-bit pixels (same construction as tests/photos/images.bomb_png)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = compressor.compress(row * 64) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


# --- what is timed -------------------------------------------------------------------------


def pipeline(data: bytes):
    """What the app does with one upload: process it, then seal and store both renditions."""
    from fig_safety.vault import vault_save
    from photos.processing import process_upload

    processed = process_upload(data)
    original = vault_save(processed.original, folder="bench-photos")
    thumbnail = vault_save(processed.thumbnail, folder="bench-thumbs")
    return processed, original, thumbnail


def bare_pillow(data: bytes) -> bytes:
    """The floor: Pillow decodes the same JPEG and encodes it again at the pipeline's quality."""
    from PIL import Image

    from photos.processing import JPEG_QUALITY

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _timed(fn, arg, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


# --- peak memory, in a fresh process -------------------------------------------------------

_CHILD = r"""
import json, os, resource, sys, time, tracemalloc
sys.path.insert(0, {root!r})
os.environ["FIG_VAULT_DIR"] = {vault!r}
from bench import bench_photos as b
b._setup_django()
b._use_vault_dir({vault!r})
from photos import processing  # noqa: F401  (imports done before the baseline)
from fig_safety import vault  # noqa: F401
import PIL.JpegImagePlugin  # noqa: F401
data = open({path!r}, "rb").read()
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None
try:  # reset the high-water mark to the current RSS (Linux: "5" to clear_refs)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = status("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
fn = b.pipeline if {which!r} == "pipeline" else b.bare_pillow
fn(data)
_, traced_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
after = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"baseline_kb": before, "peak_kb": after, "tracemalloc_peak_bytes": traced_peak,
                  "source": "VmHWM after clear_refs" if reset else "ru_maxrss"}}))
"""


def _memory_in_subprocess(path: str, vault_dir: str, which: str) -> dict:
    code = _CHILD.format(root=str(ROOT), vault=vault_dir, path=path, which=which)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(ROOT), env=os.environ.copy()
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory subprocess failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _use_vault_dir(folder: str) -> None:
    """Point the `vault` storage at a temporary local folder (and give it a key if none is configured)."""
    from django.conf import settings
    from django.core.files.storage import storages

    settings.STORAGES = {
        **settings.STORAGES,
        "vault": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": folder,
                "base_url": None,
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            },
        },
    }
    if not settings.FIG_VAULT_KEYS:
        settings.FIG_VAULT_KEYS = {"bench": os.urandom(32)}
    # Forget any storage built from the old settings.
    storages._backends = None
    storages._storages = {}
    storages.__dict__.pop("backends", None)


# --- the benchmark -------------------------------------------------------------------------


def run() -> list[dict]:
    _setup_django()
    from django.conf import settings

    from photos.processing import JPEG_QUALITY, PhotoRefused, process_upload

    results: list[dict] = []
    vault_dir = tempfile.mkdtemp(prefix="fig-bench-vault-")
    saved = (settings.STORAGES, settings.FIG_VAULT_KEYS)
    try:
        _use_vault_dir(vault_dir)
        data = make_photo_jpeg()
        processed, original, thumbnail = pipeline(data)  # warm-up, and a check that it really works
        assert (processed.width, processed.height) == (HEIGHT, WIDTH), "orientation 6 should turn it upright"
        assert Path(vault_dir, original.name).exists() and Path(vault_dir, thumbnail.name).exists()
        bare_pillow(data)

        # Interleave the two so drift on a noisy machine hits both alike.
        pipe_times: list[float] = []
        bare_times: list[float] = []
        for _ in range(PIPELINE_RUNS):
            bare_times += _timed(bare_pillow, data, 1)
            pipe_times += _timed(pipeline, data, 1)
        pipe_median = statistics.median(pipe_times)
        bare_median = statistics.median(bare_times)
        ratio = pipe_median / bare_median
        results.append(
            {
                "benchmark": "photo_pipeline",
                "runs": PIPELINE_RUNS,
                "median_s": round(pipe_median, 4),
                "p95_s": round(_p95(pipe_times), 4),
                "floor": f"Pillow bare decode + JPEG encode (same image, quality {JPEG_QUALITY}, no optimize)",
                "floor_median_s": round(bare_median, 4),
                "ratio": round(ratio, 2),
                "input": f"{WIDTH}x{HEIGHT} JPEG, {len(data) / 1e6:.1f} MB, EXIF GPS + orientation 6",
                "output_bytes": {"original": len(processed.original), "thumbnail": len(processed.thumbnail)},
                "target": f"within {PIPELINE_RATIO_TARGET}x bare Pillow",
                "met": ratio <= PIPELINE_RATIO_TARGET,
            }
        )

        # Peak memory, each in its own fresh process.
        with tempfile.NamedTemporaryFile(suffix=".jpg", delete=False) as handle:
            handle.write(data)
            photo_path = handle.name
        try:
            pipe_mem = _memory_in_subprocess(photo_path, vault_dir, "pipeline")
            bare_mem = _memory_in_subprocess(photo_path, vault_dir, "bare")
        finally:
            os.unlink(photo_path)
        delta_mb = (pipe_mem["peak_kb"] - pipe_mem["baseline_kb"]) / 1024
        results.append(
            {
                "benchmark": "photo_pipeline_memory",
                "method": f"resident-set high-water growth over one pipeline run in a fresh subprocess "
                f"({pipe_mem['source']}; baseline after imports and reading the file); tracemalloc peak "
                "shown too but it misses Pillow's C pixel buffers",
                "peak_mb": round(delta_mb, 1),
                "process_peak_rss_mb": round(pipe_mem["peak_kb"] / 1024, 1),
                "tracemalloc_peak_mb": round(pipe_mem["tracemalloc_peak_bytes"] / 1e6, 1),
                "floor_peak_mb": round((bare_mem["peak_kb"] - bare_mem["baseline_kb"]) / 1024, 1),
                "target": f"under {MEMORY_TARGET_MB} MB",
                "met": delta_mb < MEMORY_TARGET_MB,
            }
        )

        # The decompression bomb.
        bomb = make_bomb_png()
        refusal_times: list[float] = []
        for _ in range(BOMB_RUNS):
            start = time.perf_counter()
            try:
                process_upload(bomb)
            except PhotoRefused:
                refusal_times.append(time.perf_counter() - start)
            else:
                raise AssertionError("the decompression bomb was accepted")
        bomb_median = statistics.median(refusal_times)
        results.append(
            {
                "benchmark": "photo_bomb_refusal",
                "runs": BOMB_RUNS,
                "input": f"20000x20000 PNG, {len(bomb)} bytes",
                "median_s": round(bomb_median, 6),
                "p95_s": round(_p95(refusal_times), 6),
                "max_s": round(max(refusal_times), 6),
                "target": f"refused in under {int(BOMB_TARGET_S * 1000)} ms",
                "met": bomb_median < BOMB_TARGET_S,
            }
        )
    finally:
        settings.STORAGES, settings.FIG_VAULT_KEYS = saved
        from django.core.files.storage import storages

        storages._backends = None
        storages._storages = {}
        storages.__dict__.pop("backends", None)
        shutil.rmtree(vault_dir, ignore_errors=True)
    return results


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
