"""How the vault pages write a photo: its description, its day and its links, worked out in Python because
the gallery writes them for 48 cards a page, where templates and reverse() are slow."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.timezone import template_localtime

from consents.models import PURPOSES, Child, Purpose
from consents.uses import TAG_PURPOSES
from photos.models import Photo

PURPOSE_LABELS = dict(Purpose.choices)


def photo_day(photo: Photo) -> date:
    """The local day the photo was taken, or uploaded if the camera did not say."""
    return template_localtime(photo.taken_at or photo.uploaded_at).date()


def photo_alt(children: Iterable[Child], day: str, others: int = 0) -> str:
    """A photo described for screen readers and as its title: the `children` in it, and `day` (j F Y);
    `others` children of families whose names this reader is not told are counted, not named."""
    names = [str(child) for child in children]
    if others:
        names.append("a child from another family" if others == 1 else f"{others} children from other families")
    if not names:
        return f"Photo in which no child can be identified, {day}"
    if len(names) == 1:
        return f"Photo of {names[0]}, {day}"
    return f"Photo of {', '.join(names[:-1])} and {names[-1]}, {day}"


def missing_consent(missing: frozenset[str]) -> str:
    """Why a child cannot be tagged, naming exactly the consent they lack (`missing`: purposes)."""
    if missing >= set(TAG_PURPOSES):
        return "no consent to be photographed or kept in the vault"
    if Purpose.PHOTOGRAPHED in missing:
        return "no consent to be photographed"
    return "no consent to be kept in the vault"


def gallery_cards(
    photos: Iterable[Photo],
    children_of: Mapping[int, list[Child]],
    uses: Mapping[int, frozenset[str]],
    badges: Mapping[str, str],
    *,
    unnamed_of: Mapping[int, list[Child]] | None = None,
    families_of: Mapping[int, list] | None = None,
) -> list[dict[str, Any]]:
    """What each gallery card shows: the photo, its links and description (`children_of`: the children in
    each photo the reader is told the names of, each linked to the gallery of their photos; `unnamed_of`:
    all of them, when some are only counted), the families it belongs to (`families_of`, else its own),
    and its allowed uses (labels, codes and the `badges` for them, in the consent form's order)."""
    detail_url = _url_for_each("photos:detail")
    thumbnail_url = _url_for_each("photos:image", "thumbnail")
    gallery_url = reverse("photos:gallery")
    days: dict[date, tuple[str, str]] = {}  # a page's photos come from a few days: each formatted once
    cards = []
    for photo in photos:
        day = photo_day(photo)
        if day not in days:
            days[day] = (date_filter(day, "j M Y"), date_filter(day, "j F Y"))
        short_day, long_day = days[day]
        codes = [code for code in PURPOSES if code in uses[photo.pk]]
        others = len(unnamed_of[photo.pk]) - len(children_of[photo.pk]) if unnamed_of else 0
        cards.append(
            {
                "photo": photo,
                "url": detail_url(photo.public_id),
                "thumbnail_url": thumbnail_url(photo.public_id),
                "alt": photo_alt(children_of[photo.pk], long_day, others=others),
                "others": others,
                "families": families_of[photo.pk] if families_of else [photo.family],
                "day": short_day,
                "children": [
                    (str(child), f"{gallery_url}?{child_filter(child.family.reference, child.pk)}")
                    for child in children_of[photo.pk]
                ],
                "use_codes": codes,
                "uses": [PURPOSE_LABELS[code] for code in codes],
                "badges": [badges[code] for code in codes],
            }
        )
    return cards


def child_filter(family_reference: str, child_id: int) -> str:
    """The gallery's query string for one child's photos: by id, never by name (URLs end up in logs)."""
    return urlencode({"family": family_reference, "child": child_id})


def _url_for_each(name: str, *args: str) -> Callable[[uuid.UUID], str]:
    """reverse(name, args=[public_id, *args]) for many photos: reversed once, then each photo's id put in.

    reverse() takes about 60 µs, and the gallery needs two URLs a card. The id is a UUID, which
    reverse() writes as str(uuid), so putting it in by hand gives the same URL.
    """
    marker = uuid.UUID(int=0)
    before, after = reverse(name, args=[marker, *args]).split(str(marker))
    return lambda public_id: f"{before}{public_id}{after}"


def faces_summary(photo: Photo, tagged: int) -> str:
    """The faces of a photo and its tags in one sentence: "3 faces found, 2 children tagged"."""
    drawn, count = len(photo.drawn_faces), photo.face_count
    if photo.faces_checked_at is None and not drawn:
        faces = "Not checked for faces yet"
    elif not count:
        faces = "No face found"
    else:
        faces = f"{count} face{'' if count == 1 else 's'} found"
        if drawn:
            faces += f" ({drawn} of them drawn by a coordinator)"
        if photo.blurred_only:
            faces += " and blurred"
    children = "no child" if not tagged else "1 child" if tagged == 1 else f"{tagged} children"
    return f"{faces}, {children} tagged"
