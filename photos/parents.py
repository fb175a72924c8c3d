"""What a parent or carer sees of the photos of their own child: the photos the child is tagged in, and the
image of each of FiG's posts that showed them (consents/my_child.html).

One rule (parent_may_see) decides which image of a photo a parent may see: a photo that shows only their own
children, as it is; a group photo that also shows children of other families, only in its version with every
face blurred once a coordinator has confirmed no child can be recognised in it, and otherwise not at all.
Each image is served by photos.views.parent_image, which logs the access.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import F, Min
from django.db.models.functions import Lower
from django.template.defaultfilters import date as date_filter
from django.urls import reverse

from consents.models import Carer, Child
from consents.selectors import children_of_parent
from photos.display import photo_alt, photo_day
from photos.models import Photo, PhotoAccess, PhotoTag
from photos.selectors import ORIGINAL, UNIDENTIFIABLE
from social.models import Post, PostChannel
from social.posts.selectors import PARENT_STATES, WENT_OUT, deliveries_by_post

VERSIONS = frozenset({ORIGINAL, UNIDENTIFIABLE})
SIZES = frozenset({"thumbnail", "full"})
# The child's page lists the newest photos only: each one shown is decrypted and logged.
PHOTOS_SHOWN = 48


def parent_families(user) -> set[int]:
    """The families in which this person holds parental responsibility (and FiG still works with)."""
    return set(children_of_parent(user).values_list("family_id", flat=True))


def parent_may_see(photo: Photo, version: str, *, tagged_families: set[int], own_families: set[int]) -> bool:
    """Whether a parent whose families are `own_families` may see `version` of a ready photo in which children
    of `tagged_families` are tagged (one of them theirs: the caller checks that). Other families' children
    are theirs to show: a group photo only with every face blurred, and only once that is confirmed."""
    if photo.status != Photo.Status.READY or version not in VERSIONS or not image_blob(photo, version, "full")[0]:
        return False
    if tagged_families <= own_families:
        return True
    return (version == UNIDENTIFIABLE or photo.blurred_only) and photo.marked_unidentifiable


def image_blob(photo: Photo, version: str, size: str) -> tuple[str, str]:
    """The vault blob (name, key id) of one image of the photo; ("", "") when it has none. A photo kept only
    blurred has one image, the blurred one, whichever version is asked for."""
    if size not in SIZES or version not in VERSIONS:
        return "", ""
    thumbnail = size == "thumbnail"
    if version == ORIGINAL or photo.blurred_only:
        return (
            (photo.thumbnail_blob, photo.thumbnail_key_id)
            if thumbnail
            else (photo.original_blob, photo.original_key_id)
        )
    if thumbnail:
        return photo.unidentifiable_thumbnail_blob, photo.unidentifiable_thumbnail_key_id
    return photo.unidentifiable_blob, photo.unidentifiable_key_id


@dataclass(frozen=True)
class ParentImage:
    """One image a parent may see, with the words that describe it."""

    photo: Photo
    version: str
    alt: str
    day: date
    others: int  # children of other families tagged in it: counted, never named

    @property
    def blurred(self) -> bool:
        return self.version == UNIDENTIFIABLE or self.photo.blurred_only

    @property
    def thumbnail_url(self) -> str:
        return reverse("photos:parent_image", args=[self.photo.public_id, self.version, "thumbnail"])

    @property
    def full_url(self) -> str:
        return reverse("photos:parent_image", args=[self.photo.public_id, self.version, "full"])


@dataclass
class ChildPhotos:
    shown: list[ParentImage] = field(default_factory=list)
    more: int = 0  # photos the parent may see beyond the newest PHOTOS_SHOWN
    withheld: int = 0  # group photos not confirmed unidentifiable: not shown at all


@dataclass
class PostImages:
    """A post that went out with a photo of the child: when, where, and the images of the child as published."""

    post: Post
    first_out: datetime | None
    deliveries: list[PostChannel]
    images: list[ParentImage]
    withheld: int  # images of the child in it that also show other children, as taken: not shown here
    deleted: int  # photos of the child in it that FiG has deleted since


def _tags(photo_ids) -> tuple[dict[int, set[int]], dict[int, list[Child]]]:
    """Each photo's tagged families, and its tagged children. One query."""
    families: dict[int, set[int]] = defaultdict(set)
    children: dict[int, list[Child]] = defaultdict(list)
    tags = PhotoTag.objects.filter(photo_id__in=list(photo_ids)).select_related("child").order_by("child_id")
    for tag in tags:
        families[tag.photo_id].add(tag.child.family_id)
        children[tag.photo_id].append(tag.child)
    return families, children


