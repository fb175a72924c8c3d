"""Finding the names of children and carers from the consent register in a piece of text.

Used to flag incoming comments that identify a family, and to warn on drafted
posts. Whole words only ("Sam" is not in "same"); a full name matches in any
case, a first name on its own only when written with a capital, as names are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consents.models import Carer, Child


@dataclass(frozen=True)
class NameMatch:
    family_id: int
    name: str
    who: str  # "child" or "carer"


def _word(name: str) -> str:
    return r"(?<![\w'’-])" + r"\s+".join(re.escape(part) for part in name.split()) + r"(?![\w'’-])"


def find_register_names(text: str) -> list[NameMatch]:
    """Every register name found in `text`, one match per family and name. Two queries."""
    if not text or not text.strip():
        return []
    people = [
        (family_id, f"{first} {last}", first, "child")
        for family_id, first, last in Child.objects.values_list("family_id", "first_name", "last_name")
    ] + [
        (family_id, full, (full.split() or [""])[0], "carer")
        for family_id, full in Carer.objects.values_list("family_id", "full_name")
    ]
    found: dict[tuple[int, str], NameMatch] = {}
    for family_id, full, first, who in people:
        if full.strip() and re.search(_word(full), text, re.IGNORECASE):
            found.setdefault((family_id, full), NameMatch(family_id, full, who))
        elif len(first) >= 2 and re.search(_word(first), text):
            found.setdefault((family_id, first), NameMatch(family_id, first, who))
    return sorted(found.values(), key=lambda m: (m.family_id, m.name))
