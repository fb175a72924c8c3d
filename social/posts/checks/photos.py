"""The photo gate, which cannot be dismissed: consent for every photo, and no photo a parent asked FiG not
to use online."""

from __future__ import annotations

from django.utils import timezone

from consents.models import PURPOSES, Purpose
from social.posts.checks.base import CHECK_TITLES, Finding


def check_photos(photos, versions: dict[str, str] | None = None) -> list[Finding]:
    """The photo gate, which cannot be dismissed: no photo that a parent asked FiG not to use online (check_holds),
    and every photo may be shown online now, as the image `versions` records for it (by the one rule,
    photos.selectors.online_consent_problems). A hold comes first: it stays until the parent says otherwise."""
    from photos.selectors import online_consent_problems

    photos = list(photos)
    problems = [
        f"{child.first_name} {child.last_name}: no consent for "
        + " or ".join(Purpose(p).label.lower() for p in sorted(missing, key=PURPOSES.index))
        if child is not None
        else "A photo with faces in which no child is tagged: only its blurred version, once a coordinator has "
        "checked and confirmed it, can be published"
        for _photo, child, missing in online_consent_problems(photos, versions)
    ]
    findings = check_holds(photos)
    gone = tuple(photo_words(photo) for photo in photos if photo.status != photo.Status.READY)
    if gone:
        # Deleted (at once, for retention or an erasure) or not processed: there is nothing to publish.
        findings.append(
            Finding(
                "gone",
                CHECK_TITLES["gone"],
                "This photo is no longer in the vault, or is not ready yet. Take it off the post.",
                gone,
                dismissible=False,
            )
        )
    if problems:
        findings.append(
            Finding(
                "consent",
                CHECK_TITLES["consent"],
                "A photo of a child can only be published with a parent's or carer's written consent. Remove the photo, or wait for consent.",
                tuple(problems),
                dismissible=False,
            )
        )
    return findings


def photo_words(photo) -> str:
    """How staff pages name a photo (as templates/social/posts/_photo_text.html begins): its family and day."""
    from fig_safety.times import LONDON

    taken = timezone.localtime(photo.taken_at or photo.uploaded_at, LONDON)
    return f"Photo from family {photo.family.reference}, {taken.day} {taken:%B %Y}"


def check_holds(photos) -> list[Finding]:
    """Photos a parent asked FiG not to use online, or copies of them (social.posts.selectors.held_photos),
    named by their family and day: never which child or whose parent asked. One query; none for no photos."""
    from social.posts.selectors import held_photos

    ids = [photo.pk for photo in photos]
    if not ids:
        return []
    held = held_photos().filter(pk__in=ids).select_related("family").order_by("uploaded_at", "id")
    names = tuple(photo_words(photo) for photo in held)
    if not names:
        return []
    return [
        Finding(
            "removal",
            CHECK_TITLES["removal"],
            "A parent or carer of a child in this photo asked FiG to take down a post that used it. FiG does not use "
            "the photo online again, blurred or not, until they say otherwise. Take the photo off the post.",
            names,
            dismissible=False,
        )
    ]