def _image(photo: Photo, version: str, children: list[Child], own_families: set[int]) -> ParentImage:
    own = [c for c in children if c.family_id in own_families]
    day, others = photo_day(photo), len(children) - len(own)
    alt = photo_alt(own, date_filter(day, "j F Y"), others=others)
    return ParentImage(photo=photo, version=version, alt=alt, day=day, others=others)


def photos_of_child_for_parent(user, child: Child) -> ChildPhotos:
    """The ready photos `child` is tagged in, newest first, each in the image this parent may see
    (parent_may_see: as taken, or a group photo blurred), and how many group photos are not shown. Call
    with a child from consents.access.access_parent_child. Three queries."""
    own_families = parent_families(user)
    photos = list(Photo.objects.filter(status=Photo.Status.READY, tags__child=child).order_by("-uploaded_at", "-id"))
    families, children = _tags(p.pk for p in photos)
    found = ChildPhotos()
    for photo in photos:
        version = next(
            (
                v
                for v in (ORIGINAL, UNIDENTIFIABLE)
                if parent_may_see(photo, v, tagged_families=families[photo.pk], own_families=own_families)
            ),
            None,
        )
        if version is None:
            found.withheld += 1
        elif len(found.shown) < PHOTOS_SHOWN:
            found.shown.append(_image(photo, version, children[photo.pk], own_families))
        else:
            found.more += 1
    return found


def posts_of_child_for_parent(user, child: Child) -> list[PostImages]:
    """The posts that went out with a photo of `child` (taken down since included), the one out first most
    recently first, each with the channels it went out on and the child's photos in it as published (the
    version the post used), where parent_may_see allows. Seven queries however many posts."""
    own_families = parent_families(user)
    posts = list(
        Post.objects.filter(status__in=WENT_OUT, pk__in=Post.objects.filter(photos__tags__child=child).values("pk"))
        .annotate(first_out=Min("deliveries__sent_at"))
        .order_by(F("first_out").desc(nulls_last=True), "-pk")
    )
    in_post: dict[int, list[int]] = defaultdict(list)
    of_child = set(PhotoTag.objects.filter(child=child).values_list("photo_id", flat=True))
    through = Post.photos.through.objects.filter(post_id__in=[p.pk for p in posts], photo_id__in=of_child)
    for post_id, photo_id in through.order_by("photo_id").values_list("post_id", "photo_id"):
        in_post[post_id].append(photo_id)
    photos = Photo.objects.in_bulk({i for ids in in_post.values() for i in ids})
    families, children = _tags(photos)
    deliveries = deliveries_by_post(p.pk for p in posts)
    found = []
    for post in posts:
        images, withheld, deleted = [], 0, 0
        for photo_id in in_post[post.pk]:
            photo = photos[photo_id]
            version = post.photo_versions.get(str(photo_id), ORIGINAL)
            if photo.status != Photo.Status.READY:
                deleted += 1
            elif parent_may_see(photo, version, tagged_families=families[photo_id], own_families=own_families):
                images.append(_image(photo, version, children[photo_id], own_families))
            else:
                withheld += 1
        found.append(
            PostImages(
                post=post,
                first_out=post.first_out or post.published_at,
                deliveries=[d for d in deliveries.get(post.pk, []) if d.state in PARENT_STATES],
                images=images,
                withheld=withheld,
                deleted=deleted,
            )
        )
    return found


def views_by_other_parents(entries: Iterable[PhotoAccess], families) -> set[int]:
    """Of these access-log rows, the parents' views by someone who is not a carer in any of `families` (the
    families the reader coordinates): a parent of another family's child in a group photo, whom the reader
    is told about only as such. Two queries at most."""
    rows = [e for e in entries if e.action == PhotoAccess.Action.PARENT and e.user is not None]
    if not rows:
        return set()
    carers = Carer.objects.filter(family__in=families)
    accounts = set(carers.filter(user_id__in={e.user_id for e in rows}).values_list("user_id", flat=True))
    emails = set(
        carers.annotate(address=Lower("email"))
        .filter(address__in={e.user.email.lower() for e in rows})
        .values_list("address", flat=True)
    )
    return {e.pk for e in rows if e.user_id not in accounts and e.user.email.lower() not in emails}
