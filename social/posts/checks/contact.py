"""Contactable: phone numbers, email addresses, postcodes, street addresses, profiles and handles; FiG's own
public contacts are allowed (FIG_PUBLIC_CONTACTS)."""

from __future__ import annotations

import re

from django.conf import settings

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
