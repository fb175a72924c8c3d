"""Who may see which photo and upload. Outsiders get 404 — they learn nothing, not even that a photo exists."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from django.http import Http404
from django.shortcuts import get_object_or_404

from consents.selectors import children_of_parent, families_managed_by
from photos.models import Photo, PhotoTag, UploadBatch
from photos.parents import image_blob, parent_families, parent_may_see
from photos.selectors import in_families, photos_visible_to
from staff.access import staff_required
from staff.roles import Role, has_role


def vault_required(*roles: Role) -> Callable:
    """The gate on every vault URL: signed-in holders of one of `roles`. Anyone else signed in (a parent,
    staff without a vault role, a photographer on a coordinator's page) gets 404, as an outsider does for a
    photo (access_photo); anonymous people are sent to sign in."""
    return staff_required(*roles, not_found=True)


def access_photo(user, public_id, *, manage: bool = False, retag: bool = False) -> Photo:
    """The photo if this person may see it now (its family's coordinators, or its uploader for a day);
    with `manage`, only if they manage it too (can_manage_photo); with `retag`, only if they may fix its
    tags (can_retag). 404 otherwise, not 403: a photographer who sees the photo only as its uploader is
    not told there is more to it."""
    photo = photos_visible_to(user).select_related("family", "uploaded_by", "batch").filter(public_id=public_id).first()
    if photo is None:
        raise Http404
    if manage and not can_manage_photo(user, photo):
        raise Http404
    if retag and not can_retag(user, photo):
        raise Http404
    return photo


def can_manage_photo(user, photo: Photo) -> bool:
    """Coordinators of a family the photo belongs to manage it (access log, keep reasons, tags): for a
    group photo, the coordinators of every tagged child's family (photos.selectors.in_families)."""
    if not has_role(user, Role.COORDINATOR):
        return False
    return Photo.objects.filter(pk=photo.pk).filter(in_families(families_managed_by(user))).exists()


def access_photo_to_delete(user, public_id) -> Photo:
    """The photo if this person may delete it now: one they manage (can_manage_photo), not yet deleted or
    already deleted (a second press of the button is then told so, not sent a 404). 404 otherwise."""
    photo = (
        Photo.objects.select_related("family")
        .filter(public_id=public_id, status__in=[Photo.Status.PROCESSING, Photo.Status.READY, Photo.Status.DELETED])
        .first()
    )
    if photo is None or not can_manage_photo(user, photo):
        raise Http404
    return photo


# The image sizes the photo page asks for. An uploader who sees a photo only because they took it (the
# fix-tags window) gets the thumbnails as they are, the full-size images as a screen-size preview
# (photos.preview), and no download: the consent form says they "see (not download)" their own photos.
FULL_SIZES = frozenset({"full", "unidentifiable"})
DOWNLOADS = frozenset({"download", "unidentifiable-download"})


def sees_only_as_uploader(user, photo: Photo) -> bool:
    """True when this person sees the photo only because they uploaded it: not one of the coordinators who
    manage it. Call only with a photo from access_photo (visible to them): anyone who sees a photo they did
    not upload sees it as a coordinator of one of its families."""
    return photo.uploaded_by_id == user.pk and not can_manage_photo(user, photo)


def access_photo_image(user, public_id, size: str) -> tuple[Photo, bool]:
    """The photo whose `size` image this person asks for, and whether they get only a screen-size preview
    of it. A download by someone who sees the photo only as its uploader is 404, as in access_photo."""
    photo = access_photo(user, public_id)
    if not sees_only_as_uploader(user, photo):
        return photo, False
    if size in DOWNLOADS:
        raise Http404
    return photo, size in FULL_SIZES


def can_retag(user, photo: Photo) -> bool:
    # The uploader can only see the photo while the fix-tags window is open (photos_visible_to).
    return photo.uploaded_by_id == user.pk or can_manage_photo(user, photo)


def access_batch(user, public_id) -> UploadBatch:
    """One of this person's own uploads, with its family; 404 for anyone else's."""
    return get_object_or_404(UploadBatch.objects.select_related("family"), public_id=public_id, uploaded_by=user)


def own_unconfirmed_photos(user, *, batch_id: str = "", photo_ids: Iterable[str] = ()) -> list[Photo]:
    """The photos of one of this person's uploads (`batch_id`), or else those of `photo_ids`, that they
    uploaded and have not yet confirmed deleted from their device. Anything else, or an id that is not
    one, is left out without a word: the confirmation then has nothing to confirm."""
    mine = Photo.objects.filter(uploaded_by=user, device_deleted_at__isnull=True)
    if batch_id:
        return list(mine.filter(batch__public_id=batch_id) if _is_uuid(batch_id) else mine.none())
    return list(mine.filter(public_id__in=[i for i in photo_ids if _is_uuid(i)]))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def access_parent_image(user, public_id, version: str, size: str) -> tuple[Photo, str, str]:
    """One image of a photo of a parent's own child (they hold parental responsibility for a child tagged
    in it), if photos.parents.parent_may_see lets them see that version: the photo, and the image's blob
    name and key id. 404 for anything else: another family's photo, one their child is not tagged in, a
    group photo as taken or not yet confirmed unidentifiable, a deleted photo."""
    theirs = PhotoTag.objects.filter(child__in=children_of_parent(user)).values("photo_id")
    photo = Photo.objects.filter(public_id=public_id, status=Photo.Status.READY, pk__in=theirs).first()
    if photo is None:
        raise Http404
    tagged = set(PhotoTag.objects.filter(photo=photo).values_list("child__family_id", flat=True))
    if not parent_may_see(photo, version, tagged_families=tagged, own_families=parent_families(user)):
        raise Http404
    name, key_id = image_blob(photo, version, size)
    if not name:
        raise Http404
    return photo, name, key_id
