"""Quick ways to put photos in the vault for tests: through the real services, or as bulk rows.

Stable API (other test modules import it):

- `consented_child(family=None, coordinator=None, **answers)` -> (family, child, carer): a child whose carer
  said yes to everything (unless overridden), so it can be tagged
- `ready_photo(family, children, uploaded_by, at=None, data=None)` -> Photo: uploaded and processed through
  the services (the same code the web upload and the Celery task run); `at` backdates it
- `bulk_photos(family, children, uploaded_by, count, at=None)` -> [Photo]: READY rows with fake blob names and
  their tags, in a handful of queries (for query-count tests; their bytes cannot be served)
- `unique_jpeg()` -> bytes: a small JPEG different from every other one this run makes
- `vault_files()` -> set of file paths in the local vault folder

"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from PIL import Image

from consents.models import Carer, Child, Family
from photos.models import Photo, PhotoTag, UploadBatch
from photos.services import photo_process, photo_upload
from staff.models import User
from tests.consents.factories import ChildFactory, all_answers, family_with_child, give

_counter = itertools.count(1)


def unique_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A small JPEG whose pixels (and so SHA-256) differ from every other one made in this run."""
    n = next(_counter)
    image = Image.new("RGB", (width, height), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
    # A few pixels spell out n, so two photos never share their bytes even when colours repeat.
    for i, bit in enumerate(f"{n:032b}"):
        image.putpixel((i % width, i // width), (255, 255, 255) if bit == "1" else (0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


def consented_child(
    family: Family | None = None, coordinator: User | None = None, at: datetime | None = None, **answers: bool
) -> tuple[Family, Child, Carer]:
    """A child whose carer (with parental responsibility) consented to everything, unless told otherwise,
    now or `at` (a photo taken before then is refused)."""
    if family is None:
        family, child, [carer] = family_with_child(coordinator)
    else:
        child = ChildFactory(family=family)
        carer = family.carers.filter(has_parental_responsibility=True).first()
        assert carer is not None, "the family needs a carer with parental responsibility"
    give(child, carer, all_answers(**answers), at=at)
    return family, child, carer


def ready_photo(
    family: Family, children: Iterable[Child], uploaded_by: User, at: datetime | None = None, data: bytes | None = None
) -> Photo:
    """One photo uploaded and processed through the services; READY, with its blobs in the vault."""
    children = list(children)
    batch = photo_upload(
        family=family,
        children=children,
        files=[data or unique_jpeg()],
        no_child_identifiable=not children,
        by=uploaded_by,
    )
    photo = photo_process(photo_id=batch.photos.get().pk)
    assert photo.status == Photo.Status.READY, photo.refusal_reason
    if at is not None:
        Photo.objects.filter(pk=photo.pk).update(
            uploaded_at=at, device_deletion_due_at=at + timedelta(hours=settings.FIG_DEVICE_REMINDER_HOURS)
        )
        UploadBatch.objects.filter(pk=batch.pk).update(created_at=at)
        photo.refresh_from_db()
    return photo


def bulk_photos(
    family: Family, children: Iterable[Child], uploaded_by: User, count: int, at: datetime | None = None
) -> list[Photo]:
    """`count` READY photos with their tags, made in bulk. Their blob names are made up: only the
    image view reads blobs, so these are for pages that list photos."""
    children = list(children)
    at = at or timezone.now()
    batch = UploadBatch.objects.create(family=family, uploaded_by=uploaded_by, created_at=at)
    photos = Photo.objects.bulk_create(
        [
            Photo(
                family=family,
                batch=batch,
                uploaded_by=uploaded_by,
                uploaded_at=at - timedelta(seconds=i),
                status=Photo.Status.READY,
                no_child_identifiable=not children,
                upload_sha256=uuid.uuid4().hex * 2,
                upload_size=1000,
                width=64,
                height=48,
                device_deleted_at=at,
                device_deletion_due_at=at - timedelta(seconds=i) + timedelta(hours=settings.FIG_DEVICE_REMINDER_HOURS),
                original_blob=f"photos/ff/{uuid.uuid4().hex}.bin",
                original_key_id="t1",
                thumbnail_blob=f"thumbnails/ff/{uuid.uuid4().hex}.bin",
                thumbnail_key_id="t1",
                faces_checked_at=at,  # checked, and no face found: as an untagged photo must be to be used
            )
            for i in range(count)
        ]
    )
    PhotoTag.objects.bulk_create([PhotoTag(photo=p, child=c, tagged_by=uploaded_by) for p in photos for c in children])
    return photos


def vault_files() -> set[str]:
    return {str(p) for p in settings.FIG_VAULT_DIR.rglob("*") if p.is_file()}
