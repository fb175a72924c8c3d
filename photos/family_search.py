"""Finding a family in the vault's pickers (the upload page, the gallery's family filter, "who may I
photograph today"), among the families this person may use there, by consents.selectors_search."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from consents.models import Family
from consents.selectors import families_managed_by
from consents.selectors_search import PICKER_LIMIT, families_matching, matches_text
from photos.models import PhotoTag
from photos.selectors import fresh_uploads_of
from staff.roles import Role, has_role


@dataclass
class Matches:
    """The families a picker offers for what was typed: up to PICKER_LIMIT, in reference order."""

    text: str = ""
    families: list[Family] = field(default_factory=list)
    more: bool = False  # more matched than are listed

    @property
    def count_text(self) -> str:
        """What the live region says: "3 families match" (nothing before anything is typed)."""
        return matches_text(len(self.families), more=self.more) if self.text else ""


def find_families(families: QuerySet[Family], text: str, *, browse: bool = False) -> Matches:
    """Those of `families` that `text` finds, in one query. With nothing typed, none; or, to `browse`,
    every one when they fit in the list (a coordinator's few families)."""
    if not text and not browse:
        return Matches()
    found = families_matching(families, text) if text else families
    listed = list(found.order_by("reference")[: PICKER_LIMIT + 1])
    if not text and len(listed) > PICKER_LIMIT:
        return Matches()
    return Matches(text=text, families=listed[:PICKER_LIMIT], more=len(listed) > PICKER_LIMIT)


def gallery_families(user) -> QuerySet[Family]:
    """The families the gallery's family filter finds: those whose photos this person sees
    (photos.selectors.photos_visible_to): the families they coordinate, and those of their own fresh
    uploads (the family uploaded for, and the families of the children tagged in them)."""
    own_uploads = fresh_uploads_of(user)
    condition = Q(pk__in=own_uploads.values("family_id")) | Q(
        pk__in=PhotoTag.objects.filter(photo__in=own_uploads).values("child__family_id")
    )
    if has_role(user, Role.COORDINATOR):
        condition |= Q(pk__in=families_managed_by(user).values("pk"))
    return Family.objects.filter(condition)
