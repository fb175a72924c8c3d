"""The policy checks on a social-media post: run live while drafting and again at submit,
approval and publication. Each finding says in plain words what was found and why it matters.

Text checks can be dismissed by an approver with a written reason; the photo
consent gate cannot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from consents.models import PURPOSES, Purpose
from consents.names import find_register_names


@dataclass(frozen=True)
class Finding:
    check: str  # religious, political, names, contact, consent, removal
    title: str
    explanation: str
    matches: tuple[str, ...] = field(default_factory=tuple)
    dismissible: bool = True


CHECK_TITLES = {
    "religious": "Religious content",
    "political": "Political content",
    "names": "Names from the consent register",
    "contact": "Contact details",
    "consent": "Photo consent",
    "removal": "A parent asked FiG not to use a photo online",
}

_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|00)?[\d(][\d\s().-]{8,18}\d(?!\w)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_POSTCODE = re.compile(r"\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
_STREET = re.compile(
    r"\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]*\s+){1,3}"
    r"(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Drive|Dr|Way|Crescent|Court|Ct|Place|Pl|Gardens|Terrace|"
    r"Grove|Hill|Mews|Row|Walk|Square|Sq|Park|View|Rise)\b\.?"
)
_PROFILE = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?(?:facebook\.com|fb\.com|instagram\.com|x\.com|twitter\.com|tiktok\.com|"
    r"linkedin\.com/in|snapchat\.com/add|threads\.net)/@?[\w.\-]+",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]{3,30}\b")


def uk_phone_numbers(text: str) -> list[str]:
    """UK landlines and mobiles in any usual form: 01632 960 001, 020 7946 0000, 07700 900 123, +44 7700 900123."""
    found = []
    for candidate in _PHONE_CANDIDATE.findall(text):
        digits = re.sub(r"\D", "", candidate)
        international = candidate.lstrip().startswith(("+", "00"))
        if digits.startswith("00"):
            digits = digits[2:]
        if international and digits.startswith("440"):  # +44 (0)20 …
            digits = digits[2:]
        elif international and digits.startswith("44"):
            digits = "0" + digits[2:]
        if len(digits) == 11 and digits[0] == "0" and digits[1] in "123578":
            found.append(candidate.strip())
    return found


def _own_contacts() -> set[str]:
    return {value.lower() for value in settings.FIG_PUBLIC_CONTACTS}


def contact_details(text: str) -> list[str]:
    own = _own_contacts()
    found = [
        *uk_phone_numbers(text),
        *_EMAIL.findall(text),
        *_POSTCODE.findall(text),
        *_STREET.findall(text),
        *_PROFILE.findall(text),
        *_HANDLE.findall(text),
    ]
    return [item for item in dict.fromkeys(m.strip() for m in found) if item.lower() not in own]


def term_matches(text: str, terms: Iterable[str]) -> list[str]:
    """Whole words or phrases only, any case: "pray" is not found in "spray"."""
    hits = []
    for term in terms:
        pattern = r"(?<![\w'’-])" + r"\s+".join(re.escape(part) for part in term.split()) + r"(?![\w'’-])"
        if re.search(pattern, text, re.IGNORECASE):
            hits.append(term)
    return hits


def check_text(text: str) -> list[Finding]:
    """Every text check on a post. Two queries for the terms and the register names."""
    from social.models import PolicyTerm

    findings: list[Finding] = []
    terms: dict[str, list[str]] = {"religious": [], "political": []}
    for category, term in PolicyTerm.objects.filter(is_active=True).values_list("category", "term"):
        terms[category].append(term)
    for category, explanation in (
        ("religious", "FiG's status updates must not contain religious content."),
        ("political", "FiG's status updates must not contain political content."),
    ):
        hits = term_matches(text, terms[category])
        if hits:
            findings.append(Finding(category, CHECK_TITLES[category], explanation, tuple(hits)))
    names = find_register_names(text)
    if names:
        findings.append(
            Finding(
                "names",
                CHECK_TITLES["names"],
                "These match a child or carer FiG works with. Children must not be identifiable from what FiG shares.",
                tuple(sorted({m.name for m in names})),
            )
        )
    contacts = contact_details(text)
    if contacts:
        findings.append(
            Finding(
                "contact",
                CHECK_TITLES["contact"],
                "Phone numbers, email addresses, addresses, postcodes and personal profiles could make someone contactable.",
                tuple(contacts),
            )
        )
    return findings


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
