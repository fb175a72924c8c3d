"""Demo photos for `seed_demo`: a few drawn pictures of the DEMO-1 children, already in the vault."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from consents.models import Family
from photos.models import Photo
from photos.services import photo_process, photo_upload
from staff.models import User

SCENES = [((244, 162, 97), "Painting at group"), ((42, 157, 143), "Garden visit"), ((233, 196, 106), "Story time")]


def _picture(colour: tuple[int, int, int], index: int) -> bytes:
    image = Image.new("RGB", (960, 720), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((360 + index * 40, 200, 600 + index * 40, 440), fill=(255, 255, 255))
    draw.rectangle((0, 560, 960, 720), fill=(38, 70, 83))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def seed_photos(*, photographer: User) -> list[str]:
    family = Family.objects.filter(reference="DEMO-1").first()
    if family is None:
        return []
    if not Photo.objects.filter(family=family).exists():
        batch = photo_upload(
            family=family,
            children=list(family.children.all()),
            files=[_picture(colour, i) for i, (colour, _title) in enumerate(SCENES)],
            no_child_identifiable=False,
            by=photographer,
        )
        for photo in batch.photos.all():
            photo_process(photo_id=photo.pk)  # at once, so the demo does not wait for the worker
    count = Photo.objects.filter(family=family, status=Photo.Status.READY).count()
    return [f"Vault: {count} demo photos of family DEMO-1"]
