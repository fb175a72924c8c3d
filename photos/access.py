"""Who may see which photo. Outsiders get 404 — they learn nothing, not even that a photo exists."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404

from consents.access import can_change_family
from photos.models import Photo
from photos.selectors import photos_visible_to
from staff.access import staff_required
from staff.roles import Role


def vault_required(*roles: Role) -> Callable:
    """The gate on every vault URL: signed-in holders of one of `roles`. Anyone else signed in (a parent,
    staff without a vault role, a photographer on a coordinator's page) gets 404, as an outsider does for a
    photo (access_photo); anonymous people are sent to sign in."""
    return staff_required(*roles, not_found=True)


def access_photo(user, public_id) -> Photo:
    """The photo if this person may see it now (its family's coordinators, or its uploader for a day)."""
    photo = photos_visible_to(user).select_related("family", "uploaded_by", "batch").filter(public_id=public_id).first()
    if photo is None:
        raise Http404
    return photo


def can_manage_photo(user, photo: Photo) -> bool:
    """Coordinators of the photo's family manage it (access log, keep reasons, tags)."""
    return can_change_family(user, photo.family)


def can_retag(user, photo: Photo) -> bool:
    # The uploader can only see the photo while the fix-tags window is open (photos_visible_to).
    return photo.uploaded_by_id == user.pk or can_manage_photo(user, photo)
