"""What photos of children may be used for. The one home of the purposes each use needs and of the
rule for a photo of several children (least permissive wins); each child's consent position comes
from `consents.selectors.consents_for_children`, the one answer to "may this child be used for this".

Everything that asks what a photo may be used for asks here: the upload form and the tagging check
(TAG_PURPOSES), the vault's uses and filters (uses_for_tagged, children_lacking), and the post
consent gate (purposes_to_publish).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from consents.models import PURPOSES, Purpose
from consents.selectors import ChildConsent, consents_for_children

# A child may be tagged in a photo (so photographed and kept in the vault) only with both.
TAG_PURPOSES: tuple[str, ...] = (Purpose.PHOTOGRAPHED, Purpose.STORED)
# Withdrawing either of these affects posts: queued ones go back, published ones come down.
ONLINE_PURPOSES: frozenset[str] = frozenset({Purpose.ONLINE, Purpose.FACE_ONLINE})


def purposes_to_publish(*, unidentifiable: bool) -> tuple[str, ...]:
    """What every child in a photo must be consented for before the photo is published online: online
    use, and a recognisable face unless the photo has been made unidentifiable."""
    return (Purpose.ONLINE,) if unidentifiable else (Purpose.ONLINE, Purpose.FACE_ONLINE)


def lacking(position: ChildConsent, purposes: Iterable[str]) -> frozenset[str]:
    """The `purposes` this child's consent does not allow now (empty: allowed for all of them)."""
    return frozenset(p for p in purposes if not position.allows(p))


def children_lacking(positions: Mapping[int, ChildConsent], purposes: Iterable[str]) -> set[int]:
    """The children, of those in `positions`, who lack consent for any of `purposes`: a photo that tags
    one of them may not be used for those purposes."""
    purposes = tuple(purposes)
    return {child_id for child_id, position in positions.items() if lacking(position, purposes)}


def uses_for_tagged(
    children_of: Mapping[int, Collection[int]],
    positions: Mapping[int, ChildConsent] | None = None,
    *,
    at: datetime | None = None,
) -> dict[int, frozenset[str]]:
    """What each photo may be used for now, given the children tagged in it (photo id -> child ids):
    least permissive wins, so a use holds only while every child in the photo is consented for it.
    A photo with no child tagged keeps every use.

    `positions` are consent positions already worked out in this request (for the same `at`);
    consents_for_children's four queries work out the rest, if any, as of `at` (default now).
    """
    known = positions or {}
    tagged = {child_id for child_ids in children_of.values() for child_id in child_ids}
    positions = {**known, **consents_for_children(tagged - known.keys(), at=at)}
    uses = {}
    for photo_id, child_ids in children_of.items():
        allowed = set(PURPOSES)
        for child_id in child_ids:
            allowed &= positions[child_id].allowed
        uses[photo_id] = frozenset(allowed)
    return uses
