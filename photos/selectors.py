"""Reads for the vault: who may see which photo, and what each photo may be used for now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from consents.models import PURPOSES, Child, Purpose
from consents.selectors import consents_for_children, families_managed_by
from photos.models import Photo, PhotoTag
from staff.roles import Role, has_role

LIVE = [Photo.Status.PROCESSING, Photo.Status.READY]


def photos_visible_to(user) -> QuerySet[Photo]:
    """Photos this person may see: their families' (coordinators), or their own fresh uploads.

    Filtered in SQL: coordinators through the family assignment, photographers by
    uploader and time. Everyone else sees nothing.
    """
    if not getattr(user, "is_authenticated", False):
        return Photo.objects.none()
    condition = Q(pk__in=[])
    if has_role(user, Role.COORDINATOR):
        condition |= Q(family__in=families_managed_by(user))
    fresh_since = timezone.now() - timedelta(hours=settings.FIG_PHOTO_FIX_TAGS_HOURS)
    condition |= Q(uploaded_by=user, uploaded_at__gte=fresh_since)
    return Photo.objects.filter(condition, status__in=LIVE)


def can_upload_for(user) -> QuerySet:
    """Families this person may upload for: all (photographers), or their own (coordinators)."""
    from consents.models import Family

    if has_role(user, Role.PHOTOGRAPHER):
        return Family.objects.all()
    if has_role(user, Role.COORDINATOR):
        return families_managed_by(user)
    return Family.objects.none()


def uses_for_photos(photos: Iterable[Photo]) -> dict[int, frozenset[str]]:
    """What each photo may be used for now: least permissive wins across its tagged children.

    Two queries for any number of photos, plus the consent function's four: the
    tags, and the children's consent positions. A photo with no child tagged was
    confirmed unidentifiable by its uploader and keeps every use.
    """
    photos = list(photos)
    children_of: dict[int, set[int]] = defaultdict(set)
    for photo_id, child_id in PhotoTag.objects.filter(photo__in=photos).values_list("photo_id", "child_id"):
        children_of[photo_id].add(child_id)
    positions = consents_for_children({c for ids in children_of.values() for c in ids})
    uses = {}
    for photo in photos:
        allowed = set(PURPOSES)
        for child_id in children_of.get(photo.pk, ()):
            allowed &= positions[child_id].allowed
        uses[photo.pk] = frozenset(allowed)
    return uses


def photos_allowed_for(photos: QuerySet[Photo], purpose: str) -> QuerySet[Photo]:
    """The photos in `photos` that may be used for `purpose` now (least permissive wins), filtered in SQL.

    Five queries however many photos: the children tagged in them, and their consent
    positions. A photo is left out when any child in it lacks that consent, so the work
    grows with the children, not the photos, and no list of photo ids is built.
    """
    child_ids = set(PhotoTag.objects.filter(photo__in=photos.values("pk")).values_list("child_id", flat=True).distinct())
    blocked = [child_id for child_id, position in consents_for_children(child_ids).items()
               if not position.allows(purpose)]
    return photos.exclude(tags__child_id__in=blocked) if blocked else photos


def children_who_can_be_photographed(family) -> tuple[list[Child], list[Child]]:
    """(may be tagged, may not) for the upload form: tagging needs consent to be photographed and kept."""
    children = list(family.children.all())
    positions = consents_for_children([c.pk for c in children])
    allowed, refused = [], []
    for child in children:
        position = positions[child.pk]
        (allowed if position.allows(Purpose.PHOTOGRAPHED) and position.allows(Purpose.STORED) else refused).append(child)
    return allowed, refused
