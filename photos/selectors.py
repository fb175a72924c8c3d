"""Reads for the vault: who may see which photo, and what each photo may be used for now."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from consents.models import PURPOSES, Child, Family
from consents.selectors import ChildConsent, consents_for_children, families_managed_by
from consents.uses import TAG_PURPOSES, children_lacking, lacking, purposes_to_publish, uses_for_tagged
from photos.models import Photo, PhotoTag
from staff.roles import Role, has_role

LIVE = [Photo.Status.PROCESSING, Photo.Status.READY]


def in_families(families) -> Q:
    """The photos that belong to any of `families` (a queryset of families, or of their ids), as a filter.

    A photo with children tagged belongs to the family of each tagged child, and to no other: a group photo
    of children of three families belongs to those three. A photo with no child tagged (no child can be
    identified in it) belongs to the family it was uploaded for.
    """
    tagged_here = PhotoTag.objects.filter(photo=OuterRef("pk"), child__family__in=families)
    tagged = PhotoTag.objects.filter(photo=OuterRef("pk"))
    return Q(Exists(tagged_here)) | (Q(family__in=families) & ~Q(Exists(tagged)))


def families_of_photos(photos: Iterable[Photo]) -> dict[int, list[Family]]:
    """The families each photo belongs to (in_families), in reference order, in two queries."""

    photos = list(photos)
    ids: dict[int, set[int]] = {photo.pk: set() for photo in photos}
    for photo_id, family_id in PhotoTag.objects.filter(photo__in=list(ids)).values_list("photo_id", "child__family_id"):
        ids[photo_id].add(family_id)
    for photo in photos:
        if not ids[photo.pk]:
            ids[photo.pk].add(photo.family_id)
    families = Family.objects.in_bulk({family_id for found in ids.values() for family_id in found})
    return {
        photo_id: sorted((families[f] for f in found), key=lambda family: family.reference)
        for photo_id, found in ids.items()
    }


def photos_visible_to(user) -> QuerySet[Photo]:
    """Photos this person may see: those of their families (coordinators; in_families, so a group photo is
    seen by the coordinators of every tagged child's family), or their own fresh uploads.

    Filtered in SQL: coordinators through the family assignment, photographers by
    uploader and time. Everyone else sees nothing.
    """
    if not getattr(user, "is_authenticated", False):
        return Photo.objects.none()
    condition = Q(pk__in=[])
    if has_role(user, Role.COORDINATOR):
        condition |= in_families(families_managed_by(user))
    condition |= Q(uploaded_by=user, uploaded_at__gte=_fresh_since())
    return Photo.objects.filter(condition, status__in=LIVE)


def fixing_tags(user, photo: Photo) -> bool:
    """Whether this person is the photo's uploader within the fix-tags window: they tagged its children and
    may still fix any tag; afterwards only its families' coordinators may, each for their own families."""
    return photo.uploaded_by_id == getattr(user, "pk", None) and photo.uploaded_at >= _fresh_since()


def tag_families(user, photo: Photo) -> QuerySet[Family]:
    """The families whose children this person may tag in (or untag from) the photo: any they may upload
    for while fixing its tags as its uploader; afterwards, the families they coordinate."""
    if fixing_tags(user, photo):
        return can_upload_for(user)
    return families_managed_by(user) if has_role(user, Role.COORDINATOR) else Family.objects.none()


def _fresh_since() -> datetime:
    """Uploads since then are still their photographer's to see and fix (the fix-tags window)."""
    return timezone.now() - timedelta(hours=settings.FIG_PHOTO_FIX_TAGS_HOURS)


# The child filter lists every child of the person's families up to this many; past it (a coordinator
# of very many families), it lists a family's children once the family filter names it.
CHILD_FILTER_CAP = 300


def fresh_uploads_of(user) -> QuerySet[Photo]:
    """This person's own uploads still in their window to fix tags (FIG_PHOTO_FIX_TAGS_HOURS), not deleted:
    the photos of families they do not coordinate that they may still see."""
    return Photo.objects.filter(uploaded_by=user, uploaded_at__gte=_fresh_since(), status__in=LIVE)


def children_in_gallery(user, *, family: str = "") -> list[Child] | None:
    """The children the gallery's child filter offers, with their families, in one query: those of the
    families whose photos this person may see (photos_visible_to), or of the one `family` (a reference,
    as gallery_photos takes it) if it is one of those. Their photos are filtered by id, never by name.

    None when there are more than CHILD_FILTER_CAP of them: the filter then asks for a family first,
    so the page never lists thousands of names."""
    if not getattr(user, "is_authenticated", False):
        return []
    own_uploads = fresh_uploads_of(user)
    condition = Q(family__in=own_uploads.values("family_id")) | Q(
        pk__in=PhotoTag.objects.filter(photo__in=own_uploads).values("child_id")
    )
    if has_role(user, Role.COORDINATOR):
        condition |= Q(family__in=families_managed_by(user))
    children = Child.objects.filter(condition).select_related("family")
    if family.strip():
        children = children.filter(family__reference__iexact=family.strip())
    found = list(children.order_by("family__reference", "first_name", "last_name", "id")[: CHILD_FILTER_CAP + 1])
    return None if len(found) > CHILD_FILTER_CAP else found


def gallery_photos(
    user, *, family: str = "", child: int | None = None, taken_from: date | None = None, taken_to: date | None = None
) -> QuerySet[Photo]:
    """The ready photos this person may see, newest first, narrowed by the gallery's filters.

    `family` is a reference (any case, spaces around it ignored); the dates are days in the
    local time zone, compared as a range of times so that the upload-time index serves them.
    """
    photos = photos_visible_to(user).filter(status=Photo.Status.READY)
    if family.strip():
        photos = photos.filter(in_families(Family.objects.filter(reference__iexact=family.strip())))
    if child:
        photos = photos.filter(tags__child_id=child)
    if taken_from:
        photos = photos.filter(uploaded_at__gte=_start_of(taken_from))
    if taken_to and taken_to < date.max:
        photos = photos.filter(uploaded_at__lt=_start_of(taken_to + timedelta(days=1)))
    return photos


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def can_upload_for(user) -> QuerySet:
    """Families this person may upload for: all (photographers), or their own (coordinators); never a closed one."""
    from consents.models import Family

    if has_role(user, Role.PHOTOGRAPHER):
        return Family.objects.filter(closed_at__isnull=True)
    if has_role(user, Role.COORDINATOR):
        return families_managed_by(user).filter(closed_at__isnull=True)
    return Family.objects.none()


def uses_for_photos(photos: Iterable[Photo]) -> dict[int, frozenset[str]]:
    """What each photo may be used for now: least permissive wins across its tagged children; a photo with
    no child tagged by untagged_uses.

    One query for any number of photos, the tags, plus the consent function's four
    for the children's consent positions.
    """
    photos = list(photos)
    children_of: dict[int, set[int]] = {photo.pk: set() for photo in photos}
    for photo_id, child_id in PhotoTag.objects.filter(photo__in=list(children_of)).values_list("photo_id", "child_id"):
        children_of[photo_id].add(child_id)
    uses = uses_for_tagged(children_of)
    return {photo.pk: uses[photo.pk] if children_of[photo.pk] else untagged_uses(photo) for photo in photos}


def children_in(photos: Iterable[Photo]) -> dict[int, list[Child]]:
    """The children tagged in each photo (photo id -> children, in the usual order of children), in one query.

    For lists of photos: cheaper than prefetching `children`, which builds a related manager per photo.
    """
    children_of: dict[int, list[Child]] = {photo.pk: [] for photo in photos}
    tagged = (
        Child.objects.filter(photo_tags__photo__in=list(children_of))
        .select_related("family")
        .annotate(tagged_in=F("photo_tags__photo"))
    )
    for child in tagged:
        children_of[child.tagged_in].append(child)
    return children_of


def consents_of_children_in(photos: QuerySet[Photo]) -> dict[int, ChildConsent]:
    """The consent position of every child tagged in any of `photos`, in five queries however many photos:
    the children, then the consent function's four."""
    child_ids = PhotoTag.objects.filter(photo__in=photos.values("pk")).values_list("child_id", flat=True).distinct()
    return consents_for_children(set(child_ids))


def photos_allowed_for(
    photos: QuerySet[Photo], purpose: str, *, positions: Mapping[int, ChildConsent] | None = None
) -> QuerySet[Photo]:
    """The photos in `photos` that may be used for `purpose` now (least permissive wins), filtered in SQL.

    Five queries however many photos: the children tagged in them, and their consent
    positions (none when `positions`, from consents_of_children_in(photos), are given). A photo
    is left out when any child in it lacks that consent, so the work grows with the children,
    not the photos, and no list of photo ids is built.
    """
    if positions is None:
        positions = consents_of_children_in(photos)
    blocked = children_lacking(positions, [purpose])
    if purpose not in TAG_PURPOSES:
        photos = photos.filter(~_untagged() | FACE_FREE | Q(marked_unidentifiable=True))
    return photos.exclude(tags__child_id__in=blocked) if blocked else photos


# The two images of a photo that can leave the vault: as it was taken (for a photo kept only blurred, the
# blurred image is the only one), or its unidentifiable version with every face blurred.
ORIGINAL, UNIDENTIFIABLE = "original", "unidentifiable"
# A photo in which no child is tagged may be used only when the software looked and found no face (the
# uploader's "no child can be identified" is a claim, not a fact), or a coordinator confirmed the version
# with every face blurred.
FACE_FREE = Q(faces_checked_at__isnull=False, face_count=0, blurred_only=False)


def _face_free(photo: Photo) -> bool:
    return photo.faces_checked_at is not None and photo.face_count == 0 and not photo.blurred_only


def _untagged() -> Q:
    return ~Q(Exists(PhotoTag.objects.filter(photo_id=OuterRef("pk"))))


def untagged_uses(photo: Photo) -> frozenset[str]:
    """What a photo with no child tagged may be used for: everything when no face was found in it or its
    blurred version is confirmed; otherwise only being kept, until a coordinator tags or confirms it."""
    if _face_free(photo) or photo.marked_unidentifiable:
        return frozenset(PURPOSES)
    return frozenset(TAG_PURPOSES)


def photos_allowed_online(photos: QuerySet[Photo]) -> QuerySet[Photo]:
    """The photos in `photos` that may be published online now, as taken or as their confirmed unidentifiable
    version: every child tagged in each is consented for what consents.uses.purposes_to_publish asks of that
    version, and a photo with no child tagged is face-free or confirmed. Filtered in SQL, in five queries
    however many photos (the tagged children and their consent positions).

    The one answer to "may this photo go online"; online_versions says which image, and
    online_consent_problems why not, photo by photo, by the same rule."""
    positions = consents_of_children_in(photos)
    allowed = Q()
    for unidentifiable in (False, True):
        blocked = children_lacking(positions, purposes_to_publish(unidentifiable=unidentifiable))
        these = Q(marked_unidentifiable=unidentifiable)
        if blocked:
            these &= ~Q(pk__in=PhotoTag.objects.filter(child_id__in=blocked).values("photo_id"))
        allowed |= these
    return photos.filter(allowed & (~_untagged() | FACE_FREE | Q(marked_unidentifiable=True)))


def _tagged_children(photos: dict[int, Photo]) -> tuple[dict[int, list[Child]], dict[int, ChildConsent]]:
    children_of: dict[int, list[Child]] = {pk: [] for pk in photos}
    tags = PhotoTag.objects.filter(photo__in=list(photos)).select_related("child").order_by("photo_id", "child_id")
    for tag in tags:
        children_of[tag.photo_id].append(tag.child)
    positions = consents_for_children({child.pk for children in children_of.values() for child in children})
    return children_of, positions


def _problems(
    photo: Photo, children: list[Child], positions: Mapping[int, ChildConsent], version: str
) -> list[tuple[Child | None, frozenset[str]]]:
    """What stops `version` of `photo` going online now: (child, the purposes they lack), or (None, nothing)
    for a photo with no child tagged that is neither face-free nor confirmed. Empty: it may go."""
    unidentifiable = version == UNIDENTIFIABLE or photo.blurred_only
    if unidentifiable and not photo.marked_unidentifiable:
        return [(None, frozenset())]
    if not children:
        return [] if unidentifiable or _face_free(photo) else [(None, frozenset())]
    needs = purposes_to_publish(unidentifiable=unidentifiable)
    found = [(child, lacking(positions[child.pk], needs)) for child in children]
    return [(child, missing) for child, missing in found if missing]


def online_versions(photos: Iterable[Photo]) -> dict[int, str | None]:
    """Which image of each photo may be published online now: as taken when that is allowed, else its
    confirmed unidentifiable version when that is, else None. Five queries."""
    photos = {photo.pk: photo for photo in photos}
    children_of, positions = _tagged_children(photos)
    versions: dict[int, str | None] = {}
    for pk, photo in photos.items():
        versions[pk] = next(
            (v for v in (ORIGINAL, UNIDENTIFIABLE) if not _problems(photo, children_of[pk], positions, v)), None
        )
    return versions


def online_consent_problems(
    photos: Iterable[Photo], versions: Mapping[str, str] | None = None
) -> list[tuple[Photo, Child | None, frozenset[str]]]:
    """Why each of `photos` may not be published online, as (photo, child, the purposes the child lacks), or
    (photo, None, nothing) for a photo with faces and no child tagged, by the same rule as
    photos_allowed_online. `versions` (photo id as text -> ORIGINAL or UNIDENTIFIABLE, as a post records them)
    checks those images; without it, a photo passes if either image may go. Empty when they all may."""
    photos = {photo.pk: photo for photo in photos}
    children_of, positions = _tagged_children(photos)
    problems = []
    for pk, photo in photos.items():
        chosen = (versions or {}).get(str(pk))
        candidates = [chosen] if chosen else [ORIGINAL, UNIDENTIFIABLE]
        found = [_problems(photo, children_of[pk], positions, v) for v in candidates]
        if all(found):
            # The problems of the image a post would use: the blurred one when it is confirmed.
            worst = found[-1] if photo.marked_unidentifiable else found[0]
            problems.extend((photo, child, missing) for child, missing in worst)
    return problems


def children_who_can_be_photographed(families) -> tuple[list[Child], list[tuple[Child, frozenset[str]]]]:
    """(may be tagged, may not) for the upload form, the children of `families` (a family, or several for
    a group photo) by family then name: tagging needs consent to be photographed and kept.

    Each child who may not comes with the purposes they lack consent for (photographed, stored or both).
    """
    if isinstance(families, Family):
        families = [families]
    children = list(
        Child.objects.filter(family__in=list(families))
        .select_related("family")
        .order_by("family__reference", "first_name", "last_name", "pk")
    )
    positions = consents_for_children([c.pk for c in children])
    allowed, refused = [], []
    for child in children:
        missing = lacking(positions[child.pk], TAG_PURPOSES)
        if missing:
            refused.append((child, missing))
        else:
            allowed.append(child)
    return allowed, refused
